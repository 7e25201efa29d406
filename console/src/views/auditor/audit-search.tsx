import type { AuditEvent, CapabilityStatement } from '@medplum/fhirtypes';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { label } from '../../i18n';
import { summariseAuditEvent, type AuditSummary } from '../../model/audit';
import { auditCsv, BREAK_GLASS, EMPTY_CRITERIA, localFilter, orgName, requestPath, serverParams, trimmed, type Criteria } from '../../model/audit-query';
import { CSV_BOM } from '../../model/csv';
import { chinaDateTime } from '../../model/format';
import { hospitalChoices } from '../../model/hospitals';
import { saveBlob } from '../common/download';
import { errorText, type ErrorText } from '../common/errors';
import { DateField, SelectField, SubmitButton } from '../common/fields';
import { ErrorBox } from '../common/notices';
import { TableHead } from '../common/table-head';
import { useI18n, useServices } from '../context';
import { AuditDetail } from './audit-detail';


/** the AuditEvent outcome codes: success, minor, serious and major failure */
const OUTCOMES = ['0', '4', '8', '12'];

const SUBTYPES = ['search-type', 'read', 'create', 'update', '$recognition', '$recognition-decision', '$recognition-stats', '$verify', '$ihe-pix', 'token'];

/**
 * The search parameters `GET /AuditEvent` declares (gateway/http/routes/audit-routes.ts, and so
 * the CapabilityStatement): read once, so the console sends only what the gateway applies.
 */
let declared: Promise<Set<string>> | undefined;

/**
 * The auditor's search of the trail: every criterion the gateway's AuditEvent search declares
 * goes to it (POST `_search`); the rest — the client when a user is also given (both are the one
 * `agent` parameter, whose values OR), the hospital unless the gateway declares it — filters the
 * loaded pages, and the page says so. Pages follow the Bundle's `next` link. The CSV export is made
 * here, from what is loaded.
 */
export function AuditSearchView() {
  const { t } = useI18n();
  const { api, hospitals } = useServices();
  const [criteria, setCriteria] = useState<Criteria>(EMPTY_CRITERIA);
  const [applied, setApplied] = useState<Criteria | undefined>();
  const [events, setEvents] = useState<AuditSummary[]>([]);
  const [next, setNext] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorText | undefined>();
  const [open, setOpen] = useState<AuditSummary | undefined>();
  const [params, setParams] = useState<Set<string>>(new Set());

  useEffect(() => {
    declared ??= api
      .get<CapabilityStatement>('/metadata')
      .then((cs) => new Set(cs.rest?.[0]?.resource?.find((r) => r.type === 'AuditEvent')?.searchParam?.map((p) => p.name ?? '') ?? []))
      .catch(() => {
        declared = undefined;
        return new Set<string>();
      });
    void declared.then(setParams);
  }, [api]);

  const local = useMemo(() => (applied ? localFilter(applied, params) : undefined), [applied, params]);
  const shown = useMemo(() => (local ? events.filter(local) : events), [events, local]);

  const set = (k: keyof Criteria) => (value: string) => setCriteria((c) => ({ ...c, [k]: value }));

  const run = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    setOpen(undefined);
    // the last search's events go at once: nothing shown under criteria it did not match
    setApplied(undefined);
    setEvents([]);
    setNext(undefined);
    try {
      const c = trimmed(criteria);
      const page = await api.searchPage<AuditEvent>({ path: '/AuditEvent/_search', params: serverParams(c, params) });
      setApplied(c);
      setEvents(page.matches.filter((m) => m.resourceType === 'AuditEvent').map(summariseAuditEvent));
      setNext(page.next);
    } catch (err) {
      setError(errorText(t, err));
      setEvents([]);
      setNext(undefined);
    } finally {
      setBusy(false);
    }
  };

  const more = async () => {
    if (!next) return;
    setBusy(true);
    try {
      const page = await api.searchPage<AuditEvent>({ next });
      setEvents((old) => [...old, ...page.matches.filter((m) => m.resourceType === 'AuditEvent').map(summariseAuditEvent)]);
      setNext(page.next);
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };

  const exportCsv = () => {
    const blob = new Blob([CSV_BOM, auditCsv(t, shown, hospitals)], { type: 'text/csv;charset=utf-8' });
    saveBlob(blob, `audit-events-${new Date().toISOString().slice(0, 10)}.csv`);
  };

  const hospitalLocal = !params.has('hospital');
  return (
    <div class="auditor">
      <form class="card" onSubmit={run} method="post" autocomplete="off" aria-labelledby="audit-title" noValidate>
        <h2 id="audit-title" class="card-title">
          {t('audit.title')}
        </h2>
        <div class="form-grid">
          <Text id="a-patient" label={t('audit.patient')} value={criteria.patient} onChange={set('patient')} mono />
          <Text id="a-user" label={t('audit.user')} value={criteria.user} onChange={set('user')} mono />
          <Text id="a-client" label={t('audit.client')} value={criteria.client} onChange={set('client')} mono />
          <SelectField
            id="a-hospital"
            label={
              <>
                {t('audit.hospital')}
                {hospitalLocal && <span class="field-note"> {t('audit.hospitalLocal')}</span>}
              </>
            }
            value={criteria.hospital}
            onChange={set('hospital')}
            emptyText={t('audit.any')}
            choices={hospitalChoices(hospitals)}
          />
          <SelectField
            id="a-outcome"
            label={t('audit.outcome')}
            value={criteria.outcome}
            onChange={set('outcome')}
            emptyText={t('audit.any')}
            choices={OUTCOMES.map((o) => ({ value: o, text: label(t, 'audit.outcome', o, o) }))}
          />
          <SelectField
            id="a-purpose"
            label={t('audit.purpose')}
            value={criteria.purpose}
            onChange={set('purpose')}
            emptyText={t('audit.any')}
            choices={[
              { value: BREAK_GLASS, text: t('audit.purpose.breakGlass') },
              { value: 'TREAT', text: t('audit.purpose.TREAT') },
            ]}
          />
          <SelectField id="a-subtype" label={t('audit.subtype')} value={criteria.subtype} onChange={set('subtype')} emptyText={t('audit.any')} choices={SUBTYPES.map((s) => ({ value: s, text: label(t, 'subtype', s, s) }))} />
          <DateField id="a-from" label={t('audit.from')} value={criteria.from} onChange={set('from')} />
          <DateField id="a-to" label={t('audit.to')} value={criteria.to} onChange={set('to')} />
        </div>
        <div class="form-actions">
          <SubmitButton busy={busy} text={t('audit.search')} busyText={t('audit.searching')} />
          <button type="button" class="btn btn-light" onClick={exportCsv} disabled={shown.length === 0}>
            {t('audit.export')}
          </button>
        </div>
      </form>

      {error && <ErrorBox error={error} />}
      {applied && !error && (
        <section class="card" aria-labelledby="audit-results-title">
          <div class="card-head">
            <h2 id="audit-results-title" class="card-title sr-only">
              {t('audit.title')}
            </h2>
            <span class="muted" data-testid="audit-count">
              {local ? t('audit.countFiltered', { n: events.length, shown: shown.length }) : t('audit.count', { n: events.length })}
            </span>
          </div>
          {shown.length === 0 ? (
            <p class="empty">{t('audit.empty')}</p>
          ) : (
            <div class="table-wrap">
              <table class="table" data-testid="audit-results">
                <TableHead
                  columns={[
                    t('audit.col.recorded'),
                    t('audit.col.user'),
                    t('audit.col.organization'),
                    t('audit.col.purpose'),
                    t('audit.col.action'),
                    t('audit.col.patient'),
                    t('audit.col.outcome'),
                    { text: t('audit.col.open'), srOnly: true },
                  ]}
                />
                <tbody>
                  {shown.map((e) => (
                    <tr key={e.id} class={e.breakGlass ? 'row-breakglass' : undefined}>
                      <td class="nowrap mono">{chinaDateTime(e.recorded, { seconds: true })}</td>
                      <td>
                        {e.user?.name ?? ''}
                        {e.user?.id && <span class="muted mono"> {e.user.id}</span>}
                        {!e.user && <span class="mono">{e.client?.id}</span>}
                      </td>
                      <td>{orgName(e, hospitals)}</td>
                      <td class="nowrap">
                        {e.purposes.map((p) => label(t, 'purpose', p, p)).join('、')}
                        {e.breakGlass && <span class="tag tag-danger">{t('audit.breakGlassTag')}</span>}
                      </td>
                      <td>
                        {label(t, 'subtype', e.action, e.action)}
                        <span class="muted mono"> {requestPath(e)}</span>
                      </td>
                      <td class="mono small nowrap" title={e.patients.join(', ')}>
                        {e.patients.map(shortId).join(', ')}
                      </td>
                      <td class="nowrap">
                        <span class={`badge ${e.outcome === '0' ? 'badge-ok' : 'badge-warn'}`}>{label(t, 'audit.outcome', e.outcome, e.outcomeDesc ?? '')}</span>
                      </td>
                      <td>
                        <button type="button" class="btn btn-small btn-light" onClick={() => setOpen(e)}>
                          {t('audit.open')}
                        </button>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {next && (
            <button type="button" class="btn btn-light more" onClick={() => void more()} disabled={busy}>
              {t('audit.more')}
            </button>
          )}
        </section>
      )}
      {open && <AuditDetail event={open} onClose={() => setOpen(undefined)} />}
    </div>
  );
}

/** a regional id (a UUID) shortened for the table; the detail shows it whole */
const shortId = (id: string) => (id.length > 13 ? `${id.slice(0, 8)}…` : id);

function Text(props: { id: string; label: string; value: string; onChange: (value: string) => void; mono?: boolean }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} class={`input${props.mono ? ' input-mono' : ''}`} maxLength={128} spellcheck={false} value={props.value} onInput={(e) => props.onChange((e.currentTarget as HTMLInputElement).value)} />
    </div>
  );
}

