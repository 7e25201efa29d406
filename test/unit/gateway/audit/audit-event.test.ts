import type { AuditEvent, AuditEventAgent, AuditEventEntity } from '@medplum/fhirtypes';
import {
  actionFor,
  buildAuditEvents,
  interactionFor,
  MAX_QUERY_BYTES,
  outcomeFor,
  requestBytes,
  subtypeCodings,
  type AuditBuildContext,
} from '../../../../gateway/audit/audit-event';
import { auditBuildContext } from '../../../../gateway/audit/audit-service';
import { expectValidFhir } from '../../../support/fhir-validation';
import { auditTestConfig, auditor, CANONICAL, clinician, DOCTOR_ROLE, entry, PUBLIC_BASE, request, searchEntry } from '../../../support/audit-fixtures';

let n = 0;
const ctx: AuditBuildContext = { ...auditBuildContext(auditTestConfig()), site: 'test-host', newId: () => `ae-${++n}` };

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const agentByRole = (e: AuditEvent, code: string) => e.agent.find((a) => a.type?.coding?.[0]?.code === code);
const entityByRole = (e: AuditEvent, role: string) => (e.entity ?? []).filter((x) => x.role?.code === role);
const queryText = (e: AuditEvent) => Buffer.from(entityByRole(e, '24')[0].query!, 'base64').toString('utf8');
const requestIdOf = (e: AuditEvent) => (e.entity ?? []).find((x) => x.type?.code === 'XrequestId')?.what?.identifier?.value;

describe('outcome codes (API.md §7)', () => {
  test.each([
    [200, '0'], [201, '0'], [302, '0'],
    [400, '4'], [401, '4'], [403, '4'], [404, '4'], [405, '4'], [429, '4'],
    [500, '8'], [502, '8'], [503, '8'],
    [0, '12'], [999, '12'],
  ])('HTTP %i → %s', (status, code) => expect(outcomeFor(status)).toBe(code));
});

describe('action per interaction', () => {
  test.each([
    ['create', 'C'], ['read', 'R'], ['vread', 'R'], ['update', 'U'], ['patch', 'U'], ['delete', 'D'],
    ['search-type', 'E'], ['$verify', 'E'], ['$recognition', 'E'], ['token', 'E'],
  ])('%s → %s', (interaction, action) => expect(actionFor(interaction)).toBe(action));
});

describe('subtype codings', () => {
  test.each([
    ['search-type', [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }]],
    ['read', [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' }]],
    ['$verify', [{ system: 'http://hl7.org/fhir/restful-interaction', code: 'operation' }, { system: `${CANONICAL}/CodeSystem/gateway-operation`, code: '$verify' }]],
    ['token', [{ system: `${CANONICAL}/CodeSystem/gateway-operation`, code: 'token' }]],
  ])('%s', (interaction, codings) => expect(subtypeCodings(interaction, CANONICAL)).toEqual(codings));
});

describe('interaction of a request', () => {
  test.each([
    ['recorded by the domain wins', { method: 'GET', url: '/Patient/1/$recognition', interaction: '$recognition' }, undefined, '$recognition'],
    ['else the route', { method: 'GET', url: '/AuditEvent' }, 'search-type', 'search-type'],
    ['unmatched GET of an instance', { method: 'GET', url: '/Foo/1' }, undefined, 'read'],
    ['unmatched GET of a type', { method: 'GET', url: '/Foo?x=1' }, undefined, 'search-type'],
    ['unmatched operation', { method: 'GET', url: '/Foo/$bar?x=1' }, undefined, '$bar'],
    ['unmatched POST _search', { method: 'POST', url: '/Foo/_search' }, undefined, 'search-type'],
    ['405 fallback route (interaction unknown)', { method: 'DELETE', url: '/AuditEvent/1' }, 'unknown', 'delete'],
    ['unmatched PUT', { method: 'PUT', url: '/Foo/1' }, undefined, 'update'],
  ])('%s', (_name, r, routeInteraction, expected) => {
    const req = request(r);
    const route = routeInteraction
      ? { method: 'GET' as const, path: '/x', interaction: routeInteraction, access: { kind: 'none' as const }, audited: true, handler: async () => ({ body: '' }) }
      : undefined;
    expect(interactionFor({ req, route })).toBe(expected);
  });
});

describe('the recorded request (query entity)', () => {
  test('GET: the request line', () => {
    const r = requestBytes(request({ url: '/DiagnosticReport?patient=p1' }));
    expect(r).toMatchObject({ truncated: false });
    expect(r.bytes.toString()).toBe('GET /DiagnosticReport?patient=p1');
  });
  test('POST _search: the request line and the form body', () => {
    const r = requestBytes(request({ method: 'POST', url: '/DiagnosticReport/_search', body: { patient: 'p1', category: 'LAB' } }));
    expect(r.bytes.toString()).toBe('POST /DiagnosticReport/_search\n\npatient=p1&category=LAB');
  });
  test('POST /auth/token: the body (a signed assertion) is never recorded', () => {
    const r = requestBytes(request({ method: 'POST', url: '/auth/token', body: { client_assertion: 'eyJ.secret.sig' } }));
    expect(r.bytes.toString()).toBe('POST /auth/token');
  });
  test('POST /Consent: the resource body is never recorded', () => {
    const r = requestBytes(request({ method: 'POST', url: '/Consent', body: { resourceType: 'Consent', patient: { reference: 'Patient/p1' } } }));
    expect(r.bytes.toString()).toBe('POST /Consent');
  });
  test('a huge query string is cut at 4 KiB and marked', () => {
    const r = requestBytes(request({ url: `/DiagnosticReport?patient=${'a'.repeat(100_000)}` }));
    expect(r.truncated).toBe(true);
    expect(r.bytes.length).toBe(MAX_QUERY_BYTES);
    expect(r.originalLength).toBe('GET /DiagnosticReport?patient='.length + 100_000);
  });
  test('the cut never splits a UTF-8 character', () => {
    const r = requestBytes(request({ url: `/Patient?name=${'林'.repeat(3000)}` }));
    expect(r.truncated).toBe(true);
    expect(r.bytes.length).toBeLessThanOrEqual(MAX_QUERY_BYTES);
    expect(Buffer.from(r.bytes.toString('utf8'), 'utf8').equals(r.bytes)).toBe(true);
  });
});

describe('AuditEvent shapes (IHE BALP, API.md §7)', () => {
  test('an allowed search: one event per patient, agents, source, entities; valid R4', () => {
    const e = searchEntry(['p1', 'p2'], ['xm-zsh', 'qz-fy'], { requestId: 'rid-1' });
    const built = buildAuditEvents(e, ctx);
    expect(built).toHaveLength(2);
    expect(built.map((b) => b.patientId)).toEqual(['p1', 'p2']);
    expect(new Set(built.map((b) => b.resource.id)).size).toBe(2);
    for (const b of built) {
      const ev = b.resource;
      expectValidFhir(ev);
      expect(ev.type).toEqual({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
      expect(ev.subtype).toEqual([{ system: 'http://hl7.org/fhir/restful-interaction', code: 'search-type' }]);
      expect(ev.action).toBe('E');
      expect(ev.outcome).toBe('0');
      expect(ev.recorded).toBe('2025-03-01T08:00:00.000Z');
      expect(ev.purposeOfEvent).toEqual([{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActReason', code: 'TREAT' }] }]);

      const client = agentByRole(ev, '110153')!;
      expect(client.who?.identifier).toEqual({ system: `${CANONICAL}/sid/client-id`, value: 'xm-zsh-his', assigner: { reference: 'Organization/xm-zsh' } });
      expect(client.who?.type).toBe('Device');
      expect(client.requestor).toBe(false);
      expect(client.network).toEqual({ address: '127.0.0.1', type: '2' });
      const org = agentByRole(ev, 'PROV')!;
      expect(org.who).toEqual({ reference: 'Organization/xm-zsh', display: '厦门大学附属中山医院' });
      const gateway = agentByRole(ev, '110152')!;
      expect(gateway.network).toEqual({ address: PUBLIC_BASE, type: '5' });
      expect(gateway.type?.coding?.[0]).toEqual({ system: DCM, code: '110152' });
      const person = ev.agent.find((a) => a.requestor) as AuditEventAgent;
      expect(person.who?.identifier).toEqual({ system: `${CANONICAL}/sid/subject-id`, value: 'D1029', assigner: { reference: 'Organization/xm-zsh' } });
      expect(person.name).toBe('林医生');
      expect(person.role).toEqual([{ coding: [DOCTOR_ROLE] }]);
      expect(person.purposeOfUse?.[0].coding?.[0].code).toBe('TREAT');
      expect(ev.agent.filter((a) => a.requestor)).toHaveLength(1);

      expect(ev.source.observer).toEqual({ identifier: { system: `${CANONICAL}/sid/gateway`, value: PUBLIC_BASE }, display: 'XZQ results gateway' });
      expect(ev.source.type).toEqual([{ system: 'http://terminology.hl7.org/CodeSystem/security-source-type', code: '4' }]);

      const patient = entityByRole(ev, '1');
      expect(patient).toEqual([
        expect.objectContaining({ what: { reference: `Patient/${b.patientId}` }, type: expect.objectContaining({ code: '1' }) }),
      ]);
      expect(queryText(ev)).toBe('GET /DiagnosticReport?patient=p1,p2&category=LAB');
      expect(entityByRole(ev, '24')[0].type?.code).toBe('2');
      expect(entityByRole(ev, '3').map((x) => x.what?.reference)).toEqual(['Organization/xm-zsh', 'Organization/qz-fy']);
      expect(entityByRole(ev, '3').every((x) => x.type?.code === '3')).toBe(true);
      expect(requestIdOf(ev)).toBe('rid-1');
      expect(b).toMatchObject({ requestId: 'rid-1', clientId: 'xm-zsh-his', userId: 'D1029', outcome: 0, purpose: 'TREAT', subtype: 'search-type' });
    }
  });

  test('no result data or response body reaches the event', () => {
    const e = searchEntry(['p1']);
    const text = JSON.stringify(buildAuditEvents(e, ctx));
    expect(text).not.toMatch(/valueQuantity|Hemoglobin|DiagnosticReport\/[a-z]/);
  });

  test('a request with no patient: one event, no patient entity', () => {
    const req = request({ url: '/Organization', requester: clinician(), interaction: 'search-type' });
    const [b, more] = buildAuditEvents(entry(req, 200), ctx);
    expect(more).toBeUndefined();
    expect(entityByRole(b.resource, '1')).toEqual([]);
    expect(b.patientId).toBeNull();
    expectValidFhir(b.resource);
  });

  test('a read: action R and the resource read as an entity', () => {
    const req = request({ url: '/DiagnosticReport/xm-zsh.r1', requester: clinician(), interaction: 'read' });
    req.record.resourceType = 'DiagnosticReport';
    req.record.resourceIds.add('xm-zsh.r1');
    req.record.addPatient('p9');
    const [b] = buildAuditEvents(entry(req, 200), ctx);
    expect(b.resource.action).toBe('R');
    expect(entityByRole(b.resource, '4').map((x) => x.what?.reference)).toEqual(['DiagnosticReport/xm-zsh.r1']);
    expectValidFhir(b.resource);
  });

  test('refused 401 at the token endpoint: the claimed client is named as claimed, outcome 4', () => {
    const req = request({ method: 'POST', url: '/auth/token', interaction: 'token', body: { client_assertion: 'x.y.z' } });
    req.record.claimedClientId = 'xm-zsh-his';
    const [b] = buildAuditEvents(entry(req, 401), ctx);
    const ev = b.resource;
    expectValidFhir(ev);
    expect(ev.outcome).toBe('4');
    expect(ev.outcomeDesc).toBe('HTTP 401');
    expect(ev.subtype).toEqual([{ system: `${CANONICAL}/CodeSystem/gateway-operation`, code: 'token' }]);
    expect(ev.action).toBe('E');
    const client = agentByRole(ev, '110153')!;
    expect(client.who?.identifier?.value).toBe('xm-zsh-his');
    expect(client.who?.display).toMatch(/claimed, not authenticated/);
    expect(client.requestor).toBe(true);
    expect(ev.purposeOfEvent).toBeUndefined();
    expect(queryText(ev)).toBe('POST /auth/token');
    expect(b.clientId).toBe('xm-zsh-his');
  });

  test('refused 401 with no token at all: still one valid event', () => {
    const req = request({ url: '/DiagnosticReport?patient=p1', interaction: 'search-type' });
    const [b] = buildAuditEvents(entry(req, 401), ctx);
    expectValidFhir(b.resource);
    expect(agentByRole(b.resource, '110153')!.who).toEqual({ display: 'unidentified client' });
    expect(b.clientId).toBeNull();
  });

  test('a successful token request: who asked for whom, subtype token', () => {
    const req = request({ method: 'POST', url: '/auth/token', interaction: 'token', requester: clinician({ purposeOfUse: 'ETREAT' }) });
    const [b] = buildAuditEvents(entry(req, 200), ctx);
    expectValidFhir(b.resource);
    expect(b.resource.outcome).toBe('0');
    expect(b.subtype).toBe('token');
    expect(b.purpose).toBe('ETREAT');
  });

  test('refused 403 (no consent): outcome 4 with the patient concerned', () => {
    const e = searchEntry(['p1'], [], { status: 403 });
    const [b] = buildAuditEvents(e, ctx);
    expectValidFhir(b.resource);
    expect(b.resource.outcome).toBe('4');
    expect(b.resource.outcomeDesc).toBe('HTTP 403');
    expect(entityByRole(b.resource, '1')[0].what?.reference).toBe('Patient/p1');
    expect(entityByRole(b.resource, '3')).toEqual([]);
  });

  test('503: serious failure', () => {
    const [b] = buildAuditEvents(searchEntry(['p1'], [], { status: 503 }), ctx);
    expect(b.resource.outcome).toBe('8');
  });

  test('break-glass: purposeOfEvent ETREAT and BTG, the breakGlass flag on the transaction entity', () => {
    const e = searchEntry(['p1'], ['qz-fy'], { requester: clinician({ purposeOfUse: 'ETREAT' }) });
    e.req.record.breakGlass = true;
    const [b] = buildAuditEvents(e, ctx);
    const ev = b.resource;
    expectValidFhir(ev);
    expect(ev.purposeOfEvent?.map((p) => p.coding?.[0].code)).toEqual(['ETREAT', 'BTG']);
    const tx = (ev.entity ?? []).find((x) => x.type?.code === 'XrequestId') as AuditEventEntity;
    expect(tx.detail).toEqual([{ type: 'breakGlass', valueString: 'true' }]);
    expect(ev.agent.find((a) => a.requestor)?.purposeOfUse?.map((p) => p.coding?.[0].code)).toEqual(['ETREAT', 'BTG']);
    expect(b.purpose).toBe('ETREAT');
  });

  test('an auditor client without a person: the client is the requestor, no organization agent', () => {
    const req = request({ url: '/AuditEvent/$verify', requester: auditor(), interaction: '$verify' });
    const [b] = buildAuditEvents(entry(req, 200), ctx);
    expectValidFhir(b.resource);
    expect(agentByRole(b.resource, '110153')!.requestor).toBe(true);
    expect(agentByRole(b.resource, 'PROV')).toBeUndefined();
    expect(b.userId).toBeNull();
  });

  test.each([
    ['a 100 kB query string', `/DiagnosticReport?patient=${'x'.repeat(100_000)}`],
    ['control characters and invalid escapes', '/DiagnosticReport?patient=%00%ZZ\u0000\u0007\r\n&date=<script>'],
    ['a lone surrogate', '/Patient?name=\ud800abc'],
  ])('forged request line (%s): recorded safely, valid R4', (_name, url) => {
    const req = request({ url, requester: clinician(), query: {} });
    const [b] = buildAuditEvents(entry(req, 400), ctx);
    expectValidFhir(b.resource);
    const q = entityByRole(b.resource, '24')[0];
    expect(Buffer.from(q.query!, 'base64').length).toBeLessThanOrEqual(MAX_QUERY_BYTES);
    if (url.length > MAX_QUERY_BYTES) expect(q.detail?.[0]).toEqual({ type: 'truncated', valueString: expect.stringMatching(/request cut at 4096 of \d+ bytes/) });
  });

  test('a forged, oversized claimed client id is cut and cleaned', () => {
    const req = request({ method: 'POST', url: '/auth/token', interaction: 'token' });
    req.record.claimedClientId = `evil\u0000${'c'.repeat(5000)}`;
    const [b] = buildAuditEvents(entry(req, 401), ctx);
    expectValidFhir(b.resource);
    expect(b.clientId!.length).toBeLessThanOrEqual(64);
    expect(b.clientId).not.toContain('\u0000');
    expect(JSON.stringify(b.resource)).not.toContain('\\u0000');
  });
});
