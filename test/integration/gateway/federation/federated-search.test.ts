import type { Bundle, DiagnosticReport, ImagingStudy, Observation, OperationOutcome, Patient, Parameters, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { expectValidFhir } from '../../../support/fhir-validation';
import { testDatabases } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';

const FHIR = 'application/fhir+json';
const CITY_OF: Record<string, string> = {};

function resources<T extends Resource>(b: Bundle, mode = 'match'): T[] {
  return (b.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource as T);
}
function outcomes(b: Bundle): OperationOutcome[] {
  return resources<OperationOutcome>(b, 'outcome');
}
const hospitalOf = (r: Resource) => r.meta?.source?.split('/Organization/')[1];

describe.each(testDatabases())('federated search on %s', (_name, open) => {
  let net: DemoNetwork;
  let close: () => Promise<void>;
  let token: string;
  let patientNid: string;

  beforeAll(async () => {
    const db = await open();
    net = await startDemoNetwork({ db });
    close = async () => {
      await net.close();
      await db.close();
    };
    for (const h of net.config.hospitals) CITY_OF[h.id] = h.city;
    token = await net.token(net.config.clients.find((c) => c.roles.includes('clinician'))!.id);
    const multi = net.patients
      .filter((p) => p.consent === 'full')
      .map((p) => ({ p, cities: new Set(p.hospitals.map((h) => CITY_OF[h])) }))
      .sort((a, b) => b.cities.size - a.cities.size || b.p.hospitals.length - a.p.hospitals.length)[0];
    patientNid = multi.p.nationalId;
  }, 120_000);
  afterAll(() => close?.());

  const get = (url: string) => request(net.app).get(url).set('Authorization', `Bearer ${token}`).set('Accept', FHIR);

  test('one search reaches hospitals in all three cities, every resource valid R4 and in gateway form', async () => {
    const res = await get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&_count=200`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/application\/fhir\+json/);
    const bundle = res.body as Bundle;
    expectValidFhir(bundle);
    expect(bundle.type).toBe('searchset');
    const reports = resources<DiagnosticReport>(bundle);
    expect(reports.length).toBeGreaterThan(3);
    const cities = new Set(reports.map((r) => CITY_OF[hospitalOf(r)!]));
    expect(cities).toEqual(new Set(['350200', '350500', '350600']));
    const kinds = new Set(reports.map((r) => net.config.hospitals.find((h) => h.id === hospitalOf(r))!.adapter.type));
    expect(kinds.size).toBeGreaterThanOrEqual(2);
    for (const r of reports) {
      expect(r.meta?.source).toBe(`${net.config.publicBaseUrl}/Organization/${hospitalOf(r)}`);
      expect(r.id!.startsWith(`${hospitalOf(r)}.`)).toBe(true);
      expect(r.subject?.reference).toMatch(/^Patient\/[A-Za-z0-9-]+$/);
      const ext = r.extension?.find((e) => e.url === `${net.config.canonicalBase}/StructureDefinition/recognition`);
      expect(ext?.extension?.find((e) => e.url === 'status')?.valueCode).toBeTruthy();
    }
    const times = reports.map((r) => Date.parse(r.effectiveDateTime ?? r.issued ?? ''));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(outcomes(bundle)).toEqual([]);
  });

  test('_include brings the reports\' observations, coded in LOINC with local codes kept, in UCUM', async () => {
    const res = await get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&category=LAB&_include=DiagnosticReport:result&_count=50`);
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const reports = resources<DiagnosticReport>(res.body);
    const included = resources<Observation>(res.body, 'include');
    expect(included.length).toBeGreaterThan(0);
    const referenced = new Set(reports.flatMap((r) => (r.result ?? []).map((x) => x.reference)));
    for (const o of included) {
      expect(o.resourceType).toBe('Observation');
      expect(referenced.has(`Observation/${o.id}`)).toBe(true);
    }
    const quantities = included.filter((o) => o.valueQuantity);
    expect(quantities.length).toBeGreaterThan(0);
    for (const o of quantities) expect(o.valueQuantity!.system).toBe('http://unitsofmeasure.org');
    expect(included.some((o) => o.code.coding?.some((c) => c.system === 'http://loinc.org'))).toBe(true);
    expect(included.some((o) => (o.code.coding ?? []).length >= 2)).toBe(true);
  });

  test('one analyte across every hospital (Observation by LOINC code), newest first', async () => {
    const res = await get(`/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&code=http://loinc.org|718-7`);
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const obs = resources<Observation>(res.body);
    for (const o of obs) expect(o.code.coding?.some((c) => c.system === 'http://loinc.org' && c.code === '718-7')).toBe(true);
    const asc = await get(`/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&code=718-7&_sort=date`);
    expect(resources<Observation>(asc.body).map((o) => o.id)).toEqual([...obs].reverse().map((o) => o.id));
  });

  test('imaging studies by modality, and POST _search gives the same answer as GET', async () => {
    const res = await get(`/ImagingStudy?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}`);
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const studies = resources<ImagingStudy>(res.body);
    if (studies.length) {
      const modality = studies[0].series?.[0]?.modality.code ?? studies[0].modality?.[0].code;
      const only = await get(`/ImagingStudy?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&modality=${modality}`);
      for (const s of resources<ImagingStudy>(only.body)) {
        expect([...(s.modality ?? []), ...(s.series ?? []).map((x) => x.modality)].some((m) => m.code === modality)).toBe(true);
      }
    }
    const posted = await request(net.app)
      .post('/ImagingStudy/_search')
      .set('Authorization', `Bearer ${token}`)
      .type('form')
      .send({ 'patient.identifier': `${NATIONAL_ID_SYSTEM}|${patientNid}` });
    expect(posted.status).toBe(200);
    expect(resources(posted.body).map((r) => r.id)).toEqual(studies.map((r) => r.id));
  });

  test('paging with _count follows next links to the same set; reads by id', async () => {
    const all = await get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&_count=200`);
    const ids = resources(all.body).map((r) => r.id);
    const seen: string[] = [];
    let url: string | undefined = `/DiagnosticReport?patient.identifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${patientNid}`)}&_count=3`;
    while (url) {
      const page = await get(url);
      expect(page.status).toBe(200);
      expect(page.body.total).toBe(ids.length);
      seen.push(...resources(page.body).map((r) => r.id!));
      const next = (page.body as Bundle).link?.find((l) => l.relation === 'next')?.url;
      url = next ? next.replace(net.config.publicBaseUrl, '') : undefined;
    }
    expect(seen).toEqual(ids);
    const one = await get(`/DiagnosticReport/${ids[0]}`);
    expect(one.status).toBe(200);
    expectValidFhir(one.body);
    expect(one.body.id).toBe(ids[0]);
  });

  test('the patient index: national id → regional patient with each hospital\'s record numbers; read; PIXm', async () => {
    const res = await get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${patientNid}`);
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const [patient] = resources<Patient>(res.body);
    expect(patient.identifier?.find((i) => i.system === NATIONAL_ID_SYSTEM)?.value).toBe(patientNid);
    const mrs = patient.identifier!.filter((i) => i.assigner?.reference?.startsWith('Organization/'));
    expect(mrs.length).toBeGreaterThanOrEqual(2);
    const again = await get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${patientNid}`);
    expect(resources<Patient>(again.body)[0].id).toBe(patient.id);
    const read = await get(`/Patient/${patient.id}`);
    expect(read.status).toBe(200);
    expectValidFhir(read.body);

    const pix = await get(`/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|${patientNid}`)}`);
    expect(pix.status).toBe(200);
    expectValidFhir(pix.body);
    const params = (pix.body as Parameters).parameter ?? [];
    expect(params.find((p) => p.name === 'targetId')?.valueReference?.reference).toBe(`Patient/${patient.id}`);
    expect(params.filter((p) => p.name === 'targetIdentifier').length).toBe(mrs.length);
    const byMrn = await get(`/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${mrs[0].system}|${mrs[0].value}`)}`);
    expect(byMrn.body.parameter.find((p: { name: string }) => p.name === 'targetId').valueReference.reference).toBe(`Patient/${patient.id}`);
    const unknown = await get(`/Patient/$ihe-pix?sourceIdentifier=${encodeURIComponent(`${NATIONAL_ID_SYSTEM}|11010519491231002X`)}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body.issue[0].code).toBe('not-found');
  });

  test('organizations, metadata and health', async () => {
    const orgs = await get('/Organization');
    expect(orgs.status).toBe(200);
    expectValidFhir(orgs.body);
    expect(orgs.body.total).toBe(net.config.hospitals.length);
    const one = await get(`/Organization/${net.config.hospitals[0].id}`);
    expectValidFhir(one.body);
    const meta = await request(net.app).get('/metadata');
    expect(meta.status).toBe(200);
    expectValidFhir(meta.body);
    const types = meta.body.rest[0].resource.map((r: { type: string }) => r.type);
    for (const t of ['Patient', 'DiagnosticReport', 'Observation', 'ImagingStudy', 'Organization', 'Consent', 'AuditEvent']) expect(types).toContain(t);
    const health = await request(net.app).get('/healthz');
    expect(health.status).toBe(200);
    expect(health.body.database).toBe('up');
    expect(health.body.hospitals).toHaveLength(net.config.hospitals.length);
    expect(JSON.stringify(health.body)).not.toContain(patientNid);
  });

  describe('bad input gets an OperationOutcome with the right status', () => {
    test.each([
      ['wrong check digit', `/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|350203199001010019`, 400],
      ['no patient', '/DiagnosticReport?category=LAB', 400],
      ['bad date prefix', `/DiagnosticReport?patient=x&date=xx2025-01-01`, 400],
      ['malformed date', `/Observation?patient=x&date=ge2025-13-45`, 400],
      ['_count too large', `/DiagnosticReport?patient=x&_count=500`, 400],
      ['_count zero', `/DiagnosticReport?patient=x&_count=0`, 400],
      ['unknown hospital', `/DiagnosticReport?patient=x&hospital=nowhere`, 400],
      ['bad _sort', `/DiagnosticReport?patient=x&_sort=name`, 400],
      ['unknown report id', '/DiagnosticReport/xm-zsh.doesnotexist', 404],
      ['id naming no hospital', '/DiagnosticReport/nohospital', 404],
      ['unknown patient', '/Patient/00000000-0000-0000-0000-000000000000', 404],
      ['unknown organization', '/Organization/nowhere', 404],
      ['unknown endpoint', '/Nothing/here', 404],
      ['undecodable URL', '/Patient/%E0%A4%A', 400],
    ])('%s: %s → %d', async (_what, url, status) => {
      const res = await get(url);
      expect(res.status).toBe(status);
      expect(res.body.resourceType).toBe('OperationOutcome');
      expectValidFhir(res.body);
      expect(JSON.stringify(res.body)).not.toMatch(/at .*\.ts:\d+|stack|SELECT|350203199001010019/i);
    });

    test('unknown parameters are ignored, unless Prefer: handling=strict', async () => {
      const lenient = await get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&colour=blue&_count=1`);
      expect(lenient.status).toBe(200);
      const strict = await get(`/DiagnosticReport?patient.identifier=${NATIONAL_ID_SYSTEM}|${patientNid}&colour=blue`).set('Prefer', 'handling=strict');
      expect(strict.status).toBe(400);
      expect(strict.body.issue[0].diagnostics ?? strict.body.issue[0].details.text).toMatch(/colour/);
    });

    test('a body over 1 MiB is 413, malformed JSON 400, a wrong media type 415, a wrong method 405', async () => {
      const big = await request(net.app).post('/DiagnosticReport/_search').set('Authorization', `Bearer ${token}`).type('form').send('x=' + 'a'.repeat(1_100_000));
      expect(big.status).toBe(413);
      expect(big.body.resourceType).toBe('OperationOutcome');
      const put = await request(net.app).put('/DiagnosticReport').set('Authorization', `Bearer ${token}`).send({});
      expect(put.status).toBe(405);
    });
  });
});
