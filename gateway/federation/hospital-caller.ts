import type { Logger } from 'pino';
import { AdapterError, type FetchOptions, type HospitalAdapter } from '../../adapters/adapter';
import type { HospitalFailureKind } from '../fhir/outcomes';
import type { Metrics } from '../metrics';

/**
 * Calls one hospital with a hard deadline and a circuit breaker. The deadline is enforced here,
 * not trusted to the adapter: a hospital that hangs costs at most its timeout (API.md §4, issue
 * figures). Circuit state is per instance on purpose: it protects this process's sockets and is
 * not shared state that changes any answer's meaning.
 */

export class HospitalCallError extends Error {
  constructor(
    readonly hospitalId: string,
    readonly kind: HospitalFailureKind,
    readonly reason: string,
  ) {
    super(`${hospitalId}: ${reason}`);
  }
}

export type CircuitState = 'closed' | 'open' | 'half-open';

export interface CircuitOptions {
  /** consecutive failures that open the circuit */
  failureThreshold: number;
  /** how long it stays open before one trial call */
  openMs: number;
}

export const DEFAULT_CIRCUIT: CircuitOptions = { failureThreshold: 5, openMs: 10_000 };

/** One hospital's health as `/healthz` reports it (API.md §8). */
export interface HospitalHealth {
  id: string;
  kind: string;
  state: 'up' | 'down' | 'circuit-open';
  lastError: string | null;
  lastErrorAt: string | null;
  details?: Record<string, unknown>;
}

/**
 * The only holder of a hospital's adapter: the adapter is a private field, reachable only inside
 * {@link call}, so what may call a hospital is decided by who is given the caller — the patient
 * index and the federation, both held by the guarded patient data (gateway/patient-data).
 */
export class HospitalCaller {
  readonly #adapter: HospitalAdapter;
  private failures = 0;
  private openedAt = 0;
  private trialInFlight = false;
  lastError?: string;
  lastErrorAt?: string;

  constructor(
    readonly hospitalId: string,
    adapter: HospitalAdapter,
    private readonly timeoutMs: number,
    private readonly metrics: Metrics,
    private readonly log: Logger,
    private readonly circuit: CircuitOptions = DEFAULT_CIRCUIT,
    private readonly now: () => number = Date.now,
  ) {
    this.#adapter = adapter;
    metrics.circuitState.set({ hospital: hospitalId }, 0);
  }

  /** The adapter kind and state with this caller's circuit and last failure: one rule for health. */
  /** whether the hospital's system can be searched by name and birth date (it holds names) */
  get searchesByName(): boolean {
    return typeof this.#adapter.findNationalIdsByName === 'function';
  }

  health(): HospitalHealth {
    const s = this.#adapter.status();
    const circuit = this.state;
    const state = circuit === 'open' ? 'circuit-open' : s.state === 'down' ? 'down' : this.lastError && circuit !== 'closed' ? 'down' : 'up';
    return {
      id: this.hospitalId,
      kind: this.#adapter.kind,
      state,
      lastError: this.lastError ?? s.lastError ?? null,
      lastErrorAt: this.lastErrorAt ?? s.lastErrorAt ?? null,
      ...(s.details ? { details: s.details } : {}),
    };
  }

  get state(): CircuitState {
    if (this.failures < this.circuit.failureThreshold) return 'closed';
    return this.now() - this.openedAt >= this.circuit.openMs ? 'half-open' : 'open';
  }

  /**
   * Run `work` against the hospital within its timeout. Several adapter calls made for one request
   * (find the patient, then fetch) share one deadline by running inside one `call`.
   */
  async call<T>(operation: string, work: (adapter: HospitalAdapter, opts: FetchOptions) => Promise<T>): Promise<T> {
    const state = this.state;
    if (state === 'open' || (state === 'half-open' && this.trialInFlight)) {
      throw new HospitalCallError(this.hospitalId, 'transient', 'circuit open after repeated failures');
    }
    const trial = state === 'half-open';
    if (trial) this.trialInFlight = true;
    const controller = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        reject(new HospitalCallError(this.hospitalId, 'timeout', `no answer within ${this.timeoutMs} ms`));
      }, this.timeoutMs);
    });
    const end = this.metrics.upstreamDuration.startTimer({ hospital: this.hospitalId, operation });
    try {
      const result = await Promise.race([work(this.#adapter, { signal: controller.signal }), deadline]);
      this.onSuccess();
      return result;
    } catch (e) {
      const err = classify(this.hospitalId, e, controller.signal.aborted);
      this.onFailure(err);
      throw err;
    } finally {
      clearTimeout(timer);
      end();
      if (trial) this.trialInFlight = false;
    }
  }

  private onSuccess(): void {
    // the gauge changes only when the circuit does: every answer of every hospital passes here
    if (this.failures >= this.circuit.failureThreshold) {
      this.log.info({ hospital: this.hospitalId }, 'circuit closed');
      this.metrics.circuitState.set({ hospital: this.hospitalId }, 0);
    }
    this.failures = 0;
  }

  private onFailure(err: HospitalCallError): void {
    this.failures++;
    this.lastError = `${err.kind}: ${err.reason}`;
    this.lastErrorAt = new Date(this.now()).toISOString();
    this.metrics.upstreamFailures.inc({ hospital: this.hospitalId, kind: err.kind });
    if (this.failures >= this.circuit.failureThreshold) {
      if (this.failures === this.circuit.failureThreshold || this.state !== 'open') {
        this.openedAt = this.now();
        this.log.warn({ hospital: this.hospitalId, kind: err.kind }, 'circuit open');
      }
      this.metrics.circuitState.set({ hospital: this.hospitalId }, 1);
    }
    this.log.warn({ hospital: this.hospitalId, kind: err.kind, reason: err.reason }, 'hospital call failed');
  }
}

function classify(hospitalId: string, e: unknown, aborted: boolean): HospitalCallError {
  if (e instanceof HospitalCallError) return e;
  if (e instanceof AdapterError) return new HospitalCallError(hospitalId, e.kind, e.message);
  if (aborted) return new HospitalCallError(hospitalId, 'timeout', 'aborted at the deadline');
  const code = (e as NodeJS.ErrnoException)?.code;
  if (code && /^E(CONNREFUSED|CONNRESET|HOSTUNREACH|PIPE|TIMEDOUT|AI_AGAIN)$/.test(code)) {
    return new HospitalCallError(hospitalId, 'transient', code);
  }
  // Adapter bugs and nonsense answers: the message is ours, never the hospital's payload.
  return new HospitalCallError(hospitalId, 'exception', (e as Error)?.name ?? 'error');
}
