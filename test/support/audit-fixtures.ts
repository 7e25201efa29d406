import { parseConfig, type GatewayConfig } from '../../gateway/config';
import { AccessRecord, systemClock, type Requester } from '../../gateway/context';
import type { FhirRequest, Route } from '../../gateway/http/route';
import { silentLogger } from '../../gateway/logger';
import { createMetrics } from '../../gateway/metrics';
import type { ServiceDeps } from '../../gateway/service-deps';
import type { AuditEntry } from '../../gateway/audit/contract';
import type { Db } from '../../gateway/storage/db';
import { buildAuditEvents } from '../../gateway/audit/audit-event';
import { auditBuildContext, toAuditRow } from '../../gateway/audit/audit-service';
import { appendRows, chainHead } from '../../gateway/audit/audit-store';
import type { AuditRowContent } from '../../gateway/audit/hash-chain';

/** Requests, requesters and configuration for the audit suites, built at the domain level. */

export const PUBLIC_BASE = 'http://127.0.0.1:8080';
export const CANONICAL = 'https://hie.xzq.example/fhir';

const JWKS = { keys: [{ kty: 'RSA', kid: 'k1', n: 'AQAB', e: 'AQAB' }] };

export function auditTestConfig(): GatewayConfig {
  return parseConfig({
    publicBaseUrl: PUBLIC_BASE,
    hospitals: [
      { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '350200', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
      { id: 'qz-fy', name: '泉州市第一医院', city: '350500', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } },
    ],
    clients: [
      { id: 'xm-zsh-his', name: '中山医院 HIS', hospital: 'xm-zsh', roles: ['clinician', 'registrar'], jwks: JWKS },
      { id: 'audit-office', roles: ['auditor'], jwks: JWKS },
    ],
  });
}

export function auditTestDeps(db: Db, config = auditTestConfig()): ServiceDeps {
  return { config, db, reader: db, clock: systemClock, log: silentLogger(), metrics: createMetrics() };
}

export const DOCTOR_ROLE = { system: 'urn:oid:2.16.156.10011.2.3.3.1', code: '221', display: '临床医师' };

export function clinician(over: Partial<Requester> = {}): Requester {
  return {
    clientId: 'xm-zsh-his',
    hospitalId: 'xm-zsh',
    roles: ['clinician'],
    scopes: ['system/DiagnosticReport.rs'],
    user: { id: 'D1029', name: '林医生', roles: [DOCTOR_ROLE] },
    purposeOfUse: 'TREAT',
    tokenId: 'jti-1',
    ...over,
  };
}

export function auditor(over: Partial<Requester> = {}): Requester {
  return { clientId: 'audit-office', roles: ['auditor'], scopes: ['system/AuditEvent.rs'], purposeOfUse: 'HOPERAT', ...over };
}

let seq = 0;
export function request(opts: {
  method?: string;
  url: string;
  requester?: Requester;
  body?: unknown;
  requestId?: string;
  interaction?: string;
  headers?: Record<string, string>;
  query?: Record<string, string[]>;
  params?: Record<string, string>;
}): FhirRequest {
  const record = new AccessRecord(opts.requestId ?? `req-${process.pid}-${++seq}`);
  if (opts.interaction) record.interaction = opts.interaction;
  return {
    method: opts.method ?? 'GET',
    params: opts.params ?? {},
    query: opts.query ?? queryOf(opts.url),
    body: opts.body,
    headers: opts.headers ?? {},
    requester: opts.requester,
    record,
    originalUrl: opts.url,
    remoteAddress: '127.0.0.1',
  };
}

export function queryOf(url: string): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  const i = url.indexOf('?');
  if (i < 0) return out;
  for (const [k, v] of new URLSearchParams(url.slice(i + 1))) (out[k] ??= []).push(v);
  return out;
}

export function entry(req: FhirRequest, status: number, opts: { route?: Route; claimedClientId?: string; at?: Date } = {}): AuditEntry {
  return {
    route: opts.route,
    req,
    status,
    requester: req.requester,
    claimedClientId: opts.claimedClientId ?? req.record.claimedClientId,
    at: opts.at ?? new Date('2025-03-01T08:00:00.000Z'),
  };
}

/** A search by a clinician that touched `patients` and got results from `hospitals`. */
export function searchEntry(patients: string[], hospitals: string[] = ['xm-zsh'], over: { requester?: Requester; status?: number; at?: Date; requestId?: string } = {}): AuditEntry {
  const req = request({
    url: `/DiagnosticReport?patient=${patients.join(',')}&category=LAB`,
    requester: over.requester ?? clinician(),
    interaction: 'search-type',
    requestId: over.requestId,
  });
  req.record.resourceType = 'DiagnosticReport';
  for (const p of patients) req.record.addPatient(p);
  for (const h of hospitals) req.record.hospitalsReturned.add(h);
  return entry(req, over.status ?? 200, { at: over.at });
}

/** patients the filled events are spread over, and events a filling transaction holds */
export const FILL_PATIENTS = 20_000;
const FILL_BATCH = 10_000;

/** Fill the store up to `total` events, through the real builder and chained append (the benchmark's million, a test's few thousand). */
export async function fillAuditStore(db: Db, total: number): Promise<void> {
  const ctx = auditBuildContext(auditTestConfig());
  let have = (await chainHead(db)).seq;
  const t0 = Date.now();
  let n = 0;
  while (have < total) {
    const batch: Omit<AuditRowContent, 'seq'>[] = [];
    const size = Math.min(FILL_BATCH, total - have);
    const at = new Date(Date.UTC(2024, 0, 1) + have * 30_000);
    for (let i = 0; i < size; i++) {
      n++;
      const e = searchEntry([`p${n % FILL_PATIENTS}`], n % 3 ? ['xm-zsh'] : ['xm-zsh', 'qz-fy'], {
        requestId: `fill-${n}`,
        at: new Date(at.getTime() + i * 30_000),
        requester: n % 50 ? clinician() : clinician({ purposeOfUse: 'ETREAT' }),
        status: n % 20 ? 200 : 403,
      });
      for (const b of buildAuditEvents(e, ctx)) batch.push(toAuditRow(b));
    }
    await appendRows(db, batch);
    have += batch.length;
    if (process.env.BENCH_VERBOSE) process.stderr.write(`filled ${have} (${Math.round((have * 1000) / (Date.now() - t0 + 1))}/s)\n`);
  }
}
