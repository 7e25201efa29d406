import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Resource } from '@medplum/fhirtypes';
import { startFhirHospitalServer, type FhirHospitalServer } from '../../../../fixtures/servers/fhir-hospital-server';
import { initKeyDirectory } from '../../../../gateway/auth/key-source';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { makeTestClient, signClientAssertion, tokenRequestForm, type TestClient } from '../../../support/auth';
import { FHIR_JSON, registrarConsent } from '../../../support/consent-http';
import type { TestDb } from '../../../support/databases';
import type { Answer } from '../../../support/gateway-process';

/**
 * What the scale-out suites share (not a test file): two simulated hospital FHIR servers in the test
 * process, one configuration file every gateway process of a suite reads (one publicBaseUrl, one
 * key folder made by the gateway's own `initKeyDirectory`, one audit anchor), the test clients, and
 * an HTTP caller that remembers the X-Request-Id of every answer it got — the set the audit trail
 * is checked against.
 */

export const PUBLIC_BASE_URL = 'http://gateway.scale.test';
/** the resident of the consent tests: no consent until a test records one */
export const NID_CONSENT = '350203199001010018';
/** the resident of the load tests: consented in the suite's set-up */
export const NID_LOAD = '350503198506150026';

const HOSPITALS = [
  { id: 'xm-h0', name: '厦门测试医院', city: '350200' },
  { id: 'qz-h1', name: '泉州测试医院', city: '350500' },
];

function hospitalData(tag: string): Resource[] {
  return [NID_CONSENT, NID_LOAD].flatMap((nid, i) => {
    const p = `p${i}-${tag}`;
    return [
      { resourceType: 'Patient', id: p, identifier: [{ system: NATIONAL_ID_SYSTEM, value: nid }, { system: `urn:mrn:${tag}`, value: `MR-${i}-${tag}` }] },
      {
        resourceType: 'Observation',
        id: `o${i}-${tag}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }] },
        subject: { reference: `Patient/${p}` },
        effectiveDateTime: '2026-11-25T09:00:00+08:00',
        valueQuantity: { value: 135, unit: 'g/L', system: 'http://unitsofmeasure.org', code: 'g/L' },
      },
      {
        resourceType: 'DiagnosticReport',
        id: `r${i}-${tag}`,
        status: 'final',
        category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }],
        code: { coding: [{ system: 'http://loinc.org', code: '58410-2', display: 'CBC panel' }] },
        subject: { reference: `Patient/${p}` },
        effectiveDateTime: '2026-11-25T09:00:00+08:00',
        issued: '2026-11-25T11:00:00+08:00',
        result: [{ reference: `Observation/o${i}-${tag}` }],
      },
    ] as Resource[];
  });
}

export interface ScaleFixture {
  configFile: string;
  his: TestClient;
  auditor: TestClient;
  hospitals: FhirHospitalServer[];
  /** DATABASE_URL of one gateway instance: the suite's schema, and an application_name naming the instance */
  databaseUrl(instance: string): string;
  /** the application_name {@link databaseUrl} gives an instance: the only connections a fault test may end */
  applicationName(instance: string): string;
  close(): Promise<void>;
}

export async function startScaleFixture(t: TestDb): Promise<ScaleFixture> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-scale-'));
  const hospitals = await Promise.all(HOSPITALS.map((h) => startFhirHospitalServer({ resources: hospitalData(h.id) })));
  const his = makeTestClient({ id: 'scale-his', hospital: HOSPITALS[0].id, roles: ['clinician', 'registrar'] });
  const auditor = makeTestClient({ id: 'scale-audit', roles: ['auditor'] });
  const keys = path.join(dir, 'keys');
  // one key folder for every process: each signs with the newest token key and verifies with all
  await initKeyDirectory({ directory: keys });
  const config = {
    publicBaseUrl: PUBLIC_BASE_URL,
    consent: { default: 'deny' },
    hospitals: HOSPITALS.map((h, i) => ({ ...h, grade: '3A', recognizedItems: ['CBC'], timeoutMs: 3000, adapter: { type: 'fhir', baseUrl: hospitals[i].url } })),
    clients: [his.config, auditor.config],
    keys: { directory: keys },
    audit: { checkpoints: { anchor: { type: 'file', path: path.join(dir, 'audit-checkpoints.jsonl') } } },
  };
  const configFile = path.join(dir, 'gateway.json');
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const schema = t.config.searchPath![0];
  const applicationName = (instance: string) => `xzq-scale-${schema}-${instance}`;
  return {
    configFile,
    his,
    auditor,
    hospitals,
    applicationName,
    databaseUrl: (instance) => `${t.url}&application_name=${encodeURIComponent(applicationName(instance))}`,
    async close() {
      await Promise.all(hospitals.map((h) => h.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Calls gateways over HTTP (fetch: a pool of kept-alive connections per gateway) and remembers
 * every answer's X-Request-Id with its status, as soon as the status line arrived: the gateway
 * sends nothing before the request's audit event is committed, so an answer is an answer even if
 * its body is then cut.
 */
export class Caller {
  readonly answered = new Map<string, { status: number; base: string }>();

  async call(base: string, pathAndQuery: string, opts: { method?: string; token?: string; body?: unknown; form?: Record<string, string> } = {}): Promise<Answer> {
    const headers: Record<string, string> = { accept: FHIR_JSON };
    if (opts.token) headers.authorization = `Bearer ${opts.token}`;
    let body: string | undefined;
    if (opts.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(opts.form).toString();
    } else if (opts.body !== undefined) {
      headers['content-type'] = FHIR_JSON;
      body = JSON.stringify(opts.body);
    }
    const res = await fetch(base + pathAndQuery, { method: opts.method ?? 'GET', headers, body });
    const requestId = res.headers.get('x-request-id') ?? '';
    if (requestId) this.answered.set(requestId, { status: res.status, base });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // not JSON
    }
    return { status: res.status, requestId, body: parsed };
  }

  /** A signed client assertion (a fresh jti unless given) for `client`, as the HIS would make it. */
  assertion(client: TestClient, jti?: string): string {
    return signClientAssertion(client, { aud: `${PUBLIC_BASE_URL}/auth/token`, user: { id: 'D2001', name: '测试医生' }, ...(jti ? { jti } : {}) });
  }

  /** POST /auth/token with that assertion. */
  tokenRequest(base: string, assertion: string): Promise<Answer> {
    return this.call(base, '/auth/token', { method: 'POST', form: tokenRequestForm(assertion) });
  }

  async token(base: string, client: TestClient): Promise<string> {
    const res = await this.tokenRequest(base, this.assertion(client));
    if (res.status !== 200) throw new Error(`token for ${client.id} at ${base}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.access_token as string;
  }

  /** The resident's regional id (registering them in the patient index on first sight). */
  async regionalId(base: string, token: string, nid: string): Promise<string> {
    const res = await this.call(base, `/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${nid}`)}`, { token });
    if (res.status !== 200 || !res.body.entry?.length) throw new Error(`Patient search at ${base}: ${res.status}`);
    return res.body.entry[0].resource.id as string;
  }

  /** Record a full consent for the patient (registrar role); returns the stored Consent. */
  async consent(base: string, token: string, patientId: string): Promise<any> {
    const res = await this.call(base, '/Consent', { method: 'POST', token, body: registrarConsent(patientId) });
    if (res.status !== 201) throw new Error(`consent at ${base}: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body;
  }
}

export const searchPath = (patientId: string) => `/DiagnosticReport?patient=${encodeURIComponent(patientId)}`;

export interface LoadResult {
  base: string;
  status?: number;
  requestId?: string;
  /** resourceType of the answer's body */
  bodyType?: string;
  /** when the request failed at the client (no answer) */
  error?: string;
  /** when the answer (or the failure) came, ms since the epoch */
  at: number;
}

/**
 * `total` GETs of `pathAndQuery` from `concurrency` callers, caller i always at bases[i % n], so the
 * load is split over the gateways; `stop` ends it early. Failures at the client (a killed gateway)
 * are results too, never thrown.
 */
export async function runLoad(caller: Caller, opts: { bases: string[]; pathAndQuery: string; token: string; total: number; concurrency: number; stop?: () => boolean; onResult?: (r: LoadResult) => void }): Promise<LoadResult[]> {
  const results: LoadResult[] = [];
  let issued = 0;
  const worker = async (i: number) => {
    const base = opts.bases[i % opts.bases.length];
    while (issued < opts.total && !opts.stop?.()) {
      issued++;
      let r: LoadResult;
      try {
        const a = await caller.call(base, opts.pathAndQuery, { token: opts.token });
        r = { base, status: a.status, requestId: a.requestId, bodyType: a.body?.resourceType, at: Date.now() };
      } catch (e) {
        r = { base, error: String((e as Error & { cause?: Error }).cause?.message ?? (e as Error).message), at: Date.now() };
      }
      results.push(r);
      opts.onResult?.(r);
    }
  };
  await Promise.all(Array.from({ length: opts.concurrency }, (_, i) => worker(i)));
  return results;
}

/** audit events per request id, read from the shared store directly */
export async function auditCounts(t: TestDb): Promise<{ byRequest: Map<string, number>; withoutRequest: number }> {
  const rows = (await t.db('audit_events').select('request_id').count({ n: '*' }).groupBy('request_id')) as Array<{ request_id: string | null; n: string | number }>;
  const byRequest = new Map<string, number>();
  let withoutRequest = 0;
  for (const r of rows) {
    if (r.request_id === null) withoutRequest += Number(r.n);
    else byRequest.set(r.request_id, Number(r.n));
  }
  return { byRequest, withoutRequest };
}

/** `GET /AuditEvent/$verify` as the auditor: the Parameters' values by name. */
export async function verifyAt(caller: Caller, base: string, auditorToken: string): Promise<Record<string, unknown>> {
  const res = await caller.call(base, '/AuditEvent/$verify', { token: auditorToken });
  if (res.status !== 200) throw new Error(`$verify at ${base}: ${res.status} ${JSON.stringify(res.body)}`);
  const out: Record<string, unknown> = {};
  for (const p of res.body.parameter as Array<Record<string, unknown>>) {
    const key = Object.keys(p).find((k) => k.startsWith('value'));
    out[p.name as string] = key ? p[key] : undefined;
  }
  return out;
}
