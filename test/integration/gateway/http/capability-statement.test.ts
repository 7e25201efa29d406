import type { Bundle, CapabilityStatement, CapabilityStatementRestResource, Consent, Extension, OperationOutcome, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { checkCharacter, NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { registrarConsent } from '../../../support/consent-http';
import { testDatabases, type TestDb } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * `GET /metadata` says exactly what works (issue #14, finding 3), over the demo network with real
 * tokens: every interaction and operation it declares answers (2xx) a real request of a client
 * whose role fits, with real ids; every search parameter it declares is accepted under
 * `Prefer: handling=strict`; the routes that exist only to refuse (the AuditEvent writes, DELETE
 * /Consent: 405) are not declared; and what API.md (../shared/docs/API.md) promises is there.
 */
const FULL = '350203196203151595'; // DC001: permit, every hospital; results at xm-dyyy, qz-fey, zz-syy, xm-zyy
const HIS = 'xm-zsh-his'; // clinician + registrar of xm-zsh, where FULL has no results of its own
const REGISTRAR = 'xm-dyyy-his'; // registrar of xm-dyyy, where FULL has a record (a registrar records its own patients' consents)
const AUDITOR = 'audit-office';
const FHIR_JSON = 'application/fhir+json';
const STRICT = 'handling=strict';
const RESULT_TYPES = ['DiagnosticReport', 'Observation', 'ImagingStudy'];

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';
interface Call {
  client: string;
  method: Method;
  url: string;
  /** FHIR JSON body */
  body?: unknown;
  /** x-www-form-urlencoded body (`_search`) */
  form?: Record<string, string>;
}

/** What API.md promises the statement declares (it may declare more). */
const CONTRACT: Record<string, { interactions: string[]; params?: string[]; operations?: string[]; include?: string[] }> = {
  Organization: { interactions: ['read', 'search-type'] },
  Patient: { interactions: ['read', 'search-type'], params: ['identifier'], operations: ['ihe-pix', 'recognition', 'recognition-decision'] },
  DiagnosticReport: {
    interactions: ['read', 'search-type'],
    params: ['patient', 'patient.identifier', 'category', 'code', 'date', 'status', 'hospital', '_count', '_sort'],
    include: ['DiagnosticReport:result'],
  },
  Observation: { interactions: ['read', 'search-type'], params: ['patient', 'patient.identifier', 'code', 'category', 'date', 'hospital', '_count', '_sort'] },
  ImagingStudy: { interactions: ['read', 'search-type'], params: ['patient', 'patient.identifier', 'modality', 'started', 'hospital', '_count', '_sort'] },
  Consent: { interactions: ['create', 'search-type', 'read', 'update'], params: ['patient'] },
  AuditEvent: { interactions: ['read', 'search-type'], params: ['patient', 'agent', 'date', 'outcome', 'purpose', 'subtype', '_count'], operations: ['verify'] },
};
const CONTRACT_SYSTEM_OPERATIONS = ['recognition-stats'];

describe.each(testDatabases())('the CapabilityStatement on %s', (_name, open) => {
  let t: TestDb;
  let net: DemoNetwork;
  let statement: CapabilityStatement;
  const tokens = new Map<string, string>();
  const token = async (client: string) => {
    if (!tokens.has(client)) tokens.set(client, await net.token(client, client === AUDITOR ? { user: { id: 'A1', name: '审计员' } } : {}));
    return tokens.get(client)!;
  };

  let patientId: string;
  /** 林秀英, whom xm-zsh knows: merged into FULL and back by the $merge / $unmerge calls */
  let otherPatientId: string;
  const resultIds: Record<string, string> = {};
  let consent: Consent;
  let auditEventId: string;
  let requestId: string;
  /** a result of another hospital with a catalogue item, for $recognition-decision */
  let offered: { ref: string; item: string };

  async function send(call: Call): Promise<request.Response> {
    let r = request(net.app)[call.method](call.url).set('Accept', FHIR_JSON).set('Authorization', `Bearer ${await token(call.client)}`);
    if (call.form) return r.type('form').send(call.form);
    if (call.body !== undefined) r = r.set('Content-Type', FHIR_JSON).send(JSON.stringify(call.body));
    return r;
  }
  const get = (client: string, url: string) => send({ client, method: 'get', url });
  async function getStrict(client: string, url: string): Promise<request.Response> {
    return request(net.app).get(url).set('Accept', FHIR_JSON).set('Prefer', STRICT).set('Authorization', `Bearer ${await token(client)}`);
  }
  const matches = (b: Bundle) => (b.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!);

  beforeAll(async () => {
    t = await open();
    net = await startDemoNetwork({ db: t });
    const meta = await request(net.app).get('/metadata').set('Accept', FHIR_JSON);
    expect(meta.status).toBe(200);
    statement = meta.body as CapabilityStatement;

    const found = await get(HIS, `/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${FULL}`)}`);
    patientId = matches(found.body as Bundle)[0].id!;
    const other = await get(HIS, `/Patient?identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|350503195807224662`)}`);
    otherPatientId = matches(other.body as Bundle)[0].id!;
    const recognitionUrl = `${net.config.canonicalBase}/StructureDefinition/recognition`;
    for (const type of RESULT_TYPES) {
      const res = await get(HIS, `/${type}?patient=${patientId}&_count=200`);
      const rs = matches(res.body as Bundle) as Array<Resource & { extension?: Extension[] }>;
      resultIds[type] = rs[0].id!;
      for (const r of rs) {
        const item = r.extension?.find((e) => e.url === recognitionUrl)?.extension?.find((e) => e.url === 'item')?.valueCoding?.code;
        const own = r.meta?.source?.endsWith('/Organization/xm-zsh');
        if (!offered && item && !own && type !== 'Observation') offered = { ref: `${type}/${r.id}`, item };
      }
    }
    expect(offered).toBeDefined();
    const posted = await send({ client: REGISTRAR, method: 'post', url: '/Consent', body: registrarConsent(patientId, { type: 'permit' }) });
    if (posted.status !== 201) throw new Error(`POST /Consent: ${posted.status} ${JSON.stringify(posted.body)}`);
    consent = posted.body as Consent;
    const trail = await get(AUDITOR, '/AuditEvent?_count=1');
    auditEventId = matches(trail.body as Bundle)[0].id!;
    requestId = trail.headers['x-request-id'];
  }, 60_000);
  afterAll(async () => {
    await net?.close();
    await t?.close();
  });

  const resources = () => statement.rest![0].resource ?? [];
  const resource = (type: string) => resources().find((r) => r.type === type);
  const codes = (r: CapabilityStatementRestResource | undefined) => (r?.interaction ?? []).map((i) => i.code);

  /** Real requests for one declared interaction of one resource, or undefined when the test knows none. */
  const fedPatient = (mrn: string) => ({
    resourceType: 'Patient',
    identifier: [
      { system: NATIONAL_ID_SYSTEM, value: `35020319900101111${checkCharacter('35020319900101111')}` },
      { system: `${net.config.canonicalBase}/sid/mrn/xm-zsh`, value: mrn },
    ],
  });

  function interactionCalls(type: string, code: string): Call[] | undefined {
    const enc = encodeURIComponent;
    if (RESULT_TYPES.includes(type)) {
      if (code === 'read') return [{ client: HIS, method: 'get', url: `/${type}/${resultIds[type]}` }];
      if (code === 'search-type') {
        return [
          { client: HIS, method: 'get', url: `/${type}?patient=${patientId}` },
          { client: HIS, method: 'post', url: `/${type}/_search`, form: { patient: patientId } },
        ];
      }
    }
    const nid = `${NATIONAL_ID_SYSTEM}|${FULL}`;
    const table: Record<string, Call[]> = {
      'Patient read': [{ client: HIS, method: 'get', url: `/Patient/${patientId}` }],
      'Patient search-type': [
        { client: HIS, method: 'get', url: `/Patient?identifier=${enc(nid)}` },
        { client: HIS, method: 'post', url: '/Patient/_search', form: { identifier: nid } },
      ],
      // the identity feed: xm-zsh adds a resident under its record number, then corrects the number
      'Patient create': [{ client: HIS, method: 'post', url: '/Patient', body: fedPatient('ZS-CAP-1') }],
      'Patient update': [{ client: HIS, method: 'put', url: `/Patient?identifier=${enc(`${net.config.canonicalBase}/sid/mrn/xm-zsh|ZS-CAP-1`)}`, body: fedPatient('ZS-CAP-2') }],
      'Organization read': [{ client: HIS, method: 'get', url: '/Organization/xm-dyyy' }],
      'Organization search-type': [{ client: HIS, method: 'get', url: '/Organization' }],
      'Consent create': [{ client: REGISTRAR, method: 'post', url: '/Consent', body: registrarConsent(patientId, { type: 'permit' }) }],
      'Consent search-type': [{ client: REGISTRAR, method: 'get', url: `/Consent?patient=${patientId}` }],
      'Consent read': [{ client: REGISTRAR, method: 'get', url: `/Consent/${consent.id}` }],
      'Consent update': [{ client: REGISTRAR, method: 'put', url: `/Consent/${consent.id}`, body: { ...consent, dateTime: '2026-11-29T09:00:00+08:00' } }],
      'Consent history-instance': [{ client: REGISTRAR, method: 'get', url: `/Consent/${consent.id}/_history` }],
      'Consent vread': [{ client: REGISTRAR, method: 'get', url: `/Consent/${consent.id}/_history/1` }],
      'AuditEvent read': [{ client: AUDITOR, method: 'get', url: `/AuditEvent/${auditEventId}` }],
      'AuditEvent search-type': [
        { client: AUDITOR, method: 'get', url: `/AuditEvent?patient=${patientId}` },
        { client: AUDITOR, method: 'post', url: '/AuditEvent/_search', form: { _count: '5' } },
      ],
    };
    return table[`${type} ${code}`];
  }

  /** Real requests for one declared operation (`type` undefined: system level). */
  function mergeAndBack(): Call[] {
    const ref = (id: string) => ({ reference: `Patient/${id}` });
    const reason = { name: 'reason', valueString: 'capability test' };
    return [
      { client: HIS, method: 'post', url: '/Patient/$merge', body: { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(otherPatientId) }, { name: 'target-patient', valueReference: ref(patientId) }, reason] } },
      { client: HIS, method: 'post', url: '/Patient/$unmerge', body: { resourceType: 'Parameters', parameter: [{ name: 'source-patient', valueReference: ref(otherPatientId) }, reason] } },
    ];
  }

  function operationCalls(type: string | undefined, name: string): Call[] | undefined {
    const table: Record<string, Call[]> = {
      'Patient $ihe-pix': [{ client: HIS, method: 'get', url: `/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${FULL}`)}` }],
      'Patient $recognition': [{ client: HIS, method: 'get', url: `/Patient/${patientId}/$recognition?item=CBC&item=${offered.item}` }],
      'Patient $recognition-decision': [
        {
          client: HIS,
          method: 'post',
          url: `/Patient/${patientId}/$recognition-decision`,
          body: {
            resourceType: 'Parameters',
            parameter: [
              { name: 'item', valueCode: offered.item },
              { name: 'result', valueReference: { reference: offered.ref } },
              { name: 'decision', valueCode: 'retested' },
              { name: 'reason', valueCode: 'patient-request' },
            ],
          },
        },
      ],
      // a merge of a resident xm-zsh knows into FULL and its undoing: each list leaves the index as it was
      'Patient $access-report': [{ client: HIS, method: 'get', url: `/Patient/${otherPatientId}/$access-report?from=2026-11-01&to=2026-11-29` }],
      'Patient $merge': mergeAndBack(),
      'Patient $unmerge': mergeAndBack(),
      'AuditEvent $verify': [{ client: AUDITOR, method: 'get', url: '/AuditEvent/$verify' }],
      'AuditEvent $checkpoints': [{ client: AUDITOR, method: 'get', url: '/AuditEvent/$checkpoints' }],
      'system $recognition-stats': [{ client: AUDITOR, method: 'get', url: '/$recognition-stats?from=2026-11&to=2026-11' }],
    };
    return table[`${type ?? 'system'} $${name}`];
  }

  /** A realistic value for each declared search parameter, with what else the search needs. */
  function searchQuery(type: string, name: string): Record<string, string> | undefined {
    if (RESULT_TYPES.includes(type)) {
      const alone: Record<string, string> = {
        patient: patientId,
        subject: `Patient/${patientId}`,
        'patient.identifier': `${NATIONAL_ID_SYSTEM}|${FULL}`,
        'subject.identifier': `${NATIONAL_ID_SYSTEM}|${FULL}`,
      };
      if (alone[name]) return { [name]: alone[name] };
      const dateName = type === 'ImagingStudy' ? 'started' : 'date';
      const withPatient: Record<string, string> = {
        _id: resultIds[type],
        category: type === 'Observation' ? 'laboratory' : 'LAB',
        code: type === 'Observation' ? 'http://loinc.org|718-7' : 'http://loinc.org|58410-2',
        date: 'ge2025-01-01',
        started: 'ge2025-01-01',
        status: 'final',
        modality: 'http://dicom.nema.org/resources/ontology/DCM|CT',
        hospital: 'xm-dyyy,zz-syy',
        _sort: dateName,
        _count: '10',
      };
      return withPatient[name] === undefined ? undefined : { patient: patientId, [name]: withPatient[name] };
    }
    const table: Record<string, Record<string, Record<string, string>>> = {
      Patient: {
        identifier: { identifier: `${NATIONAL_ID_SYSTEM}|${FULL}` },
        _id: { _id: patientId },
        // only together (docs/patient-data.md §7)
        name: { name: '陈建国', birthdate: '1962-03-15' },
        birthdate: { name: '陈建国', birthdate: '1962-03-15' },
      },
      Organization: { _id: { _id: 'xm-zsh' }, city: { city: '350200' }, grade: { grade: '3A' }, name: { name: '中山' } },
      Consent: { patient: { patient: patientId }, status: { patient: `Patient/${patientId}`, status: 'active' } },
      AuditEvent: {
        patient: { patient: patientId },
        agent: { agent: HIS },
        date: { date: 'ge2026-11-01' },
        outcome: { outcome: '0' },
        purpose: { purpose: 'TREAT' },
        subtype: { subtype: 'read' },
        'request-id': { 'request-id': requestId },
        _count: { _count: '5' },
      },
    };
    return table[type]?.[name];
  }
  const searchClient = (type: string) => (type === 'AuditEvent' ? AUDITOR : type === 'Consent' ? REGISTRAR : HIS);

  it('is valid FHIR R4, open, and names the SMART security service', async () => {
    expectValidFhir(statement);
    expect(statement).toMatchObject({ resourceType: 'CapabilityStatement', status: 'active', kind: 'instance', fhirVersion: '4.0.1' });
    const security = statement.rest![0].security!;
    expect(security.service?.flatMap((s) => s.coding ?? [])).toContainEqual({
      system: 'http://terminology.hl7.org/CodeSystem/restful-security-service',
      code: 'SMART-on-FHIR',
    });
    const oauth = security.extension?.find((e) => e.url === 'http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris');
    expect(oauth?.extension).toContainEqual({ url: 'token', valueUri: `${net.config.publicBaseUrl}/auth/token` });
    // people sign in to the console (docs/users.md)
    expect(oauth?.extension).toContainEqual({ url: 'authorize', valueUri: `${net.config.publicBaseUrl}/auth/authorize` });
    expect(oauth?.extension).toContainEqual({ url: 'revoke', valueUri: `${net.config.publicBaseUrl}/auth/revoke` });
  });

  it('declares what API.md promises: every resource, interaction, search parameter and operation', () => {
    for (const [type, want] of Object.entries(CONTRACT)) {
      const r = resource(type);
      expect([type, codes(r)]).toEqual([type, expect.arrayContaining(want.interactions)]);
      expect([type, (r?.searchParam ?? []).map((p) => p.name)]).toEqual([type, expect.arrayContaining(want.params ?? [])]);
      expect([type, (r?.operation ?? []).map((o) => o.name)]).toEqual([type, expect.arrayContaining(want.operations ?? [])]);
      expect([type, r?.searchInclude ?? []]).toEqual([type, expect.arrayContaining(want.include ?? [])]);
    }
    expect((statement.rest![0].operation ?? []).map((o) => o.name)).toEqual(expect.arrayContaining(CONTRACT_SYSTEM_OPERATIONS));
  });

  it('declares AuditEvent read and search-type only, and no Consent delete: those routes only refuse (405)', () => {
    expect(codes(resource('AuditEvent')).sort()).toEqual(['read', 'search-type']);
    expect((resource('AuditEvent')?.operation ?? []).map((o) => o.name)).toEqual(['verify', 'checkpoints']);
    expect(codes(resource('Consent'))).not.toContain('delete');
    for (const r of resources()) expect([r.type, codes(r)]).toEqual([r.type, expect.not.arrayContaining(['delete', 'patch'])]);
  });

  it('every declared interaction and operation answers a real request (never 404, 405 or 500)', async () => {
    const failures: string[] = [];
    const unexercised: string[] = [];
    let calls = 0;
    const exercise = async (label: string, list: Call[] | undefined) => {
      if (!list) return void unexercised.push(label);
      for (const call of list) {
        const res = await send(call);
        calls++;
        const what = `${label}: ${call.method.toUpperCase()} ${call.url} as ${call.client} → ${res.status}`;
        if (res.status < 200 || res.status >= 300 || [404, 405, 500].includes(res.status)) {
          failures.push(`${what} ${JSON.stringify((res.body as OperationOutcome).issue?.[0] ?? res.body).slice(0, 300)}`);
        }
        if (res.body && typeof res.body === 'object' && 'resourceType' in res.body) expectValidFhir(res.body as Resource);
      }
    };
    for (const r of resources()) {
      for (const i of r.interaction ?? []) await exercise(`${r.type} ${i.code}`, interactionCalls(r.type, i.code));
      for (const op of r.operation ?? []) await exercise(`${r.type} $${op.name}`, operationCalls(r.type, op.name));
    }
    for (const op of statement.rest![0].operation ?? []) await exercise(`system $${op.name}`, operationCalls(undefined, op.name));
    expect(unexercised).toEqual([]);
    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThanOrEqual(25);
  }, 60_000);

  it('every declared search parameter is one the search accepts and applies without complaint under Prefer: handling=strict', async () => {
    const failures: string[] = [];
    const noValue: string[] = [];
    let checked = 0;
    for (const r of resources()) {
      for (const p of r.searchParam ?? []) {
        const query = searchQuery(r.type, p.name);
        if (!query) {
          noValue.push(`${r.type}.${p.name}`);
          continue;
        }
        const url = `/${r.type}?${new URLSearchParams(query).toString()}`;
        const res = await getStrict(searchClient(r.type), url);
        checked++;
        if (res.status !== 200) {
          failures.push(`${r.type}.${p.name}: GET ${url} → ${res.status} ${JSON.stringify((res.body as OperationOutcome).issue?.[0] ?? '').slice(0, 300)}`);
        } else {
          expectValidFhir(res.body);
        }
      }
    }
    expect(noValue).toEqual([]);
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(40);
  }, 60_000);

  it('strict handling does refuse a parameter the statement does not declare, so the check above means something', async () => {
    for (const [type, query] of [
      ['Organization', 'colour=red'],
      ['DiagnosticReport', `patient=${patientId}&colour=red`],
      ['AuditEvent', 'colour=red'],
    ]) {
      expect(resource(type)!.searchParam!.map((p) => p.name)).not.toContain('colour');
      const res = await getStrict(searchClient(type), `/${type}?${query}`);
      expect([type, res.status]).toEqual([type, 400]);
      expect(JSON.stringify(res.body)).toContain('unknown-parameter');
    }
  });

  it('the route table and the statement agree: each route that serves is declared, each that only refuses answers 405', async () => {
    const declared = new Set<string>();
    for (const r of resources()) {
      for (const i of r.interaction ?? []) declared.add(`${r.type} ${i.code}`);
      for (const o of r.operation ?? []) declared.add(`${r.type} $${o.name}`);
    }
    for (const o of statement.rest![0].operation ?? []) declared.add(`system $${o.name}`);
    const undeclared: string[] = [];
    const refusing: string[] = [];
    for (const route of net.gateway.routes) {
      const label = `${route.method} ${route.path}`;
      if (route.refusesAll) {
        const url = route.path.replace(':id', route.resourceType === 'Consent' ? consent.id! : auditEventId);
        const res = await send({ client: HIS, method: route.method.toLowerCase() as Method, url });
        expect([label, res.status]).toEqual([label, 405]);
        expectValidFhir(res.body);
        refusing.push(label);
        continue;
      }
      // DICOMweb (PS3.18, not FHIR) is announced by each ImagingStudy's endpoint, not by the CapabilityStatement
      if (route.path.startsWith('/dicomweb/')) continue;
      const key = route.interaction.startsWith('$') ? `${route.resourceType ?? 'system'} ${route.interaction}` : `${route.resourceType} ${route.interaction}`;
      if (route.resourceType || route.interaction.startsWith('$')) if (!declared.has(key)) undeclared.push(`${label} (${key})`);
    }
    expect(undeclared).toEqual([]);
    // the eight AuditEvent writes and the two DELETE /Consent
    expect(refusing).toHaveLength(10);
  }, 60_000);
});
