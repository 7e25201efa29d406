import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Request, RequestHandler, Response } from 'express';
import { AccessRecord } from '../context';
import { gatewayBusy, notFound, serverError, serviceUnavailable } from '../fhir/outcomes';
import type { AuditService } from '../audit/contract';
import type { AuthService } from '../auth/contract';
import type { GatewayConfig } from '../config';
import type { Clock } from '../context';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics';
import { waitsForAdmission, type AdmissionGate } from './admission';
import { unreleasedIn } from '../patient-data/release';
import { readFormBody, readJsonBody, parseParams, refuseNul } from './request-body';
import { errorResponse, prepare, prepareYielding, send, type PreparedResponse } from './respond';
import type { FhirRequest, FhirResponse, Route } from './route';
import { errorForLog } from '../log-safe';

/** What the HTTP layer itself uses: no path to patient data (routes are given theirs). */
export interface HttpDeps {
  config: GatewayConfig;
  clock: Clock;
  log: Logger;
  metrics: Metrics;
  auth: AuthService;
  audit: AuditService;
  /** per-client request limit; absent when not configured */
  rateLimiter?: { take(clientId: string): void };
  /** how many requests this process works on at once (admission.ts); absent: no limit */
  admission?: AdmissionGate;
}

/**
 * Runs one route for one request, in the order every route shares (OpenHIM's pipeline idea):
 * authenticate → authorize → read the body → handler → audit → respond. Nothing is sent before
 * its audit record is stored; if that fails, the answer is 503 and carries no data (API.md §7).
 */
export function dispatcher(route: Route | undefined, services: HttpDeps): RequestHandler {
  const { auth, audit, log, metrics, clock, config } = services;
  const routeLabel = route ? route.path : 'unmatched';
  const limiter = services.rateLimiter;
  /** The handler's answer, or the OperationOutcome of what it threw. */
  const answer = async (fr: FhirRequest, req: Request, res: Response, turn: Turn): Promise<FhirResponse | typeof LEFT> => {
    try {
      if (!route) {
        // Name the caller in the audit trail when it sent a usable token; the answer is 404 either way.
        fr.requester = await auth.authenticate(req.headers.authorization).catch(() => undefined);
        throw notFoundRoute(req);
      }
      refuseNul(fr.query, fr.params);
      if (route.access.kind === 'token') {
        fr.requester = await auth.authenticate(req.headers.authorization);
        // People share their app's client id: each person has their own allowance.
        limiter?.take(fr.requester.username ? `${fr.requester.clientId}/${fr.requester.username}` : fr.requester.clientId);
        auth.authorize(fr.requester, route.access);
      } else if (route.access.kind === 'cds-client') {
        const service = `${config.publicBaseUrl.replace(/\/+$/, '')}/cds-services/${encodeURIComponent(fr.params.id ?? '')}`;
        // The service's URL (discovery names it), or the URL the request was sent to (its feedback).
        const own = `${config.publicBaseUrl.replace(/\/+$/, '')}${req.path}`;
        fr.requester = await auth.authenticateCdsClient(req.headers.authorization, [...new Set([service, own])]);
        limiter?.take(fr.requester.clientId);
        auth.authorize(fr.requester, route.access);
      }
      const bodyKind = route.body ?? (req.method === 'POST' || req.method === 'PUT' ? 'json' : 'none');
      if (bodyKind === 'json') fr.body = await readJsonBody(req);
      else if (bodyKind === 'form') {
        const form = await readFormBody(req);
        // A repeated parameter stays an array, so the OAuth endpoint can refuse it (RFC 6749 §3.1).
        fr.body = Object.fromEntries(Object.entries(form).map(([k, v]) => [k, v.length === 1 ? v[0] : v]));
        if (route.interaction === 'search-type') for (const [k, v] of Object.entries(form)) (fr.query[k] ??= []).push(...v);
        refuseNul(form, {});
      }
      // The handler's turn comes after authentication and the body, so a slow client holds no place.
      if (gate) {
        if (!(await takeTurn(gate, req, res))) return LEFT;
        turn.held = true;
      }
      const response = await route.handler(fr);
      // Patient data goes out only as released by the guarded path (patient-data/release.ts).
      const unreleased = typeof response.body === 'object' ? unreleasedIn(response.body) : undefined;
      if (unreleased) {
        metrics.unreleasedRefused.inc();
        log.error({ requestId: fr.record.requestId, route: route.path, resourceType: unreleased }, 'unreleased patient data refused');
        throw serverError();
      }
      return response;
    } catch (e) {
      return errorResponse(e, log, config.canonicalBase, fr.record.requestId);
    }
  };
  /**
   * The answer's bytes; a body that cannot be serialised (a bug) still gets an OperationOutcome,
   * never Express's page. Alone, the answer is encoded with turns of the event loop so its audit
   * INSERT's steps go on meanwhile (prepareYielding); when other requests are being answered there
   * is always other work for those turns, and encoding in one go lets the answer's objects die
   * young instead of surviving into the old generation (measured: 15 % more throughput at 64
   * connections, nothing lost at one).
   */
  const prepareSafely = async (response: FhirResponse, requestId: string): Promise<PreparedResponse> => {
    try {
      return answering > 1 ? prepare(response) : await prepareYielding(response);
    } catch (e) {
      return prepare(errorResponse(e, log, config.canonicalBase, requestId));
    }
  };
  // Only what may read patient data waits its turn (admission.ts): routes with nothing to audit, and
  // metrics scrapes, never queue behind searches, so a load balancer sees a busy gateway as it is.
  const gate = waitsForAdmission(route) ? services.admission : undefined;
  return async (req: Request, res: Response) => {
    answering++;
    const turn: Turn = { held: false };
    try {
      await dispatch(req, res, turn);
    } finally {
      answering--;
      if (turn.held) gate!.leave();
    }
  };
  async function dispatch(req: Request, res: Response, turn: Turn) {
    const started = process.hrtime.bigint();
    const requestId = randomUUID();
    const qIndex = req.originalUrl.indexOf('?');
    const fr: FhirRequest = {
      method: req.method,
      params: (req.params ?? {}) as Record<string, string>,
      query: qIndex >= 0 ? parseParams(req.originalUrl.slice(qIndex + 1)) : Object.create(null),
      body: undefined,
      headers: req.headers as Record<string, string | undefined>,
      record: new AccessRecord(requestId),
      originalUrl: req.originalUrl,
      remoteAddress: req.socket.remoteAddress,
    };
    fr.record.interaction = route?.interaction ?? 'unknown';
    fr.record.resourceType = route?.resourceType;
    const response = await answer(fr, req, res, turn);
    if (response === LEFT) {
      metrics.admissionAbandoned.inc();
      return;
    }
    const recorded =
      !route || route.audited
        ? audit.recordRequest({
            route,
            req: fr,
            status: response.status ?? 200,
            requester: fr.requester,
            claimedClientId: fr.record.claimedClientId,
            at: clock.now(),
          })
        : undefined;
    recorded?.catch(() => undefined); // awaited below; not an unhandled rejection meanwhile
    // The answer is serialised while its audit record is stored, in pieces with a turn of the event
    // loop before each, so the INSERT's steps on the database thread go on meanwhile
    // (jsonBytesYielding). Its objects are then garbage during the wait, rather than 64 answers in
    // flight surviving into the old generation.
    let prepared = await prepareSafely(response, requestId);
    try {
      await recorded;
    } catch (e) {
      log.error({ requestId, err: errorForLog(e) }, 'audit write failed');
      if (prepared.body instanceof Readable) prepared.body.destroy(); // a stream (DICOMweb) is never sent unaudited
      const refused = errorResponse(
        serviceUnavailable('The access could not be recorded in the audit trail; no data was returned', 'audit-unavailable'),
        log,
        config.canonicalBase,
        requestId,
      );
      refused.headers = { ...refused.headers, 'Retry-After': '5' };
      prepared = prepare(refused);
    }
    send(res, prepared, requestId);
    const status = String(prepared.status);
    metrics.httpRequests.inc({ method: req.method, route: routeLabel, status });
    metrics.httpDuration.observe({ method: req.method, route: routeLabel }, Number(process.hrtime.bigint() - started) / 1e9);
  }
}

/**
 * Waits for the request's place at the gate (admission.ts): true once it holds one; false when
 * its client left meanwhile (the place given up or handed back: nothing was read for it, so there
 * is nothing to answer or audit); a 503 `gateway-busy` when too many wait already.
 */
async function takeTurn(gate: AdmissionGate, req: Request, res: Response): Promise<boolean> {
  const admission = gate.enter();
  if (admission === 'now') return true;
  if (admission === 'refused') throw gatewayBusy();
  const left = () => admission.cancel();
  res.once('close', left);
  const admitted = await admission.turn;
  res.off('close', left);
  if (admitted && !req.destroyed && !res.destroyed) return true;
  if (admitted) gate.leave();
  return false;
}

/** Whether a request holds a place of the admission gate, to give back once it is answered. */
interface Turn {
  held: boolean;
}
/** What answer() gives for a request whose client left while it waited its turn. */
const LEFT = Symbol('left');

/** Requests this process is answering now, over every route (see prepareSafely). */
let answering = 0;

// The path is not echoed: it may carry an identifier.
const notFoundRoute = (_req: Request) => notFound('No such endpoint', 'unknown-endpoint');
