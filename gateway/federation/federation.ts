import type { DiagnosticReport, Observation, OperationOutcome } from '@medplum/fhirtypes';
import type { Logger } from 'pino';
import type { HospitalAdapter, HospitalResults, LocalPatient, ResultResource, ResultType } from '../../adapters/adapter';
import type { GatewayConfig } from '../config';
import type { AccessRecord, Clock, Requester } from '../context';
import { forbidden, hospitalFailureOutcome, notFound, serviceUnavailable } from '../fhir/outcomes';
import type {
  ConsentGate,
  ConsentService,
  FoundResult,
  PatientIndex,
  PatientResults,
  RecognitionService,
  RegionalPatient,
  ResultsService,
} from '../services';
import { HospitalCallError, type HospitalCaller } from './hospital-caller';
import { parseGatewayId, resultTime, securityLabels, toGatewayForm } from './result-ids';
import { errorForLog } from '../log-safe';

/**
 * The federated search's core (API.md §4): every hospital asked in parallel within its deadline,
 * consent judged on every result, every result put in gateway form and annotated for recognition.
 * All paths to patient results go through here, so none can skip consent (STYLE.md §5).
 */
export function createResultsService(deps: {
  config: GatewayConfig;
  clock: Clock;
  log: Logger;
  callers: Map<string, HospitalCaller>;
  patientIndex: PatientIndex;
  consent: ConsentService;
  recognition: () => RecognitionService;
}): FederatedResults {
  const { config, callers, patientIndex, consent, clock } = deps;

  // Hospitals that said they do not know a resident are not asked again for a minute: a search of
  // a patient known in 3 of 10 hospitals would otherwise ask 7 hospitals in vain every time.
  const unknownUntil = new Map<string, number>();
  const UNKNOWN_TTL_MS = 60_000;

  async function fromHospital(
    hospitalId: string,
    caller: HospitalCaller,
    patient: RegionalPatient,
    types: readonly ResultType[],
    pending?: Promise<LocalPatient | null>,
  ): Promise<{ hospitalId: string; results: Partial<HospitalResults> } | null> {
    const known = patient.links.find((l) => l.hospitalId === hospitalId);
    if (pending && !known) {
      // The index is still asking this hospital who the resident is: wait for that answer (within
      // its deadline) rather than ask again, so a slow hospital costs one timeout, not two.
      const local = await pending;
      if (!local) return null;
      return caller.call('results', async (opts) => ({ hospitalId, results: await caller.adapter.fetchResults(local, types, opts) }));
    }
    return caller.call('results', async (opts) => {
      let local: LocalPatient | null = known ? { localId: known.localId, mrns: known.mrns } : null;
      if (!local) {
        const key = `${patient.id}|${hospitalId}`;
        if ((unknownUntil.get(key) ?? 0) > Date.now()) return null;
        local = await caller.adapter.findPatient(patient.nationalId, opts);
        if (!local) {
          if (unknownUntil.size > 100_000) unknownUntil.clear();
          unknownUntil.set(key, Date.now() + UNKNOWN_TTL_MS);
          return null;
        }
        // Remember the link (EMPI), but never let a failed write fail the search.
        patientIndex.link(patient.id, { hospitalId, localId: local.localId, mrns: local.mrns }).catch((e) => {
          deps.log.warn({ hospital: hospitalId, err: errorForLog(e) }, 'could not store patient link');
        });
      }
      const results = await caller.adapter.fetchResults(local, types, opts);
      return { hospitalId, results };
    });
  }

  /** The one way a hospital's resource becomes an answer: item, gateway form, consent, recognition. */
  function present(
    resource: ResultResource,
    members: Observation[] | undefined,
    hospitalId: string,
    patientId: string,
    gate: ConsentGate,
    requester: Requester,
    recognition: RecognitionService,
    now: Date,
  ): FoundResult | null {
    const item = recognition.matchItem(resource, members);
    const out = toGatewayForm(resource, hospitalId, {
      publicBaseUrl: config.publicBaseUrl,
      patientId,
      sensitive: Boolean(item?.sensitive),
    });
    const permitted = gate.permits({
      resourceType: resource.resourceType,
      hospitalId,
      date: resultTime(resource),
      catalogItem: item?.code,
      securityLabels: securityLabels(out),
    });
    if (!permitted) return null;
    recognition.annotate(out, item, hospitalId, requester.hospitalId, now);
    return { resource: out, hospitalId, item };
  }

  return {
    async patientResults(patient, types, requester, record, opts = {}) {
      record.addPatient(patient.id);
      // Consent first: a patient whose consent permits nothing costs no hospital a request.
      const gate = await consent.gateFor(patient.id, requester);
      record.breakGlass ||= gate.breakGlass;
      const wanted = new Set(opts.hospitals ?? callers.keys());
      // Adapters return a report's member observations with it (HospitalAdapter.fetchResults), so a
      // report search costs each hospital one query and reports still match items through them.
      const pre = opts.preflight;
      const now = clock.now();
      const recognition = deps.recognition();
      const presentTypes: readonly ResultType[] = opts.includeMembers && !types.includes('Observation') ? [...types, 'Observation'] : types;
      // Each hospital's answer is presented as soon as it arrives, while slower hospitals are still
      // being waited for, so only the last one's share is added to the search's latency.
      const presentAnswer = ({ hospitalId, results: r }: { hospitalId: string; results: Partial<HospitalResults> }) => {
        const byLocalId = new Map<string, Observation>();
        for (const o of (r.Observation ?? []) as Observation[]) if (o.id) byLocalId.set(o.id, o);
        const found: FoundResult[] = [];
        let withheld = false;
        for (const type of presentTypes) {
          for (const resource of r[type] ?? []) {
            const members = resource.resourceType === 'DiagnosticReport' ? membersOf(resource, byLocalId) : undefined;
            const f = present(resource, members, hospitalId, patient.id, gate, requester, recognition, now);
            if (f) found.push(f);
            else withheld = true;
          }
        }
        return { found, withheld };
      };
      const calls = [...callers]
        .filter(([id]) => wanted.has(id) && !pre?.unknownAt.has(id) && !pre?.failedAt.has(id))
        .map(([id, caller]) => fromHospital(id, caller, patient, types, pre?.pendingAt?.get(id)).then((v) => v && presentAnswer(v)));
      const settled = await Promise.allSettled(calls);
      // Hospitals that just failed to say whether they know the resident are not asked again.
      const failures: OperationOutcome[] = [...(pre?.failedAt ?? new Map<string, OperationOutcome>()).entries()]
        .filter(([id]) => wanted.has(id))
        .map(([, o]) => o);
      const results: FoundResult[] = [];
      let suppressed = false;
      for (const s of settled) {
        if (s.status === 'rejected') {
          const e = s.reason;
          if (e instanceof HospitalCallError) failures.push(hospitalFailureOutcome(e.hospitalId, e.kind, e.reason));
          else throw e;
          continue;
        }
        if (!s.value) continue;
        for (const f of s.value.found) results.push(f);
        suppressed ||= s.value.withheld;
      }
      for (const r of results) record.hospitalsReturned.add(r.hospitalId);
      record.suppressed ||= suppressed;
      return { results, failures, suppressed } satisfies PatientResults;
    },

    async readResult(type, id, requester, record) {
      const parsed = parseGatewayId(id);
      const caller = parsed && callers.get(parsed.hospitalId);
      if (!parsed || !caller) throw notFound(`${type}/${id} is not known`);
      let read: Awaited<ReturnType<HospitalAdapter['readResult']>>;
      try {
        read = await caller.call('read', (opts) => caller.adapter.readResult(type, parsed.localId, opts));
      } catch (e) {
        if (e instanceof HospitalCallError) {
          throw serviceUnavailable(`Hospital ${e.hospitalId} did not answer (${e.kind})`, `hospital-${e.kind}`);
        }
        throw e;
      }
      if (!read || read.resource.resourceType !== type) throw notFound(`${type}/${id} is not known`);
      const patient = await patientIndex.resolveNationalId(read.nationalId);
      if (!patient) throw notFound(`${type}/${id} is not known`);
      record.addPatient(patient.id);
      const gate = await consent.gateFor(patient.id, requester);
      record.breakGlass ||= gate.breakGlass;
      const members =
        read.resource.resourceType === 'DiagnosticReport'
          ? membersOf(read.resource, new Map((read.contained ?? []).map((o) => [o.id ?? '', o])))
          : undefined;
      const found = present(read.resource, members, parsed.hospitalId, patient.id, gate, requester, deps.recognition(), clock.now());
      if (!found) {
        record.suppressed = true;
        throw forbidden('This result is withheld under the patient\'s consent', 'consent-withheld');
      }
      record.hospitalsReturned.add(parsed.hospitalId);
      record.resourceIds.add(`${type}/${id}`);
      return found;
    },
  };
}

function membersOf(report: DiagnosticReport, byLocalId: Map<string, Observation>): Observation[] {
  return (report.result ?? [])
    .map((ref) => byLocalId.get(ref.reference?.split('/').pop() ?? ''))
    .filter((o): o is Observation => Boolean(o));
}

/** The federated results service, with reads by gateway id beside the search. */
export interface FederatedResults extends ResultsService {
  /** one result by gateway id, consent and recognition applied; 404 unknown, 403 withheld, 503 hospital down */
  readResult(type: ResultType, id: string, requester: Requester, record: AccessRecord): Promise<FoundResult>;
}
