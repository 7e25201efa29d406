import type { Parameters, Patient } from '@medplum/fhirtypes';
import { useRef, useState } from 'preact/hooks';
import { ApiError } from '../../api/fhir-client';
import { label, type Translate } from '../../i18n';
import { accessedKind, accessReportPath, checkPeriod, cityCode, defaultPeriod, isRegionalId, readAccessReport, type AccessReport, type AccessRow, type Period } from '../../model/access-report';
import { chinaDateTime } from '../../model/format';
import type { Hospital } from '../../model/hospitals';
import { checkNationalId, NATIONAL_ID_SYSTEM } from '../../model/national-id';
import { maskNationalId } from '../../model/patient';
import { saveBlob } from '../common/download';
import { errorText, type ErrorText } from '../common/errors';
import { DateField, FieldError, IdField, NationalIdField, nationalIdProblem, SubmitButton } from '../common/fields';
import { ErrorBox, Notice } from '../common/notices';
import { PatientPickList } from '../common/patient-pick-list';
import { Segmented } from '../common/segmented';
import { TableHead } from '../common/table-head';
import { useI18n, useServices } from '../context';

/** Who the report is about: the regional id the API needs, and the national id when the person typed it (shown masked only). */
interface Subject {
  regionalId: string;
  nationalId?: string;
}

type State =
  | { kind: 'idle' }
  | { kind: 'loading' }
  | { kind: 'error'; error: ErrorText }
  | { kind: 'not-found' }
  | { kind: 'pick'; patients: Patient[]; nationalId: string; period: Period }
  | { kind: 'loaded'; report: AccessReport; subject: Subject; period: Period };

type Mode = 'national' | 'regional';

/**
 * The registrar's (and the auditor's) view of a resident's access report (PIPL Art. 44–45;
 * docs/audit.md §6): find the resident by national id (POST `/Patient/_search`, so the number
 * stays out of every URL) or by regional id, choose the Beijing-date period, read who accessed
 * what, print it (the print stylesheet leaves only the report, the national id masked) or save
 * the gateway's PDF. All of it in memory; the only URL with anything of the resident in it is the
 * report's own, and it carries the regional id and the two dates, which is what the API needs.
 */
export function AccessReportView() {
  const { t } = useI18n();
  const { api, user, hospitals } = useServices();
  // An auditor's token has no Patient scope: auditors ask by regional id (the audit trail shows it).
  const byNationalId = user.roles.includes('registrar') || user.roles.includes('clinician');
  const [mode, setMode] = useState<Mode>(byNationalId ? 'national' : 'regional');
  const [nationalId, setNationalId] = useState('');
  const [regionalId, setRegionalId] = useState('');
  const [period, setPeriod] = useState<Period>(() => defaultPeriod());
  const [problem, setProblem] = useState<string | undefined>();
  const [state, setState] = useState<State>({ kind: 'idle' });
  const [pdf, setPdf] = useState<{ busy: boolean; error?: ErrorText }>({ busy: false });
  const generation = useRef(0);
  /** the last national id found, so asking again for another period is not another patient search */
  const resolved = useRef<{ nationalId: string; regionalId: string } | undefined>(undefined);

  async function load(subject: Subject, p: Period, gen: number) {
    try {
      const answer = await api.get<Parameters>(accessReportPath(subject.regionalId, p));
      if (gen !== generation.current) return;
      setState({ kind: 'loaded', report: readAccessReport(answer), subject, period: p });
    } catch (e) {
      if (gen === generation.current) setState({ kind: 'error', error: errorText(t, e) });
    }
  }

  async function submit(e: Event) {
    e.preventDefault();
    const p = { from: period.from.trim(), to: period.to.trim() };
    const periodProblem = checkPeriod(p);
    let subject: Subject | undefined;
    let search: string | undefined;
    if (mode === 'national') {
      const checked = checkNationalId(nationalId);
      if (!checked.ok) return setProblem(nationalIdProblem(t, checked.problem));
      if (resolved.current?.nationalId === checked.id) subject = { regionalId: resolved.current.regionalId, nationalId: checked.id };
      else search = checked.id;
    } else {
      const id = regionalId.trim();
      if (!isRegionalId(id)) return setProblem(t('report.badRegionalId'));
      subject = { regionalId: id };
    }
    if (periodProblem) return setProblem(t(`report.period.${periodProblem}`));
    setProblem(undefined);
    setPdf({ busy: false });
    const gen = ++generation.current;
    setState({ kind: 'loading' });
    if (subject) return load(subject, p, gen);
    try {
      const found = await api.searchAll<Patient>({ path: '/Patient/_search', params: [['identifier', `${NATIONAL_ID_SYSTEM}|${search}`]] });
      if (gen !== generation.current) return;
      const patients = found.matches.filter((m) => m.resourceType === 'Patient' && m.id);
      if (patients.length === 0) return setState({ kind: 'not-found' });
      if (patients.length > 1) return setState({ kind: 'pick', patients, nationalId: search!, period: p });
      resolved.current = { nationalId: search!, regionalId: patients[0]!.id! };
      await load({ regionalId: patients[0]!.id!, nationalId: search! }, p, gen);
    } catch (err) {
      if (gen === generation.current) setState({ kind: 'error', error: errorText(t, err) });
    }
  }

  function pick(patient: Patient, nid: string, p: Period) {
    const gen = ++generation.current;
    setState({ kind: 'loading' });
    void load({ regionalId: patient.id!, nationalId: nid }, p, gen);
  }

  async function downloadPdf(subject: Subject, p: Period) {
    setPdf({ busy: true });
    try {
      const blob = await api.getBlob(accessReportPath(subject.regionalId, p, 'pdf'), 'application/pdf');
      // the PDF stays in memory until the browser has saved it; the object URL goes at once after
      saveBlob(blob, 'access-report.pdf');
      setPdf({ busy: false });
    } catch (e) {
      const error = errorText(t, e);
      // the general 503 here is the missing CJK font (the JSON report, and printing, still work)
      setPdf({ busy: false, error: e instanceof ApiError && e.status === 503 && e.code === 'report-font-missing' ? { ...error, message: t('report.pdfUnavailable') } : error });
    }
  }

  const setDay = (k: keyof Period) => (value: string) => setPeriod((old) => ({ ...old, [k]: value }));

  return (
    <div class="registrar">
      <form class="card search-card no-print" onSubmit={(e) => void submit(e)} method="post" autocomplete="off" aria-labelledby="report-form-title" noValidate>
        <h2 id="report-form-title" class="card-title">
          {t('report.title')}
        </h2>
        <p class="muted">{t('report.intro')}</p>
        {byNationalId ? (
          <Segmented
            name="report-mode"
            label={t('report.mode.label')}
            options={[
              { value: 'national', text: t('report.byNationalId') },
              { value: 'regional', text: t('report.byRegionalId') },
            ]}
            value={mode}
            onChange={(m) => {
              setMode(m);
              setProblem(undefined);
            }}
          />
        ) : (
          <p class="field-hint">{t('report.regionalIdOnly')}</p>
        )}
        <div class="form-row">
          {mode === 'national' ? (
            <NationalIdField id="report-national-id" t={t} value={nationalId} onChange={setNationalId} />
          ) : (
            <IdField id="report-regional-id" label={t('report.regionalId')} hint={t('report.regionalId.hint')} maxLength={64} value={regionalId} onChange={setRegionalId} />
          )}
          <div class="period-group">
            <div class="period-fields">
              <DateField id="report-from" label={t('report.from')} value={period.from} onChange={setDay('from')} describedBy="report-period-hint" />
              <DateField id="report-to" label={t('report.to')} value={period.to} onChange={setDay('to')} describedBy="report-period-hint" />
            </div>
            <span id="report-period-hint" class="field-hint">
              {t('report.period.hint')}
            </span>
          </div>
          <div class="field field-action">
            <SubmitButton busy={state.kind === 'loading'} text={t('report.submit')} busyText={t('report.searching')} />
          </div>
        </div>
        <FieldError problem={problem} />
      </form>

      <div class="no-print">
        {state.kind === 'loading' && (
          <p class="loading" role="status" aria-live="polite">
            {t('report.searching')}
          </p>
        )}
        {state.kind === 'error' && <ErrorBox error={state.error} />}
        {state.kind === 'not-found' && <Notice kind="info">{t('search.notFound')}</Notice>}
        {state.kind === 'pick' && <PatientPickList patients={state.patients} onPick={(p) => pick(p, state.nationalId, state.period)} />}
      </div>

      {state.kind === 'loaded' && (
        <ReportSheet
          report={state.report}
          subject={state.subject}
          period={state.period}
          issuer={user.hospitalName}
          hospitals={hospitals}
          pdf={pdf}
          onPrint={() => window.print()}
          onPdf={() => void downloadPdf(state.subject, state.period)}
        />
      )}
    </div>
  );
}

/** The report itself: on screen a card, on paper (the print stylesheet) an A4 page with nothing else. */
function ReportSheet(props: {
  report: AccessReport;
  subject: Subject;
  period: Period;
  issuer?: string;
  hospitals: ReadonlyMap<string, Hospital>;
  pdf: { busy: boolean; error?: ErrorText };
  onPrint: () => void;
  onPdf: () => void;
}) {
  const { t } = useI18n();
  const { report, subject } = props;
  const from = report.from ?? props.period.from;
  const to = report.to ?? props.period.to;
  return (
    <section class="card report" aria-labelledby="report-title" data-testid="access-report">
      <div class="report-actions no-print">
        <button type="button" class="btn btn-light" onClick={props.onPrint}>
          {t('report.print')}
        </button>
        <button type="button" class="btn btn-primary" onClick={props.onPdf} disabled={props.pdf.busy}>
          {props.pdf.busy ? t('report.pdfBusy') : t('report.pdf')}
        </button>
      </div>
      {props.pdf.error && (
        <div class="no-print">
          <ErrorBox error={props.pdf.error} title={t('report.pdfFailed')} />
        </div>
      )}
      <header class="report-head">
        <p class="report-platform">{t('report.platform')}</p>
        <h2 id="report-title" class="report-title">
          {t('report.docTitle')}
        </h2>
      </header>
      <dl class="report-facts" data-testid="report-facts">
        <div>
          <dt>{t('report.resident')}</dt>
          <dd>
            {subject.nationalId && (
              <span class="report-fact-part">
                {t('report.nationalId')} <span class="mono" data-testid="report-national-id">{maskNationalId(subject.nationalId)}</span>
              </span>
            )}
            <span class="report-fact-part">
              {t('report.regionalIdShort')} <span class="mono">{subject.regionalId}</span>
            </span>
          </dd>
        </div>
        <div>
          <dt>{t('report.period')}</dt>
          <dd data-testid="report-period">{t('report.periodValue', { from, to })}</dd>
        </div>
        {report.generated && (
          <div>
            <dt>{t('report.generated')}</dt>
            <dd>{t('report.generatedValue', { time: chinaDateTime(report.generated) })}</dd>
          </div>
        )}
        {props.issuer && (
          <div>
            <dt>{t('report.issuer')}</dt>
            <dd>{props.issuer}</dd>
          </div>
        )}
      </dl>
      <p class="report-note">{t('report.note')}</p>
      <p class="report-count" data-testid="report-count">
        {t('report.count', { n: report.rows.length })}
      </p>
      {report.truncated && (
        <p class="notice notice-warning" role="status">
          {t('report.truncated', { n: report.rows.length })}
        </p>
      )}
      {report.rows.length === 0 ? (
        <p class="empty">{t('report.empty')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table report-table" data-testid="report-rows">
            <TableHead columns={[t('report.col.when'), t('report.col.organization'), t('report.col.person'), t('report.col.purpose'), t('report.col.accessed'), t('report.col.outcome')]} />
            <tbody>
              {report.rows.map((r, i) => (
                <ReportRow key={`${r.when}|${i}`} row={r} t={t} hospitals={props.hospitals} />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

const OUTCOME_BADGE: Record<AccessRow['outcome'], string> = { permitted: 'badge-ok', refused: 'badge-danger', failed: 'badge-muted' };

function ReportRow(props: { row: AccessRow; t: Translate; hospitals: ReadonlyMap<string, Hospital> }) {
  const { row: r, t } = props;
  const hospital = r.organization?.id ? props.hospitals.get(r.organization.id) : undefined;
  const org = hospital?.name ?? r.organization?.name ?? r.organization?.id;
  const code = hospital?.cityCode ?? cityCode(r.city);
  const city = code ? label(t, 'city', code, r.city) : r.city;
  const kind = accessedKind(r.accessed);
  const role = r.role === 'doctor' ? 'clinician' : r.role;
  return (
    <tr class={r.breakGlass ? 'row-breakglass' : r.supervision ? 'row-supervision' : undefined} data-outcome={r.outcome}>
      <td class="nowrap mono">{chinaDateTime(r.when)}</td>
      <td>
        {r.supervision ? (
          t('report.supervisionOrg')
        ) : org ? (
          <>
            {org}
            {city && <span class="nowrap">{t('report.city', { city })}</span>}
          </>
        ) : (
          '—'
        )}
      </td>
      <td>
        {r.supervision ? (
          <span class="tag">{t('report.supervision')}</span>
        ) : r.person || r.staffId ? (
          <>
            {r.person}
            {r.staffId && <span class="muted mono"> {r.staffId}</span>}
            {role && <span class="muted nowrap"> / {label(t, 'role', role, role)}</span>}
          </>
        ) : (
          t('report.system')
        )}
      </td>
      <td>
        {r.purpose === 'HOPERAT' ? t('report.purpose.HOPERAT') : label(t, 'purpose', r.purpose, '—')}
        {r.breakGlass && <span class="tag tag-danger">{t('report.breakGlass')}</span>}
        {r.breakGlassReason && <p class="bg-reason">{t('report.breakGlassReason', { reason: r.breakGlassReason })}</p>}
      </td>
      <td>
        {kind ? label(t, 'report.kind', kind, r.accessed) : r.accessed || '—'}
        {r.items.length > 0 && <div class="report-items">{r.items.join('、')}</div>}
      </td>
      <td class="nowrap">
        <span class={`badge ${OUTCOME_BADGE[r.outcome]}`}>{t(`report.outcome.${r.outcome}`)}</span>
      </td>
    </tr>
  );
}
