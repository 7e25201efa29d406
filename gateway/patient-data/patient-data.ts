import type { DiagnosticReport, Observation } from '@medplum/fhirtypes';
import type { ResultResource, ResultType } from '../../adapters/adapter';
import type { ConsentGate, ConsentService } from '../../consent/contract';
import type { GatewayConfig } from '../config';
import type { Clock } from '../context';
import type { Federation, HospitalAnswer } from '../federation/federation';
import { parseGatewayId, securityLabels, toGatewayForm } from '../federation/result-ids';
import { resultTime } from '../fhir/result-time';
import { forbidden, notFound, unprocessable } from '../fhir/outcomes';
import { mergeRefusal } from '../patient-index/patient-index';
import type { Metrics } from '../metrics';
import type { PatientIndex, RegionalPatient } from '../patient-index/contract';
import { lookupPatientByIdentifier } from '../patient-index/patient-lookup';
import { minimalPatientResource, patientResource } from '../patient-index/patient-resource';
import { NATIONAL_ID_SYSTEM } from '../patient-index/national-id';
import type { RecognitionRules } from '../recognition/contract';
import type { Access, FoundResult, PatientData, PatientResults, PatientView, Subject } from './contract';
import { identityView, type AskedBy } from './identity-view';
import { isReleased, release } from './release';
import type { PacsClient } from '../dicomweb/contract';
import { attachDicomwebEndpoint } from '../dicomweb/endpoint';
import { findImagingStudies, retrieveStudyImages } from './dicomweb-access';
import { feedCondition, parseFedPatient } from './identity-feed';

/**
 * The guarded path to patient data (docs/patient-data.md). It holds the only references to the
 * hospitals (through the federation) and to the patient index that asks them; route handlers and
 * operations are given this object and nothing below it. Every answer is made here in one order:
 * find the patient → record them → judge consent → ask hospitals → gateway form → label and
 * consent filter per result → recognition → record what was released → mark it released.
 */
export function createPatientData(deps: {
  config: GatewayConfig;
  clock: Clock;
  metrics: Metrics;
  federation: Federation;
  patientIndex: PatientIndex;
  consent: ConsentService;
  recognition: RecognitionRules;
  /** the hospitals' PACS (DICOMweb), asked only for studies this path released */
  pacs?: PacsClient;
}): PatientData {
  const { config, clock, metrics, federation, patientIndex, consent, recognition } = deps;
  const counted = (operation: string, view = 'full') => metrics.patientDataAccess.inc({ operation, view });

  /** One hospital resource made an answer, or null when consent (with its labels) withholds it. */
  function present(resource: ResultResource, members: Observation[] | undefined, hospitalId: string, patientId: string, gate: ConsentGate, access: Access, now: Date): FoundResult | null {
    const item = recognition.matchItem(resource, members);
    const out = toGatewayForm(resource, hospitalId, { publicBaseUrl: config.publicBaseUrl, patientId, sensitive: Boolean(item?.sensitive) });
    const permitted = gate.permits({
      resourceType: resource.resourceType,
      hospitalId,
      date: resultTime(resource),
      catalogItem: item?.code,
      securityLabels: securityLabels(out),
    });
    if (!permitted) return null;
    recognition.annotate(out, item, hospitalId, access.requester.hospitalId, now);
    // a study whose hospital's PACS is connected points at the gateway's DICOMweb for its images
    if (out.resourceType === 'ImagingStudy' && deps.pacs?.has(hospitalId)) attachDicomwebEndpoint(out, config.publicBaseUrl);
    // which kinds of result were released, never their values: the resident's access report names them
    if (item) access.record.items.add(item.code);
    return { resource: release(out), hospitalId, item };
  }

  /** Consent judged for one patient before it was known who answers (see consentAhead). */
  type JudgedAhead = { patientId: string; gate: Promise<ConsentGate> };

  async function gate(access: Access, patientId: string, ahead?: JudgedAhead): Promise<ConsentGate> {
    access.record.addPatient(patientId);
    // Consent first: a patient whose consent permits nothing costs no hospital a request.
    // A judgement made ahead counts only for the patient it was made for.
    const g = await (ahead?.patientId === patientId ? ahead.gate : consent.gateFor(patientId, access.requester));
    access.record.breakGlass ||= g.breakGlass;
    return g;
  }

  /**
   * Consent for a patient named by regional id, judged while the index is read rather than after
   * it (one database round trip less before the hospitals are asked: most searches name the
   * patient so). gate() uses it only if that id is the patient who answers (known, not merged);
   * otherwise it is dropped, refusal included, and consent is judged for the patient who answers.
   */
  function consentAhead(subject: Subject, access: Access): JudgedAhead | undefined {
    if (!('patientId' in subject)) return undefined;
    const judged = consent.gateFor(subject.patientId, access.requester);
    judged.catch(() => undefined); // awaited only if used
    return { patientId: subject.patientId, gate: judged };
  }

  /** The patient a subject names, and what asking the hospitals found out on the way. */
  async function subjectPatient(subject: Subject, opts: { firstFound?: boolean } = {}) {
    if ('patientId' in subject) return { patient: await patientIndex.get(subject.patientId), lookup: undefined };
    return lookupPatientByIdentifier(patientIndex, config, subject.identifier, subject.param, opts);
  }

  /** The identity a merge names, as stored (never its survivor): by regional id or national id. */
  async function identityOf(subject: Subject, which: 'source' | 'target'): Promise<RegionalPatient> {
    const p = 'patientId' in subject ? await patientIndex.get(subject.patientId) : (await lookupPatientByIdentifier(patientIndex, config, subject.identifier, subject.param)).patient;
    if (!p) throw unprocessable(`The ${which} patient is not known`, undefined, 'unknown-patient');
    return p;
  }

  /** A registrar changes identities their hospital knows: one of the two must have a record there. */
  async function mayChangeIdentity(access: Access, identities: RegionalPatient[]) {
    const own = access.requester.hospitalId;
    if (!own || !access.requester.roles.includes('registrar')) throw forbidden("Identities are merged by a member hospital's registrar", 'registrar-hospital-required');
    if (!identities.some((p) => p.links.some((l) => l.hospitalId === own))) {
      throw forbidden('Neither patient has a record at your hospital', 'not-own-resident');
    }
  }

  /** A merged identity's results are its survivor's (docs/patient-data.md §5): the survivor answers for both. */
  const answering = async (p: RegionalPatient | null) => (p?.mergedInto ? patientIndex.survivorOf(p.id) : p);

  return {
    async results(access, subject, types, opts = {}) {
      counted('results');
      const ahead = consentAhead(subject, access);
      const found = await subjectPatient(subject, { firstFound: true });
      const patient = await answering(found.patient);
      // what asking the hospitals found out was about the identity asked for, not its survivor
      const lookup = patient === found.patient ? found.lookup : undefined;
      if (!patient) return null;
      const g = await gate(access, patient.id, ahead);
      const now = clock.now();
      const presentTypes: readonly ResultType[] = opts.includeMembers && !types.includes('Observation') ? [...types, 'Observation'] : types;
      // A report's members are released when an answer asks for them (membersOf), judged as of the
      // search; with includeMembers every Observation was presented among the results already, and
      // those released are the members.
      const releaseMember = (o: Observation, hospitalId: string): Observation | null => {
        if (opts.includeMembers) return isReleased(o) ? o : null;
        return (present(o, undefined, hospitalId, patient.id, g, access, now)?.resource as Observation | undefined) ?? null;
      };
      const members = reportMembers(releaseMember, () => (access.record.suppressed = true));
      // Each hospital's answer is presented as soon as it arrives, while slower hospitals are still
      // being waited for, so only the last one's share is added to the search's latency.
      const presentAnswer = ({ hospitalId, results: r }: HospitalAnswer) => {
        const byLocalId = new Map<string, Observation>();
        for (const o of (r.Observation ?? []) as Observation[]) if (o.id) byLocalId.set(o.id, o);
        const found: FoundResult[] = [];
        let withheld = false;
        for (const type of presentTypes) {
          for (const resource of r[type] ?? []) {
            const sent = resource.resourceType === 'DiagnosticReport' ? sentMembers(resource, byLocalId) : undefined;
            const f = present(resource, sent, hospitalId, patient.id, g, access, now);
            if (!f) {
              withheld = true;
              continue;
            }
            found.push(f);
            if (sent?.length) members.add(f.resource, sent, hospitalId);
          }
        }
        return { found, withheld };
      };
      const { answers, failures } = await federation.fanOut(patient, types, { hospitals: opts.hospitals, preflight: lookup, budgetMs: opts.budgetMs }, presentAnswer);
      const results: FoundResult[] = [];
      let suppressed = false;
      for (const a of answers) {
        for (const f of a.found) results.push(f);
        suppressed ||= a.withheld;
      }
      for (const r of results) access.record.hospitalsReturned.add(r.hospitalId);
      access.record.suppressed ||= suppressed;
      return { patientId: patient.id, results, failures, suppressed, membersOf: members.of } satisfies PatientResults;
    },

    async concerns(access, patientId) {
      counted('concerns', 'none');
      const patient = await patientIndex.get(patientId);
      if (patient) access.record.addPatient(patient.id);
      return Boolean(patient);
    },

    async readResult(access, type, id) {
      counted('read-result');
      const parsed = parseGatewayId(id);
      if (!parsed || !federation.has(parsed.hospitalId)) throw notFound(`${type}/${id} is not known`);
      const read = await federation.read(parsed.hospitalId, type, parsed.localId);
      if (!read || read.resource.resourceType !== type) throw notFound(`${type}/${id} is not known`);
      const patient = await answering(await patientIndex.resolveNationalId(read.nationalId));
      if (!patient) throw notFound(`${type}/${id} is not known`);
      const g = await gate(access, patient.id);
      const members =
        read.resource.resourceType === 'DiagnosticReport'
          ? sentMembers(read.resource, new Map((read.contained ?? []).map((o) => [o.id ?? '', o])))
          : undefined;
      const found = present(read.resource, members, parsed.hospitalId, patient.id, g, access, clock.now());
      if (!found) {
        access.record.suppressed = true;
        throw forbidden("This result is withheld under the patient's consent", 'consent-withheld');
      }
      access.record.hospitalsReturned.add(parsed.hospitalId);
      access.record.resourceIds.add(`${type}/${id}`);
      return found;
    },

    async merge(access, m) {
      counted('merge', 'none');
      const [source, target] = await Promise.all([identityOf(m.source, 'source'), identityOf(m.target, 'target')]);
      access.record.addPatient(source.id);
      access.record.addPatient(target.id);
      access.record.reason = m.reason;
      await mayChangeIdentity(access, [source, target]);
      const problem = await patientIndex.mergeProblem(source.id, target.id);
      if (problem) throw mergeRefusal(problem);
      if (!m.preview) await patientIndex.merge(source.id, target.id, { by: actorOf(access), reason: m.reason });
      const view = await this.findPatient(access, { patientId: target.id });
      return view!;
    },

    identityGroup: (patientId) => patientIndex.identityGroup(patientId),

    async feed(access, f) {
      counted('identity-feed', 'none');
      const own = access.requester.hospitalId;
      if (!own || !access.requester.roles.includes('registrar')) throw forbidden("Identities are fed by a member hospital's registrar", 'registrar-hospital-required');
      const conditionMrn = f.conditional ? feedCondition(f.identifier, { config, hospitalId: own }) : undefined;
      const fed = parseFedPatient(f.body, { config, hospitalId: own });
      const { patientId, created } = await patientIndex.feed({ hospitalId: own, conditionMrn, nationalId: fed.nationalId, mrns: fed.mrns });
      access.record.resourceIds.add(patientId);
      const view = await this.findPatient(access, { patientId });
      return { view: view!, created };
    },

    async unmerge(access, m) {
      counted('unmerge', 'none');
      const source = await identityOf(m.source, 'source');
      access.record.addPatient(source.id);
      access.record.reason = m.reason;
      if (!source.mergedInto) throw unprocessable('The patient is not merged', undefined, 'not-merged');
      access.record.addPatient(source.mergedInto);
      await mayChangeIdentity(access, [source, (await patientIndex.get(source.mergedInto)) ?? source]);
      await patientIndex.unmerge(source.id, { by: actorOf(access), reason: m.reason });
      const view = await this.findPatient(access, { patientId: source.id });
      return view!;
    },

    async findPatientsByName(access, name, birthDate) {
      const found = await federation.findByName(name, birthDate);
      const own = access.requester.hospitalId;
      const views: PatientView[] = [];
      let withheld = false;
      // the national id encodes the birth date: a hospital's match under another date is not this resident
      const compact = birthDate.replace(/-/g, '');
      const nids = found.nationalIds.filter((n) => n.slice(6, 14) === compact).slice(0, MAX_NAME_MATCHES);
      // each match is resolved and judged on its own: all at once, kept in the hospitals' order
      const judged = await Promise.all(
        nids.map(async (nid) => {
          const patient = await answering(await patientIndex.resolveNationalId(nid));
          if (!patient) return undefined;
          const g = await consent.gateIfPermitted(patient.id, access.requester);
          return { patient, g, view: identityView({ patient, permitted: Boolean(g), askerHospital: own, askedBy: { nameAndBirthDate: true } }) };
        }),
      );
      for (const j of judged) {
        if (!j) continue;
        const { patient, g, view } = j;
        if (view.kind === 'unknown') {
          withheld = true;
          continue;
        }
        access.record.addPatient(patient.id);
        if (view.kind === 'minimal') {
          withheld = true;
          views.push({ resource: release(minimalPatientResource(patient, config, view)), withheld: true });
        } else {
          access.record.breakGlass ||= g!.breakGlass;
          views.push({ resource: release(patientResource(patient, config)), withheld: false });
        }
      }
      if (withheld) access.record.suppressed = true;
      counted('find-by-name', views.some((v) => !v.withheld) ? 'full' : views.length ? 'minimal' : 'none');
      return { views, withheld, unsearchable: found.unsearchable, failures: found.failures };
    },

    async reportSubject(access, patientId) {
      counted('access-report', 'none');
      const [patient, survivor] = await Promise.all([patientIndex.get(patientId), patientIndex.survivorOf(patientId)]);
      if (!patient || !survivor) throw notFound(`Patient/${patientId.slice(0, 64)} is not known`);
      access.record.addPatient(patient.id);
      // the survivor and every identity merged into it: the same group consent judges
      const group = [survivor.id, ...(survivor.replaces ?? [])];
      const own = access.requester.hospitalId;
      // A registrar hands the report to a resident of their own hospital; auditors see every resident's.
      if (!access.requester.roles.includes('auditor') && (!own || !survivor.links.some((l) => l.hospitalId === own))) {
        throw forbidden('The resident has no record at your hospital', 'not-own-resident');
      }
      // the national id masked as on a receipt: the report may be printed and carried
      const nid = patient.nationalId;
      return { ids: group, label: `身份证号 ${nid.slice(0, 6)}********${nid.slice(-4)}（区域患者号 ${patient.id}）` };
    },

    imagingStudies(access, subject, filter) {
      return findImagingStudies(this, deps.pacs, config.publicBaseUrl, access, subject, filter);
    },

    retrieveImages(access, imagingStudyId, req) {
      return retrieveStudyImages(this, deps.pacs, config.publicBaseUrl, access, imagingStudyId, req);
    },

    async findPatient(access, subject, opts = {}) {
      const byNationalId = 'identifier' in subject && (!subject.identifier.system || subject.identifier.system === NATIONAL_ID_SYSTEM);
      let { patient } = await subjectPatient(subject);
      if (!patient) {
        counted('find-patient', 'none');
        return null;
      }
      access.record.addPatient(patient.id);
      const own = access.requester.hospitalId;
      // Asked by national id, the asker's own hospital is asked whether it knows the resident, if the
      // index does not know yet: that tells the asker nothing new, and gives a registrar the link its
      // consent needs (docs/consent.md §2).
      if (byNationalId && own && !patient.links.some((l) => l.hospitalId === own)) {
        patient = (await patientIndex.lookupNationalId(patient.nationalId, { refresh: true, hospitals: [own] })).patient ?? patient;
      }
      const g = await consent.gateIfPermitted(patient.id, access.requester);
      const askedBy: AskedBy = byNationalId ? { nationalId: true } : 'identifier' in subject ? { mrn: subject.identifier.value } : { regionalId: true };
      const view = identityView({ patient, permitted: Boolean(g), askerHospital: own, askedBy });
      if (view.kind !== 'full') {
        counted('find-patient', view.kind === 'unknown' ? 'none' : 'minimal');
        access.record.suppressed = true;
        if (view.kind === 'unknown') return null;
        return { resource: release(minimalPatientResource(patient, config, view)), withheld: true } satisfies PatientView;
      }
      access.record.breakGlass ||= g!.breakGlass;
      // Links the index does not have yet are asked for only where the asker may see them.
      if (opts.completeLinks && byNationalId) patient = (await patientIndex.resolveNationalId(patient.nationalId, { refresh: true })) ?? patient;
      counted('find-patient', 'full');
      return { resource: release(patientResource(patient, config)), withheld: false } satisfies PatientView;
    },
  };

}

/** Residents one name + birth date search shows at most (a common name on a common day is rare, but bounded). */
const MAX_NAME_MATCHES = 20;

/** Who merges, as the merge row keeps it: the client and the person it acts for. */
const actorOf = (access: Access) => `${access.requester.clientId}/${access.requester.user?.id ?? '-'}`;

/**
 * The members of a search's released reports, released on demand (PatientResults.membersOf): each
 * member once, however many reports name it (`release` puts it in gateway form in place, so twice
 * would corrupt it), and every report that names it given the same released Observation.
 * `release` answers the released member, or null when consent withholds it (then `withheld`).
 */
function reportMembers(release: (member: Observation, hospitalId: string) => Observation | null, withheld: () => void) {
  const byReport = new Map<ResultResource, { sent: Observation[]; hospitalId: string; released?: Observation[] }>();
  const judged = new Map<Observation, Observation | null>();
  return {
    add(report: ResultResource, sent: Observation[], hospitalId: string): void {
      byReport.set(report, { sent, hospitalId });
    },
    of(result: FoundResult): Observation[] {
      const entry = byReport.get(result.resource);
      if (!entry) return [];
      if (!entry.released) {
        entry.released = [];
        for (const o of new Set(entry.sent)) {
          let m = judged.get(o);
          if (m === undefined) judged.set(o, (m = release(o, entry.hospitalId)));
          if (m) entry.released.push(m);
          else withheld();
        }
      }
      return entry.released;
    },
  };
}

/** A report's member Observations among those its hospital sent, in the report's order. */
function sentMembers(report: DiagnosticReport, byLocalId: Map<string, Observation>): Observation[] {
  return (report.result ?? [])
    .map((ref) => byLocalId.get(ref.reference?.split('/').pop() ?? ''))
    .filter((o): o is Observation => Boolean(o));
}
