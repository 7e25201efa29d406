import type { AuditEvent, Bundle, Consent, DiagnosticReport, ImagingStudy, Observation, OperationOutcome, Organization, Patient, Resource } from '@medplum/fhirtypes';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { resultTime } from '../../../../gateway/fhir/result-time';
import { testDatabases } from '../../../support/databases';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * Issue #14, finding 5: every search parameter is applied, or else refused (`Prefer:
 * handling=strict`) or reported in the searchset (lenient, the default of API.md §4) — never
 * silently ignored. Over the demo network with real tokens, as a HIS (or an attacker holding a
 * HIS's credentials) would ask: `_id` with `patient` is exactly that result and ANDs with the rest;
 * each declared parameter changes the answer as it should; an unknown one is an `ignored-parameter`
 * outcome entry (lenient) or a 400 `unknown-parameter` (strict). Every answer is valid FHIR R4.
 */

/** 陈建国 (DC001: permit, every hospital): 48 observations at xm-dyyy, qz-fey, zz-syy and xm-zyy */
const FULL = '350203196203151595';
/** another resident with full consent: results at qz-dyyy, xm-zsh, zz-zyy */
const OTHER = '350503195807224662';
/** a resident whose results have several statuses (preliminary, final, corrected) */
const MIXED = '350204195004180715';
const HIS = 'xm-dyyy-his'; // clinician + registrar of xm-dyyy
const AUDITOR = 'audit-office';
const FHIR_JSON = 'application/fhir+json';
const STRICT = 'handling=strict';
const LOINC = 'http://loinc.org';

function entries<T extends Resource>(b: Bundle, mode: 'match' | 'include' | 'outcome' = 'match'): T[] {
  return (b.entry ?? []).filter((e) => e.search?.mode === mode).map((e) => e.resource as T);
}
const ids = (b: Bundle) => entries(b).map((r) => r.id!);
const hospitalOf = (id: string) => id.slice(0, id.indexOf('.'));
/** the `ignored-parameter` outcome entries of a searchset */
const ignoredEntries = (b: Bundle) =>
  entries<OperationOutcome>(b, 'outcome').filter((o) => o.issue.some((i) => i.details?.coding?.some((c) => c.code === 'ignored-parameter')));
const errorCode = (o: OperationOutcome) => o.issue[0]?.details?.coding?.[0]?.code;
const timeOf = (r: Resource) => Date.parse(resultTime(r as DiagnosticReport) ?? '');

describe.each(testDatabases())('search parameters are applied, refused or reported, on %s', (_name, open) => {
  let net: DemoNetwork;
  let close: () => Promise<void>;
  const tokens = new Map<string, string>();
  let full: string; // regional ids
  let other: string;
  let mixed: string;
  let fullObservations: Observation[];
  let otherObservations: Observation[];
  let fullReports: DiagnosticReport[];
  let fullStudies: ImagingStudy[];

  const token = async (client: string) => {
    if (!tokens.has(client)) tokens.set(client, await net.token(client, client === AUDITOR ? { user: { id: 'A1', name: '审计员' } } : {}));
    return tokens.get(client)!;
  };
  /** GET as `client`; every answer is checked to be valid FHIR R4 */
  async function get(url: string, opts: { client?: string; prefer?: string } = {}): Promise<request.Response> {
    let r = request(net.app).get(url).set('Accept', FHIR_JSON).set('Authorization', `Bearer ${await token(opts.client ?? HIS)}`);
    if (opts.prefer) r = r.set('Prefer', opts.prefer);
    const res = await r;
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expectValidFhir(res.body as Resource);
    return res;
  }
  /** a 200 searchset */
  async function search(url: string, opts: { client?: string; prefer?: string } = {}): Promise<Bundle> {
    const res = await get(url, opts);
    expect([url, res.status]).toEqual([url, 200]);
    expect(res.body).toMatchObject({ resourceType: 'Bundle', type: 'searchset' });
    return res.body as Bundle;
  }
  const regionalId = async (nid: string) => {
    const b = await search(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${nid}`);
    return entries<Patient>(b)[0].id!;
  };

  beforeAll(async () => {
    const db = await open();
    net = await startDemoNetwork({ db });
    close = async () => {
      await net.close();
      await db.close();
    };
    full = await regionalId(FULL);
    other = await regionalId(OTHER);
    mixed = await regionalId(MIXED);
    fullObservations = entries<Observation>(await search(`/Observation?patient=${full}&_count=200`));
    otherObservations = entries<Observation>(await search(`/Observation?patient=${other}&_count=200`));
    fullReports = entries<DiagnosticReport>(await search(`/DiagnosticReport?patient=${full}&_count=200`));
    fullStudies = entries<ImagingStudy>(await search(`/ImagingStudy?patient=${full}&_count=200`));
  }, 120_000);
  afterAll(() => close?.());

  describe('_id (the reported bug)', () => {
    test('the demo patient has the 48 observations of the report, from four hospitals', () => {
      expect(fullObservations).toHaveLength(48);
      expect(new Set(fullObservations.map((o) => hospitalOf(o.id!)))).toEqual(new Set(['xm-dyyy', 'qz-fey', 'zz-syy', 'xm-zyy']));
      expect(otherObservations.length).toBeGreaterThan(0);
    });

    test('GET /Observation?_id=<id>&patient=<id> is exactly that observation, not all 48', async () => {
      const wanted = fullObservations[17];
      const b = await search(`/Observation?_id=${wanted.id}&patient=${full}`);
      expect(ids(b)).toEqual([wanted.id]);
      expect(b.total).toBe(1);
      expect(entries(b, 'outcome')).toEqual([]);
      // the paging links repeat _id, so the next request is the same search
      expect(b.link?.find((l) => l.relation === 'self')?.url).toContain(`_id=${encodeURIComponent(wanted.id!)}`);
      // the same by patient.identifier, and by POST _search
      expect(ids(await search(`/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${FULL}&_id=${wanted.id}`))).toEqual([wanted.id]);
      const posted = await request(net.app)
        .post('/Observation/_search')
        .set('Authorization', `Bearer ${await token(HIS)}`)
        .type('form')
        .send({ patient: full, _id: wanted.id! });
      expect(posted.status).toBe(200);
      expectValidFhir(posted.body);
      expect(ids(posted.body)).toEqual([wanted.id]);
    });

    test("another patient's observation by _id, with this patient, is nothing (the criteria AND)", async () => {
      const theirs = otherObservations[0];
      const b = await search(`/Observation?_id=${theirs.id}&patient=${full}`);
      expect(b.total).toBe(0);
      expect(entries(b)).toEqual([]);
      // an id of no result, and a malformed one, match nothing either
      expect((await search(`/Observation?_id=xm-dyyy.no-such-observation&patient=${full}`)).total).toBe(0);
      expect((await search(`/Observation?_id=not-a-gateway-id&patient=${full}`)).total).toBe(0);
    });

    test('comma-separated ids are alternatives; a repeated _id narrows (AND); _id ANDs with every other parameter', async () => {
      const [a, b] = [fullObservations[0], fullObservations[30]];
      expect(new Set(ids(await search(`/Observation?patient=${full}&_id=${a.id},${b.id}`)))).toEqual(new Set([a.id, b.id]));
      expect((await search(`/Observation?patient=${full}&_id=${a.id}&_id=${b.id}`)).total).toBe(0);
      expect(ids(await search(`/Observation?patient=${full}&_id=${a.id},${b.id}&_id=${b.id}`))).toEqual([b.id]);
      // with hospital: only if the result is that hospital's
      expect(ids(await search(`/Observation?patient=${full}&_id=${a.id}&hospital=${hospitalOf(a.id!)}`))).toEqual([a.id]);
      const elsewhere = ['xm-dyyy', 'qz-fey', 'zz-syy', 'xm-zyy'].find((h) => h !== hospitalOf(a.id!))!;
      expect((await search(`/Observation?patient=${full}&_id=${a.id}&hospital=${elsewhere}`)).total).toBe(0);
      // with a code it does not have
      const code = a.code.coding!.find((c) => c.system === LOINC)!.code!;
      expect(ids(await search(`/Observation?patient=${full}&_id=${a.id}&code=${LOINC}|${code}`))).toEqual([a.id]);
      expect((await search(`/Observation?patient=${full}&_id=${a.id}&code=${LOINC}|0000-0`)).total).toBe(0);
      // with a date range that excludes it
      const day = new Date(timeOf(a) + 8 * 3_600_000).toISOString().slice(0, 10);
      expect(ids(await search(`/Observation?patient=${full}&_id=${a.id}&date=${day}`))).toEqual([a.id]);
      expect((await search(`/Observation?patient=${full}&_id=${a.id}&date=lt${day}`)).total).toBe(0);
    });

    test('DiagnosticReport and ImagingStudy: _id too; _include brings only that report\'s observations', async () => {
      const report = fullReports.find((r) => (r.result ?? []).length >= 2)!;
      const b = await search(`/DiagnosticReport?patient=${full}&_id=${report.id}&_include=DiagnosticReport:result`);
      expect(ids(b)).toEqual([report.id]);
      const included = entries(b, 'include');
      expect(included.length).toBeGreaterThan(0);
      const own = new Set(report.result!.map((r) => r.reference));
      for (const o of included) expect(own.has(`Observation/${o.id}`)).toBe(true);
      const study = fullStudies[0];
      expect(ids(await search(`/ImagingStudy?patient=${full}&_id=${study.id}`))).toEqual([study.id]);
      expect((await search(`/ImagingStudy?patient=${other}&_id=${study.id}`)).total).toBe(0);
      expect((await search(`/DiagnosticReport?patient=${other}&_id=${report.id}`)).total).toBe(0);
    });
  });

  describe('every declared parameter changes the answer as it should', () => {
    test('category (token, comma = OR, repeated = AND)', async () => {
      const lab = entries<DiagnosticReport>(await search(`/DiagnosticReport?patient=${full}&category=LAB&_count=200`));
      const rad = entries<DiagnosticReport>(await search(`/DiagnosticReport?patient=${full}&category=RAD&_count=200`));
      expect(lab.length).toBeGreaterThan(0);
      expect(rad.length).toBeGreaterThan(0);
      expect(lab.length + rad.length).toBeLessThanOrEqual(fullReports.length);
      const has = (r: DiagnosticReport, code: string) => (r.category ?? []).some((c) => c.coding?.some((x) => x.code === code));
      for (const r of lab) expect(has(r, 'LAB')).toBe(true);
      const either = await search(`/DiagnosticReport?patient=${full}&category=LAB,RAD&_count=200`);
      expect(new Set(ids(either))).toEqual(new Set([...lab, ...rad].map((r) => r.id)));
      const both = entries<DiagnosticReport>(await search(`/DiagnosticReport?patient=${full}&category=LAB&category=HM&_count=200`));
      expect(both.length).toBeGreaterThan(0);
      expect(both.length).toBeLessThan(lab.length);
      for (const r of both) expect(has(r, 'LAB') && has(r, 'HM')).toBe(true);
      const labObs = entries<Observation>(await search(`/Observation?patient=${full}&category=laboratory&_count=200`));
      expect(labObs.length).toBeGreaterThan(0);
      expect(labObs.length).toBeLessThan(fullObservations.length);
    });

    test('code (system|code, or code alone)', async () => {
      const hgb = entries<Observation>(await search(`/Observation?patient=${full}&code=${LOINC}|718-7`));
      expect(hgb.length).toBeGreaterThan(0);
      expect(hgb.length).toBeLessThan(fullObservations.length);
      for (const o of hgb) expect(o.code.coding?.some((c) => c.system === LOINC && c.code === '718-7')).toBe(true);
      expect(ids(await search(`/Observation?patient=${full}&code=718-7`))).toEqual(hgb.map((o) => o.id));
      expect((await search(`/Observation?patient=${full}&code=urn:other|718-7`)).total).toBe(0);
    });

    test('date (prefixes; repeated = a range) and started', async () => {
      const times = fullObservations.map(timeOf).sort((a, b) => a - b);
      const cut = new Date(times[Math.floor(times.length / 2)]).toISOString();
      const after = entries<Observation>(await search(`/Observation?patient=${full}&date=ge${encodeURIComponent(cut)}&_count=200`));
      const before = entries<Observation>(await search(`/Observation?patient=${full}&date=lt${encodeURIComponent(cut)}&_count=200`));
      expect(after.length).toBeGreaterThan(0);
      expect(before.length).toBeGreaterThan(0);
      expect(after.length + before.length).toBe(fullObservations.length);
      for (const o of after) expect(timeOf(o)).toBeGreaterThanOrEqual(Date.parse(cut));
      for (const o of before) expect(timeOf(o)).toBeLessThan(Date.parse(cut));
      const inYear = await search(`/Observation?patient=${full}&date=ge2026-01-01&date=lt2027-01-01&_count=200`);
      for (const o of entries(inYear)) expect(new Date(timeOf(o)).getUTCFullYear()).toBe(2026);
      const studyTimes = fullStudies.map(timeOf).sort((a, b) => a - b);
      const mid = new Date(studyTimes[1]).toISOString();
      const later = entries<ImagingStudy>(await search(`/ImagingStudy?patient=${full}&started=ge${encodeURIComponent(mid)}`));
      expect(later.length).toBeGreaterThan(0);
      expect(later.length).toBeLessThan(fullStudies.length);
      // date is DiagnosticReport's and Observation's; for ImagingStudy it is not a parameter
      const wrong = await search(`/ImagingStudy?patient=${full}&date=ge${encodeURIComponent(mid)}`);
      expect(ids(wrong)).toEqual(fullStudies.map((s) => s.id));
      expect(ignoredEntries(wrong)).toHaveLength(1);
    });

    test('status', async () => {
      const all = entries<DiagnosticReport>(await search(`/DiagnosticReport?patient=${mixed}&_count=200`));
      expect(new Set(all.map((r) => r.status)).size).toBeGreaterThan(1);
      const final = entries<DiagnosticReport>(await search(`/DiagnosticReport?patient=${mixed}&status=final`));
      expect(final.length).toBeGreaterThan(0);
      expect(final.length).toBeLessThan(all.length);
      for (const r of final) expect(r.status).toBe('final');
      const finalOrCorrected = await search(`/DiagnosticReport?patient=${mixed}&status=final,corrected`);
      expect(finalOrCorrected.total).toBe(all.filter((r) => r.status === 'final' || r.status === 'corrected').length);
      expect((await search(`/Observation?patient=${mixed}&status=preliminary`)).total).toBe(1);
      expect((await search(`/ImagingStudy?patient=${full}&status=cancelled`)).total).toBe(0);
    });

    test('modality', async () => {
      const ct = entries<ImagingStudy>(await search(`/ImagingStudy?patient=${full}&modality=CT`));
      expect(ct.length).toBe(1);
      expect(ct[0].modality?.some((m) => m.code === 'CT')).toBe(true);
      expect((await search(`/ImagingStudy?patient=${full}&modality=CT,US`)).total).toBe(2);
      expect((await search(`/ImagingStudy?patient=${full}&modality=MR`)).total).toBe(0);
    });

    test('hospital (comma = OR), and an unknown hospital is a 400', async () => {
      const one = await search(`/Observation?patient=${full}&hospital=zz-syy&_count=200`);
      expect(one.total).toBeGreaterThan(0);
      expect(one.total).toBeLessThan(fullObservations.length);
      for (const id of ids(one)) expect(hospitalOf(id)).toBe('zz-syy');
      const two = await search(`/Observation?patient=${full}&hospital=zz-syy,Organization/qz-fey&_count=200`);
      expect(new Set(ids(two).map(hospitalOf))).toEqual(new Set(['zz-syy', 'qz-fey']));
      const unknown = await get(`/Observation?patient=${full}&hospital=nowhere`);
      expect(unknown.status).toBe(400);
      expect(errorCode(unknown.body)).toBe('unknown-hospital');
    });

    test('patient and patient.identifier name the same results; one of them is required', async () => {
      const byIdentifier = await search(`/Observation?patient.identifier=${NATIONAL_ID_SYSTEM}|${FULL}&_count=200`);
      expect(ids(byIdentifier)).toEqual(fullObservations.map((o) => o.id));
      expect(ids(await search(`/Observation?patient=Patient/${full}&_count=200`))).toEqual(fullObservations.map((o) => o.id));
      const none = await get('/Observation?code=718-7');
      expect(none.status).toBe(400);
      expect(errorCode(none.body)).toBe('patient-required');
    });

    test('_count, _offset (the next link) and _sort', async () => {
      const first = await search(`/Observation?patient=${full}&_count=20`);
      expect(entries(first)).toHaveLength(20);
      expect(first.total).toBe(48);
      const pages = [...ids(first)];
      let next = first.link?.find((l) => l.relation === 'next')?.url;
      while (next) {
        const page = await search(next.replace(net.config.publicBaseUrl, ''));
        pages.push(...ids(page));
        next = page.link?.find((l) => l.relation === 'next')?.url;
      }
      expect(pages).toEqual(fullObservations.map((o) => o.id));
      expect(ids(await search(`/Observation?patient=${full}&_count=5&_offset=10`))).toEqual(pages.slice(10, 15));
      const asc = entries<Observation>(await search(`/Observation?patient=${full}&_sort=date&_count=200`)).map(timeOf);
      expect(asc).toEqual([...asc].sort((a, b) => a - b));
      const desc = entries<Observation>(await search(`/Observation?patient=${full}&_sort=-date&_count=200`)).map(timeOf);
      expect(desc).toEqual([...asc].reverse());
      const started = entries<ImagingStudy>(await search(`/ImagingStudy?patient=${full}&_sort=started`)).map(timeOf);
      expect(started).toEqual([...started].sort((a, b) => a - b));
      // a sort key the type does not have, and a _count out of range, are refused
      expect((await get(`/ImagingStudy?patient=${full}&_sort=date`)).status).toBe(400);
      const tooMany = await get(`/Observation?patient=${full}&_count=201`);
      expect(tooMany.status).toBe(400);
      expect(errorCode(tooMany.body)).toBe('bad-count');
    });

    test('_include=DiagnosticReport:result adds the reports\' observations, and nothing without it', async () => {
      const plain = await search(`/DiagnosticReport?patient=${full}&_count=5`);
      expect(entries(plain, 'include')).toEqual([]);
      const withObs = await search(`/DiagnosticReport?patient=${full}&_count=5&_include=DiagnosticReport:result`);
      const included = entries<Observation>(withObs, 'include');
      expect(included.length).toBeGreaterThan(0);
      const referenced = new Set(entries<DiagnosticReport>(withObs).flatMap((r) => (r.result ?? []).map((x) => x.reference)));
      for (const o of included) expect(referenced.has(`Observation/${o.id}`)).toBe(true);
    });
  });

  describe('a parameter the search does not apply', () => {
    test('lenient (the default): the same answer as without it, and one ignored-parameter warning naming it', async () => {
      const plain = await search(`/Observation?patient=${full}&_count=200`);
      expect(ignoredEntries(plain)).toEqual([]);
      for (const prefer of [undefined, 'handling=lenient']) {
        const b = await search(`/Observation?patient=${full}&colour=blue&_summary=count&_count=200`, { prefer });
        expect(ids(b)).toEqual(ids(plain));
        const [o, ...more] = ignoredEntries(b);
        expect(more).toEqual([]);
        expect(o.issue).toHaveLength(1);
        expect(o.issue[0]).toMatchObject({ severity: 'warning', code: 'informational', expression: ['colour', '_summary'] });
        expect(o.issue[0].details?.text).toMatch(/colour, _summary/);
        // names, never values
        expect(JSON.stringify(o)).not.toContain('blue');
      }
    });

    test('strict: 400 unknown-parameter naming it', async () => {
      const res = await get(`/Observation?patient=${full}&colour=blue`, { prefer: STRICT });
      expect(res.status).toBe(400);
      expect(errorCode(res.body)).toBe('unknown-parameter');
      expect(res.body.issue[0].expression).toEqual(['colour']);
      expect(res.body.issue[0].details.text).toMatch(/colour/);
      // every declared parameter is accepted under strict
      const declared = await search(
        `/Observation?patient=${full}&_id=${fullObservations[0].id}&category=laboratory&code=${LOINC}|718-7,${fullObservations[0].code.coding![0].code}&date=ge2020-01-01&status=final&hospital=${hospitalOf(fullObservations[0].id!)}&_sort=date&_count=10&_offset=0&_format=json`,
        { prefer: STRICT },
      );
      expect(ignoredEntries(declared)).toEqual([]);
    });

    test('a name with control characters is reported percent-encoded, never raw', async () => {
      const b = await search(`/DiagnosticReport?patient=${full}&%07bell%0D%0Ax=1&_count=1`);
      const [o] = ignoredEntries(b);
      expect(o.issue[0].expression).toEqual(['%07bell%0D%0Ax']);
      // neither raw nor as a JSON escape: the outcome holds no control character
      expect(JSON.stringify(o)).not.toMatch(/\\u00[01][0-9a-f]|\\[rn]/i);
      expect(o.issue[0].details?.text).toContain('%07bell%0D%0Ax');
      const strict = await get(`/DiagnosticReport?patient=${full}&%07bell=1`, { prefer: STRICT });
      expect(strict.status).toBe(400);
      expect(strict.body.issue[0].expression).toEqual(['%07bell']);
    });

    test('an _include the search cannot follow, and _include on Observation, are reported (lenient) or refused (strict)', async () => {
      const dr = await search(`/DiagnosticReport?patient=${full}&_include=DiagnosticReport:subject&_count=3`);
      expect(entries(dr, 'include')).toEqual([]);
      expect(ignoredEntries(dr)[0].issue[0].expression).toEqual(['_include']);
      expect((await get(`/DiagnosticReport?patient=${full}&_include=DiagnosticReport:subject`, { prefer: STRICT })).status).toBe(400);
      const obs = await search(`/Observation?patient=${full}&_include=Observation:has-member&_count=3`);
      expect(ignoredEntries(obs)[0].issue[0].expression).toEqual(['_include']);
      // modality is ImagingStudy's, not Observation's
      const wrongType = await search(`/Observation?patient=${full}&modality=CT&_count=200`);
      expect(ids(wrongType)).toEqual(fullObservations.map((o) => o.id));
      expect(ignoredEntries(wrongType)[0].issue[0].expression).toEqual(['modality']);
      expect((await get(`/Observation?patient=${full}&modality=CT`, { prefer: STRICT })).status).toBe(400);
    });

    test('an unknown patient still reports what it ignored', async () => {
      const b = await search('/Observation?patient=no-such-patient&colour=blue');
      expect(b.total).toBe(0);
      expect(ignoredEntries(b)).toHaveLength(1);
    });
  });

  describe('Patient search: identifier and _id', () => {
    test('identifier and _id AND; _id alone, comma = OR', async () => {
      expect(ids(await search(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${FULL}&_id=${full}`))).toEqual([full]);
      const mismatch = await search(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${FULL}&_id=${other}`);
      expect(mismatch.total).toBe(0);
      expect(entries(mismatch)).toEqual([]);
      expect(ids(await search(`/Patient?_id=${full}`))).toEqual([full]);
      expect(new Set(ids(await search(`/Patient?_id=${full},${other}`)))).toEqual(new Set([full, other]));
      expect((await search(`/Patient?_id=${full}&_id=${other}`)).total).toBe(0);
      expect((await search('/Patient?_id=no-such-patient')).total).toBe(0);
      const none = await get('/Patient');
      expect(none.status).toBe(400);
      expect(errorCode(none.body)).toBe('identifier-required');
    });

    test('_count pages; an unknown parameter is reported, or refused under strict', async () => {
      const paged = await search(`/Patient?_id=${full},${other}&_count=1`);
      expect(entries(paged)).toHaveLength(1);
      expect(paged.total).toBe(2);
      expect(paged.link?.some((l) => l.relation === 'next')).toBe(true);
      const b = await search(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${FULL}&family=x`);
      expect(ids(b)).toEqual([full]);
      expect(ignoredEntries(b)[0].issue[0].expression).toEqual(['family']);
      const strict = await get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${FULL}&family=x`, { prefer: STRICT });
      expect(strict.status).toBe(400);
      expect(errorCode(strict.body)).toBe('unknown-parameter');
    });
  });

  describe('Consent, AuditEvent and Organization searches: the same rule', () => {
    test('Consent: patient and status applied; _count pages; unknown reported or refused', async () => {
      const all = entries<Consent>(await search(`/Consent?patient=${full}`));
      expect(all.length).toBeGreaterThan(0);
      const active = entries<Consent>(await search(`/Consent?patient=${full}&status=active`));
      for (const c of active) expect(c.status).toBe('active');
      expect((await search(`/Consent?patient=${full}&status=draft`)).total).toBe(0);
      expect((await search(`/Consent?patient=${full}&status=active,inactive`)).total).toBe(
        all.filter((c) => c.status === 'active' || c.status === 'inactive').length,
      );
      const paged = await search(`/Consent?patient=${full}&_count=1`);
      expect(entries(paged)).toHaveLength(1);
      expect(paged.total).toBe(all.length);
      const lenient = await search(`/Consent?patient=${full}&_id=x`);
      expect(ids(lenient)).toEqual(all.map((c) => c.id));
      expect(ignoredEntries(lenient)[0].issue[0].expression).toEqual(['_id']);
      expect((await get(`/Consent?patient=${full}&_id=x`, { prefer: STRICT })).status).toBe(400);
    });

    test('AuditEvent: _offset (it pages by cursor) and unknown names are reported, or refused under strict', async () => {
      const plain = await search(`/AuditEvent?patient=${full}&_count=5`, { client: AUDITOR });
      expect(entries<AuditEvent>(plain).length).toBeGreaterThan(0);
      const lenient = await search(`/AuditEvent?patient=${full}&_count=5&_offset=5&colour=blue`, { client: AUDITOR });
      expect(entries<AuditEvent>(lenient).length).toBeGreaterThan(0);
      expect(ignoredEntries(lenient)[0].issue[0].expression).toEqual(['_offset', 'colour']);
      const strict = await get(`/AuditEvent?patient=${full}&_offset=5`, { client: AUDITOR, prefer: STRICT });
      expect(strict.status).toBe(400);
      expect(errorCode(strict.body)).toBe('unknown-parameter');
    });

    test('Organization: repeated parameters AND; unknown reported', async () => {
      const xm = entries<Organization>(await search('/Organization?city=350200'));
      expect(xm.length).toBeGreaterThan(1);
      const xm3a = entries<Organization>(await search('/Organization?city=350200&grade=3A'));
      expect(xm3a.length).toBeLessThan(xm.length);
      expect((await search('/Organization?_id=xm-dyyy,zz-syy')).total).toBe(2);
      expect((await search('/Organization?_id=xm-dyyy&_id=zz-syy')).total).toBe(0);
      expect(ids(await search(`/Organization?name=${encodeURIComponent('厦门')}&name=${encodeURIComponent('中医院')}`))).toEqual(['xm-zyy']);
      const lenient = await search('/Organization?_id=xm-dyyy&active=true');
      expect(ids(lenient)).toEqual(['xm-dyyy']);
      expect(ignoredEntries(lenient)[0].issue[0].expression).toEqual(['active']);
    });
  });
});
