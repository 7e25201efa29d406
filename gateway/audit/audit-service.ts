import { randomFillSync } from 'node:crypto';
import os from 'node:os';
import type { GatewayConfig } from '../config';
import { serviceUnavailable } from '../fhir/outcomes';
import type { AuditEntry, AuditService } from './contract';
import type { ServiceDeps } from '../service-deps';
import { buildAuditEvents, type AuditBuildContext } from './audit-event';
import { appendRowsReporting } from './audit-store';
import { GroupCommitWriter } from './group-commit';
import { linkRows, relinkRows, storedJson, type AuditRow, type AuditRowContent } from './hash-chain';
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

const idPool = Buffer.alloc(16 * 256);
let idPoolAt = idPool.length;

/**
 * An AuditEvent id: a UUID version 7 (RFC 9562), the millisecond it was made then 74 random bits.
 * Ids of events made one after the other sort together, so each commit adds to one end of the id
 * index instead of to a random page of it for every event (random version-4 ids made a commit of
 * 128 events write about 120 more pages of that index, each written again at the checkpoint, and
 * the more so the bigger the table). The time in it is the event's `recorded` anyway.
 */
export function timeOrderedId(): string {
  if (idPoolAt === idPool.length) {
    randomFillSync(idPool);
    idPoolAt = 0;
  }
  const b = idPool.subarray(idPoolAt, idPoolAt + 16);
  idPoolAt += 16;
  const ms = Date.now();
  b.writeUIntBE(ms, 0, 6);
  b[6] = 0x70 | (b[6] & 0x0f);
  b[8] = 0x80 | (b[8] & 0x3f);
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
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
    newId: timeOrderedId,
  };
}

export function createAuditService(deps: ServiceDeps, opts: AuditServiceOptions = {}): AuditService {
  const { db, config, log, metrics } = deps;
  const ctx = auditBuildContext(config);
  // The head this process committed last: appendRows links onto it without reading it first; the
  // database's chain-head trigger refuses the rows if another instance moved it meanwhile, and
  // appendRows then reads the head under its lock and links again. While other instances append
  // too (the head had moved at the last commit), every commit goes the locked way at once: an
  // attempt without the lock would only be refused, after waiting for the other's commit.
  let lastHead: { seq: number; hash: string } | undefined;
  let contended = false;
  // Where the next request's events link: the end of the chain once everything queued commits.
  // Events are linked (hashed) as they are queued, while the commit before them runs, so a commit
  // goes out as soon as the one before it is done. When a commit went in otherwise (another
  // instance had appended, or it failed), what is queued is linked again onto the real head; while
  // other instances append, nothing is linked ahead (it would be linked again at every commit).
  let tail: { seq: number; hash: string } | undefined;
  const relinkQueued = () => {
    tail = lastHead && !contended ? lastHead : undefined;
    if (tail) writer.forEachQueued((items) => (tail = relinkRows(tail!.seq, tail!.hash, items)));
  };
  const writer = new GroupCommitWriter<AuditRow>(async (rows) => {
    const done = metrics.auditWriteDuration.startTimer();
    try {
      const appended = await appendRowsReporting(db, rows, lastHead, { contended, linked: rows });
      const last = appended.rows.at(-1)!; // the writer never commits an empty batch
      lastHead = { seq: last.seq, hash: last.hash };
      const wasContended = contended;
      contended = appended.locked && appended.moved;
      if (appended.rows !== rows || !tail || wasContended !== contended) relinkQueued();
      metrics.auditEvents.inc(rows.length);
    } catch (e) {
      lastHead = undefined;
      tail = undefined;
      // the error's code and message only: driver details may quote values
      const err = e as { code?: string; message?: string };
      log.error({ code: err.code, err: errorForLog(e), events: rows.length }, 'audit write failed');
      throw e;
    } finally {
      done();
    }
  }, opts.maxBatch ?? 5000);
  let closed = false;

  /** builds the request's events, links them onto the tail when it is known, and queues them */
  const submit = (entry: AuditEntry): Promise<void> => {
    let rows: AuditRow[];
    try {
      const contents = buildAuditEvents(entry, ctx).map(toAuditRow);
      if (tail) {
        rows = linkRows(tail.seq, tail.hash, contents);
        tail = { seq: rows.at(-1)!.seq, hash: rows.at(-1)!.hash };
      } else {
        // not linked ahead (seq 0): appendRows links them at their commit
        rows = contents.map((c) => ({ ...c, seq: 0, prev_hash: '', hash: '' }));
      }
    } catch (e) {
      metrics.auditFailures.inc();
      log.error({ err: errorForLog(e) }, 'audit event could not be built');
      throw serviceUnavailable('The audit record could not be stored', 'audit-unavailable');
    }
    return writer.submit(rows);
  };

  return {
    async recordRequest(entry: AuditEntry): Promise<void> {
      if (closed) throw serviceUnavailable('The audit trail is shutting down', 'audit-unavailable');
      // the events are held by the writer's queue only, not by this frame while it waits
      const committed = submit(entry);
      try {
        await committed;
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
