import type { CapabilityStatement, DiagnosticReport, ImagingStudy, Patient } from '@medplum/fhirtypes';
import { useRef, useState } from 'preact/hooks';
import type { FhirClient } from '../../api/fhir-client';
import { NATIONAL_ID_SYSTEM } from '../../model/national-id';
import { summariseOutcomes, type OutcomeSummary } from '../../model/outcomes';
import { summarisePatient } from '../../model/patient';
import { buildTimeline, type TimelineRow } from '../../model/timeline';
import { errorText, isConsentRefusal, type ErrorText } from '../common/errors';
import { ErrorBox, Notice } from '../common/notices';
import { PatientPickList } from '../common/patient-pick-list';
import { useI18n, useServices } from '../context';
import { BreakGlassDialog } from './break-glass-dialog';
import { PatientPanel, type ResultsConsent } from './patient-panel';
import { PatientSearch, type PatientQuery } from './patient-search';
import { ResultDetail } from './result-detail';
import { Timeline } from './timeline';

type Lookup =
  | { kind: 'idle' }
  | { kind: 'searching' }
  | { kind: 'error'; error: ErrorText }
  | { kind: 'name-unsupported'; name: string; birthDate: string }
  | { kind: 'not-found'; name?: string; birthDate?: string }
  | { kind: 'pick'; patients: Patient[]; minimised: boolean }
  | { kind: 'found'; patient: Patient; minimised: boolean };

type Results =
  | { kind: 'none' }
  | { kind: 'loading' }
  | { kind: 'refused'; error: ErrorText }
  | { kind: 'error'; error: ErrorText }
  | { kind: 'loaded'; rows: TimelineRow[]; outcomes: OutcomeSummary };

/** Capability of the patient search, read once from GET /metadata: whether the gateway finds patients by name. */
let nameSearch: Promise<boolean> | undefined;
function supportsNameSearch(api: FhirClient): Promise<boolean> {
  nameSearch ??= api
    .get<CapabilityStatement>('/metadata')
    .then((cs) => {
      const params = new Set(cs.rest?.[0]?.resource?.find((r) => r.type === 'Patient')?.searchParam?.map((p) => p.name) ?? []);
      return params.has('name') && params.has('birthdate');
    })
    .catch(() => {
      nameSearch = undefined;
      return false;
    });
  return nameSearch;
}

/**
 * The clinician's work: find the patient, see the consent state, one timeline of results from
 * every city, a result's detail and the recognition decision; break-glass when consent refuses.
 * Everything is in memory: nothing about the patient goes to the address bar or to storage.
 */
export function ClinicianView(props: { breakGlass: boolean }) {
  const { t } = useI18n();
  const { api } = useServices();
  const [lookup, setLookup] = useState<Lookup>({ kind: 'idle' });
  const [results, setResults] = useState<Results>({ kind: 'none' });
  const [open, setOpen] = useState<TimelineRow | undefined>();
  const [askBreakGlass, setAskBreakGlass] = useState(false);
  const lastQuery = useRef<PatientQuery | undefined>(undefined);
  const generation = useRef(0);

  async function search(q: PatientQuery) {
    const gen = ++generation.current;
    const current = () => gen === generation.current;
    lastQuery.current = q;
    setOpen(undefined);
    setResults({ kind: 'none' });
    setLookup({ kind: 'searching' });
    try {
      let params: Array<[string, string]>;
      if (q.kind === 'id') params = [['identifier', `${NATIONAL_ID_SYSTEM}|${q.nationalId}`]];
      else {
        // Names are sent only to a gateway that declares it searches by them (minimum necessary).
        if (!(await supportsNameSearch(api))) {
          if (current()) setLookup({ kind: 'name-unsupported', name: q.name, birthDate: q.birthDate });
          return;
        }
        params = [
          ['name', q.name],
          ['birthdate', q.birthDate],
        ];
      }
      const found = await api.searchAll<Patient>({ path: '/Patient/_search', params });
      if (!current()) return;
      const minimised = summariseOutcomes(found.outcomes).suppressed;
      const patients = found.matches.filter((p) => p.resourceType === 'Patient');
      if (patients.length === 0) return setLookup(q.kind === 'id' ? { kind: 'not-found' } : { kind: 'not-found', name: q.name, birthDate: q.birthDate });
      if (patients.length > 1) return setLookup({ kind: 'pick', patients, minimised });
      choose(patients[0]!, minimised, gen);
    } catch (e) {
      if (current()) setLookup({ kind: 'error', error: errorText(t, e) });
    }
  }

  function choose(patient: Patient, minimised: boolean, gen = ++generation.current) {
    setLookup({ kind: 'found', patient, minimised });
    void loadResults(patient.id!, gen);
  }

  async function loadResults(patientId: string, gen: number) {
    setResults({ kind: 'loading' });
    const [reports, studies] = await Promise.allSettled([
      api.searchAll<DiagnosticReport>({
        path: '/DiagnosticReport/_search',
        params: [
          ['patient', patientId],
          ['_include', 'DiagnosticReport:result'],
          ['_count', '200'],
        ],
      }),
      api.searchAll<ImagingStudy>({
        path: '/ImagingStudy/_search',
        params: [
          ['patient', patientId],
          ['_count', '200'],
        ],
      }),
    ]);
    if (gen !== generation.current) return;
    if (reports.status === 'rejected') {
      const error = errorText(t, reports.reason);
      return setResults(isConsentRefusal(reports.reason) ? { kind: 'refused', error } : { kind: 'error', error });
    }
    const studyResult = studies.status === 'fulfilled' ? studies.value : undefined;
    performance.mark('xzq:results-received');
    const rows = buildTimeline(reports.value.matches, reports.value.includes, studyResult?.matches ?? []);
    setResults({ kind: 'loaded', rows, outcomes: summariseOutcomes([...reports.value.outcomes, ...(studyResult?.outcomes ?? [])]) });
  }

  const patient = lookup.kind === 'found' ? lookup.patient : undefined;
  const consentState = resultsConsent(results, props.breakGlass);
  const offerBreakGlass = !props.breakGlass ? () => setAskBreakGlass(true) : undefined;

  return (
    <div class="clinician">
      <PatientSearch busy={lookup.kind === 'searching'} onSearch={(q) => void search(q)} />

      {lookup.kind === 'error' && <ErrorBox error={lookup.error} />}
      {lookup.kind === 'not-found' && lookup.name === undefined && <Notice kind="info">{t('search.notFound')}</Notice>}
      {lookup.kind === 'not-found' && lookup.name !== undefined && (
        <div class="notice notice-info" role="status" data-testid="name-search-answer">
          <p>{t('search.notFoundByName')}</p>
          <p class="notice-detail">{t('search.criteria', { name: lookup.name, birthDate: lookup.birthDate ?? '' })}</p>
        </div>
      )}
      {lookup.kind === 'name-unsupported' && (
        <div class="notice notice-info" role="status" data-testid="name-search-answer">
          <p>{t('search.nameUnsupported')}</p>
          <p class="notice-detail">{t('search.criteria', { name: lookup.name, birthDate: lookup.birthDate })}</p>
        </div>
      )}
      {lookup.kind === 'pick' && <PatientPickList patients={lookup.patients} onPick={(p) => choose(p, lookup.minimised)} withGender />}

      {patient && <PatientPanel patient={summarisePatient(patient)} identityMinimised={lookup.kind === 'found' && lookup.minimised} results={consentState} />}

      {results.kind === 'loading' && (
        <p class="loading" role="status" aria-live="polite">
          {t('timeline.loading')}
        </p>
      )}
      {results.kind === 'refused' && (
        <ErrorBox error={results.error} title={t('refusal.title')}>
          {offerBreakGlass && (
            <button type="button" class="btn btn-danger" onClick={offerBreakGlass}>
              {t('bg.button')}
            </button>
          )}
        </ErrorBox>
      )}
      {results.kind === 'error' && <ErrorBox error={results.error} />}
      {results.kind === 'loaded' && patient && (
        <>
          <div hidden={open !== undefined}>
            <Timeline rows={results.rows} outcomes={results.outcomes} onOpen={setOpen} onBreakGlass={offerBreakGlass} />
          </div>
          {open && <ResultDetail key={open.key} row={open} patientId={patient.id!} onBack={() => setOpen(undefined)} />}
        </>
      )}

      {askBreakGlass && (
        <BreakGlassDialog
          onCancel={() => setAskBreakGlass(false)}
          onDone={() => {
            setAskBreakGlass(false);
            // the same search again, now with the break-glass token
            if (lastQuery.current) void search(lastQuery.current);
          }}
        />
      )}
    </div>
  );
}

/** The consent state the patient panel shows, read from how the results search went. */
function resultsConsent(results: Results, breakGlass: boolean): ResultsConsent {
  switch (results.kind) {
    case 'refused':
      return 'refused';
    case 'loaded':
      if (breakGlass) return 'break-glass';
      return results.outcomes.suppressed ? 'partial' : 'allowed';
    case 'loading':
      return 'loading';
    default:
      return 'unknown';
  }
}
