import type { DiagnosticReport, ImagingStudy, Observation, OperationOutcome } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';
import { parseConfig, type GatewayConfig } from '../../gateway/config';
import { AccessRecord, type Requester } from '../../gateway/context';
import { forbidden } from '../../gateway/fhir/outcomes';
import type { FhirRequest } from '../../gateway/http/route';
import type { Access, FoundResult, PatientData, Subject } from '../../gateway/patient-data/contract';
import type { PatientDirectory, PatientLink, RegionalPatient } from '../../gateway/patient-index/contract';
import type { RecognitionRules } from '../../gateway/recognition/contract';

/**
 * Small real implementations of the recognition operations' collaborators for domain tests: a
 * patient index held in memory and patient data that serves fixed results per patient the way the
 * guarded one does (unknown patients, types filtered, consent refusals, hospital failures, every
 * result matched and annotated by the recognition rules under test).
 */

export const LOINC = 'http://loinc.org';

export const HOSPITALS = [
  { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '350200', grade: '3A' },
  { id: 'xm-dyyy', name: '厦门大学附属第一医院', city: '350200', grade: '3A' },
  { id: 'zz-sy', name: '漳州市医院', city: '350600', grade: '3A' },
  { id: 'qz-dyyy', name: '泉州市第一医院', city: '350500', grade: '3B' },
  { id: 'xm-hc', name: '厦门市海沧医院', city: '350200', grade: '2A' },
  { id: 'zz-lh', name: '龙海区第一医院', city: '350600', grade: '2B' },
  { id: 'qz-sq', name: '丰泽区社区卫生服务中心', city: '350500', grade: '1A' },
] as const;

const ALL_ITEMS = ['CBC', 'LFT', 'RFT', 'ELEC', 'GLU', 'HBA1C', 'LIPID', 'COAG', 'CT-CHEST', 'CT-HEAD', 'MR-LSPINE', 'US-ABD', 'HIV'];

export function testConfig(): GatewayConfig {
  return parseConfig({
    publicBaseUrl: 'http://127.0.0.1:8080',
    hospitals: HOSPITALS.map((h) => ({
      ...h,
      // zz-lh holds the mark for CBC only, so not-accredited is exercised
      recognizedItems: h.id === 'zz-lh' ? ['CBC'] : ALL_ITEMS,
      adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' },
    })),
  });
}

export class MemoryPatientIndex implements PatientDirectory {
  readonly patients = new Map<string, RegionalPatient>();
  add(id: string, nationalId: string): RegionalPatient {
    const p = { id, nationalId, links: [] };
    this.patients.set(id, p);
    return p;
  }
  async resolveNationalId(nationalId: string) {
    return [...this.patients.values()].find((p) => p.nationalId === nationalId.toUpperCase()) ?? null;
  }
  async get(id: string) {
    return this.patients.get(id) ?? null;
  }
  async identityGroup(id: string) {
    return [id];
  }
  async link(patientId: string, link: PatientLink) {
    const p = this.patients.get(patientId);
    if (p) p.links = [...p.links.filter((l) => l.hospitalId !== link.hospitalId), link];
  }
}

export interface Stored {
  hospitalId: string;
  resource: ResultResource;
}

export class MemoryResults implements Pick<PatientData, 'results' | 'concerns'> {
  readonly data = new Map<string, Stored[]>();
  readonly failures: OperationOutcome[] = [];
  /** patients whose consent permits nothing */
  readonly denied = new Set<string>();
  /** hospital results consent withholds */
  readonly withheld = new Set<string>();
  calls = 0;
  constructor(
    private readonly recognition: RecognitionRules,
    private readonly index: MemoryPatientIndex,
  ) {}

  async concerns({ record }: Access, patientId: string) {
    const p = await this.index.get(patientId);
    if (p) record.addPatient(p.id);
    return Boolean(p);
  }

  add(patientId: string, hospitalId: string, ...resources: ResultResource[]): void {
    const list = this.data.get(patientId) ?? [];
    for (const resource of resources) list.push({ hospitalId, resource });
    this.data.set(patientId, list);
  }

  async results({ requester, record }: Access, subject: Subject, types: readonly ResultType[]) {
    const patient = 'patientId' in subject ? await this.index.get(subject.patientId) : null;
    if (!patient) return null;
    this.calls++;
    record.addPatient(patient.id);
    if (this.denied.has(patient.id)) throw forbidden('No consent permits this access', 'consent-required');
    const recognition = this.recognition;
    const all = this.data.get(patient.id) ?? [];
    const observations = new Map<string, Observation>();
    for (const s of all) if (s.resource.resourceType === 'Observation') observations.set(`Observation/${s.resource.id}`, s.resource);
    const results: FoundResult[] = [];
    const membersByReport = new Map<ResultResource, Observation[]>();
    let suppressed = false;
    for (const s of all) {
      if (!types.includes(s.resource.resourceType)) continue;
      if (this.withheld.has(s.hospitalId)) {
        suppressed = true;
        continue;
      }
      const resource = structuredClone(s.resource);
      const members =
        resource.resourceType === 'DiagnosticReport'
          ? (resource.result ?? []).map((r) => observations.get(r.reference ?? '')).filter((o): o is Observation => Boolean(o))
          : undefined;
      const item = recognition.matchItem(resource, members);
      recognition.annotate(resource, item, s.hospitalId, requester.hospitalId, new Date());
      results.push({ resource, hospitalId: s.hospitalId, item });
      if (members) membersByReport.set(resource, members.map((m) => structuredClone(m)));
      record.hospitalsReturned.add(s.hospitalId);
    }
    const membersOf = (f: FoundResult) => membersByReport.get(f.resource) ?? [];
    return { patientId: patient.id, results, failures: [...this.failures], suppressed, membersOf };
  }
}

export function clinician(hospitalId: string, user: { id: string; name?: string } | null = { id: 'D1029', name: '林医生' }): Requester {
  return {
    clientId: `${hospitalId}-his`,
    hospitalId,
    roles: ['clinician'],
    scopes: ['system/DiagnosticReport.rs'],
    ...(user ? { user: { ...user, roles: [] } } : {}),
    purposeOfUse: 'TREAT',
  };
}

export const auditor: Requester = { clientId: 'audit-office', roles: ['auditor'], scopes: ['system/AuditEvent.rs'], purposeOfUse: 'TREAT' };

export function request(opts: { requester?: Requester; params?: Record<string, string>; query?: Record<string, string[]>; body?: unknown; method?: string }): FhirRequest {
  return {
    method: opts.method ?? 'GET',
    params: opts.params ?? {},
    query: opts.query ?? {},
    body: opts.body,
    headers: {},
    requester: opts.requester,
    record: new AccessRecord('test-request'),
    originalUrl: '/test',
  };
}

// ---- result builders ----

export function obs(id: string, loinc: string, at: string, status: Observation['status'] = 'final'): Observation {
  return {
    resourceType: 'Observation',
    id,
    status,
    code: { coding: [{ system: LOINC, code: loinc }] },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: at,
  };
}

export function report(
  id: string,
  opts: { loinc?: string; at: string; status?: DiagnosticReport['status']; members?: string[]; category?: string; code?: { system?: string; code: string; display?: string }[]; text?: string },
): DiagnosticReport {
  return {
    resourceType: 'DiagnosticReport',
    id,
    status: opts.status ?? 'final',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: opts.category ?? 'LAB' }] }],
    code: {
      coding: opts.code ?? (opts.loinc ? [{ system: LOINC, code: opts.loinc }] : [{ system: 'urn:local', code: 'X' }]),
      ...(opts.text ? { text: opts.text } : {}),
    },
    subject: { reference: 'Patient/p1' },
    effectiveDateTime: opts.at,
    ...(opts.members ? { result: opts.members.map((m) => ({ reference: `Observation/${m}` })) } : {}),
  };
}

export function study(
  id: string,
  opts: { modality?: string; code?: string; at: string; description?: string; status?: ImagingStudy['status']; bodySite?: { code?: string; display?: string } },
): ImagingStudy {
  return {
    resourceType: 'ImagingStudy',
    id,
    status: opts.status ?? 'available',
    subject: { reference: 'Patient/p1' },
    started: opts.at,
    ...(opts.modality ? { modality: [{ system: 'http://dicom.nema.org/resources/ontology/DCM', code: opts.modality }] } : {}),
    ...(opts.code ? { procedureCode: [{ coding: [{ system: 'urn:local:exam', code: opts.code }] }] } : {}),
    ...(opts.description ? { description: opts.description } : {}),
    ...(opts.bodySite && opts.modality
      ? {
          series: [
            {
              uid: '1.2.3',
              modality: { system: 'http://dicom.nema.org/resources/ontology/DCM', code: opts.modality },
              bodySite: { system: 'http://snomed.info/sct', ...opts.bodySite },
            },
          ],
        }
      : {}),
  };
}
