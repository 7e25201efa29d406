import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { GatewayConfig } from '../config';
import { serviceUnavailable } from '../fhir/outcomes';
import type { AuditEntry, AuditService } from './contract';
import type { ServiceDeps } from '../service-deps';
import { buildAuditEvents, type AuditBuildContext } from './audit-event';
import { appendRows } from './audit-store';
import { GroupCommitWriter } from './group-commit';
import { storedJson, type AuditRowContent } from './hash-chain';
import { errorForLog } from '../log-safe';
import { registerApps } from '../auth/apps';

/**
 * The audit trail (API.md §7): every answered request becomes IHE BALP AuditEvents, chained and
 * stored durably before `recordRequest` resolves. Writes from every request of this process go
 * through one group-commit writer; instances sharing a database serialise on the chain head.
 */

export interface AuditServiceOptions {
  /** events per transaction at most (default 5000) */
  maxBatch?: number;
}

/** The lookups the event builder needs, from the configuration. */
export function auditBuildContext(config: GatewayConfig): AuditBuildContext {
  const clients = new Map<string, { name?: string; hospital?: string }>(config.clients.map((c) => [c.id, c]));
  for (const app of registerApps(config).values()) clients.set(app.id, { name: app.name });
  const hospitals = new Map(config.hospitals.map((h) => [h.id, h]));
  return {
    canonicalBase: config.canonicalBase,
    publicBaseUrl: config.publicBaseUrl,
    site: os.hostname(),
    clientName: (id) => clients.get(id)?.name,
    clientHospital: (id) => clients.get(id)?.hospital,
    hospitalName: (id) => hospitals.get(id)?.name,
    newId: randomUUID,
  };
}

export function createAuditService(deps: ServiceDeps, opts: AuditServiceOptions = {}): AuditService {
  const { db, config, log, metrics } = deps;
  const ctx = auditBuildContext(config);
  // The head this process committed last: appendRows links onto it without reading it first; the
  // database's chain-head trigger refuses the rows if another instance moved it meanwhile, and
  // appendRows then reads the head under its lock and links again.
  let lastHead: { seq: number; hash: string } | undefined;
  const writer = new GroupCommitWriter<Omit<AuditRowContent, 'seq'>>(async (rows) => {
    const done = metrics.auditWriteDuration.startTimer();
    try {
      const last = (await appendRows(db, rows, lastHead)).at(-1)!; // the writer never commits an empty batch
      lastHead = { seq: last.seq, hash: last.hash };
      metrics.auditEvents.inc(rows.length);
    } catch (e) {
      lastHead = undefined;
      // the error's code and message only: driver details may quote values
      const err = e as { code?: string; message?: string };
      log.error({ code: err.code, err: errorForLog(e), events: rows.length }, 'audit write failed');
      throw e;
    } finally {
      done();
    }
  }, opts.maxBatch ?? 5000);
  let closed = false;

  return {
    async recordRequest(entry: AuditEntry): Promise<void> {
      if (closed) throw serviceUnavailable('The audit trail is shutting down', 'audit-unavailable');
      let rows: Omit<AuditRowContent, 'seq'>[];
      try {
        rows = buildAuditEvents(entry, ctx).map(toAuditRow);
      } catch (e) {
        metrics.auditFailures.inc();
        log.error({ err: errorForLog(e) }, 'audit event could not be built');
        throw serviceUnavailable('The audit record could not be stored', 'audit-unavailable');
      }
      try {
        await writer.submit(rows);
      } catch {
        metrics.auditFailures.inc();
        throw serviceUnavailable('The audit record could not be stored', 'audit-unavailable');
      }
    },
    lastCommittedHead: () => lastHead,
    async close(): Promise<void> {
      closed = true;
      await writer.idle();
    },
  };
}

/** A built event as the row the chain stores (its search columns and its JSON). */
export function toAuditRow(b: ReturnType<typeof buildAuditEvents>[number]): Omit<AuditRowContent, 'seq'> {
  return {
    id: b.resource.id!,
    recorded: b.recorded,
    request_id: b.requestId,
    patient_id: b.patientId,
    client_id: b.clientId,
    user_id: b.userId,
    outcome: b.outcome,
    purpose: b.purpose,
    subtype: b.subtype,
    resource: storedJson(b.resource),
  };
}
