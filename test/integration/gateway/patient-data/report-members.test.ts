import { randomUUID } from 'node:crypto';
import type { DiagnosticReport, Observation, Resource } from '@medplum/fhirtypes';
import { startFhirHospitalServer, type FhirHospitalServer } from '../../../../fixtures/servers/fhir-hospital-server';
import { AccessRecord, type Requester } from '../../../../gateway/context';
import type { Access, Subject } from '../../../../gateway/patient-data/contract';
import { unreleasedIn } from '../../../../gateway/patient-data/release';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';

/**
 * A report's members released on demand (PatientResults.membersOf, docs/patient-data.md §2) when
 * reports share members: a hospital whose CBC names its hemoglobin twice and whose second report
 * names the same hemoglobin again. Each member is put in gateway form and judged once, and every
 * report that names it gets that one released Observation; with `includeMembers` the members
 * asked for among the results are the ones membersOf gives.
 */
const NID = '350203199001010018';
const LAB = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }];
const observation = (id: string, loinc: string, value: number, unit: string): Resource =>
  ({
    resourceType: 'Observation',
    id,
    status: 'final',
    category: LAB,
    code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-11-25T09:00:00+08:00',
    valueQuantity: { value, unit, system: 'http://unitsofmeasure.org', code: unit },
  }) as Resource;
const report = (id: string, loinc: string, members: string[]): Resource =>
  ({
    resourceType: 'DiagnosticReport',
    id,
    status: 'final',
    code: { coding: [{ system: 'http://loinc.org', code: loinc }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: '2026-11-25T09:00:00+08:00',
    issued: '2026-11-25T11:00:00+08:00',
    result: members.map((m) => ({ reference: `Observation/${m}` })),
  }) as Resource;

const RESOURCES: Resource[] = [
  { resourceType: 'Patient', id: 'p1', identifier: [{ system: NATIONAL_ID_SYSTEM, value: NID }] } as Resource,
  observation('hb', '718-7', 135, 'g/L'),
  observation('wbc', '6690-2', 6.1, '10*9/L'),
  observation('glu', '2345-7', 5.2, 'mmol/L'),
  // the CBC names its hemoglobin twice; the glucose report names the same hemoglobin again
  report('cbc', '58410-2', ['hb', 'wbc', 'hb']),
  report('glu-report', '14749-6', ['glu', 'hb']),
];

describe.each(testDatabases())('members several reports name, released on demand, on %s', (_name, open) => {
  let t: TestDb;
  let server: FhirHospitalServer;
  let gw: StartedGateway;
  const subject: Subject = { identifier: { system: NATIONAL_ID_SYSTEM, value: NID }, param: 'patient.identifier' };
  const requester: Requester = { clientId: 'h2-his', hospitalId: 'h2', roles: ['clinician'], scopes: ['system/DiagnosticReport.rs'], user: { id: 'D1', roles: [] }, purposeOfUse: 'TREAT' };
  const accessed = (): Access => ({ requester, record: new AccessRecord(randomUUID()) });

  beforeAll(async () => {
    t = await open();
    server = await startFhirHospitalServer({ resources: RESOURCES });
    const hospital = (id: string, baseUrl: string) => ({ id, name: `医院 ${id}`, city: '350200', grade: '3A', recognizedItems: ['CBC', 'GLU'], timeoutMs: 3000, adapter: { type: 'fhir', baseUrl } });
    gw = await startGateway({ db: t, hospitals: [hospital('h1', server.url), hospital('h2', 'http://127.0.0.1:9/fhir')], consentDefault: 'permit' });
  }, 60_000);
  afterAll(async () => {
    await gw?.close();
    await server?.close();
    await t?.close();
  });

  const reportsOf = (results: Array<{ resource: { resourceType: string; id?: string } }>) =>
    Object.fromEntries(results.filter((f) => f.resource.resourceType === 'DiagnosticReport').map((f) => [f.resource.id!.split('.').pop()!, f])) as Record<string, never>;

  it('a member two reports name (and one names twice) is released once, in gateway form once, and each report gets that same Observation', async () => {
    const access = accessed();
    const found = (await gw.services.patientData.results(access, subject, ['DiagnosticReport']))!;
    const { cbc, 'glu-report': glu } = reportsOf(found.results);
    const cbcMembers = found.membersOf(cbc);
    const gluMembers = found.membersOf(glu);
    // gateway ids, each member once in the report's order: never an id put in gateway form twice (h1.h1.hb)
    expect(cbcMembers.map((o) => o.id)).toEqual(['h1.hb', 'h1.wbc']);
    expect(gluMembers.map((o) => o.id)).toEqual(['h1.glu', 'h1.hb']);
    // the reports name their members by those ids
    expect((cbc as { resource: DiagnosticReport }).resource.result!.map((r) => r.reference)).toEqual(['Observation/h1.hb', 'Observation/h1.wbc', 'Observation/h1.hb']);
    // one released hemoglobin for both
    expect(gluMembers[1]).toBe(cbcMembers[0]);
    for (const o of [...cbcMembers, ...gluMembers]) {
      expectValidFhir(o);
      expect(unreleasedIn(o)).toBeUndefined();
      // annotated once: one recognition extension
      expect((o.extension ?? []).filter((e) => e.url.endsWith('/StructureDefinition/recognition'))).toHaveLength(1);
    }
    expect(access.record.suppressed).toBe(false);
  });

  it('with includeMembers, the members among the results are the ones membersOf gives', async () => {
    const found = (await gw.services.patientData.results(accessed(), subject, ['DiagnosticReport'], { includeMembers: true }))!;
    const observations = found.results.filter((f) => f.resource.resourceType === 'Observation').map((f) => f.resource as Observation);
    expect(observations.map((o) => o.id).sort()).toEqual(['h1.glu', 'h1.hb', 'h1.wbc']);
    const { cbc, 'glu-report': glu } = reportsOf(found.results);
    const byId = new Map(observations.map((o) => [o.id, o]));
    for (const m of [...found.membersOf(cbc), ...found.membersOf(glu)]) expect(m).toBe(byId.get(m.id));
    expect(found.membersOf(cbc).map((o) => o.id)).toEqual(['h1.hb', 'h1.wbc']);
  });
});
