import type { AuditEvent, CapabilityStatement } from '@medplum/fhirtypes';
import { useEffect, useMemo, useState } from 'preact/hooks';
import { label } from '../../i18n';
import { summariseAuditEvent, type AuditSummary } from '../../model/audit';
import { auditCsv, BREAK_GLASS, EMPTY_CRITERIA, localFilter, orgName, requestPath, serverParams, trimmed, type Criteria } from '../../model/audit-query';
import { CSV_BOM } from '../../model/csv';
import { chinaDateTime } from '../../model/format';
import { errorText, type ErrorText } from '../common/errors';
import { ErrorBox } from '../common/notices';
import { useI18n, useServices } from '../context';
import { AuditDetail } from './audit-detail';


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

  const set = (k: keyof Criteria) => (e: Event) => setCriteria((c) => ({ ...c, [k]: (e.currentTarget as HTMLInputElement | HTMLSelectElement).value }));

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
    const url = URL.createObjectURL(blob);
    const a = document.createElement('a');
    a.href = url;
    a.download = `audit-events-${new Date().toISOString().slice(0, 10)}.csv`;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
  };

  const hospitalLocal = !params.has('hospital');
  return (
    <div class="auditor">
      <form class="card" onSubmit={run} method="post" autocomplete="off" aria-labelledby="audit-title" noValidate>
        <h2 id="audit-title" class="card-title">
          {t('audit.title')}
        </h2>
        <div class="form-grid">
          <Text id="a-patient" label={t('audit.patient')} value={criteria.patient} onInput={set('patient')} mono />
          <Text id="a-user" label={t('audit.user')} value={criteria.user} onInput={set('user')} mono />
          <Text id="a-client" label={t('audit.client')} value={criteria.client} onInput={set('client')} mono />
          <div class="field">
            <label for="a-hospital">
              {t('audit.hospital')}
              {hospitalLocal && <span class="field-note"> {t('audit.hospitalLocal')}</span>}
            </label>
            <select id="a-hospital" class="input" value={criteria.hospital} onChange={set('hospital')}>
              <option value="">{t('audit.any')}</option>
              {[...hospitals.values()].map((h) => (
                <option key={h.id} value={h.id}>
                  {h.name}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="a-outcome">{t('audit.outcome')}</label>
            <select id="a-outcome" class="input" value={criteria.outcome} onChange={set('outcome')}>
              <option value="">{t('audit.any')}</option>
              {['0', '4', '8', '12'].map((o) => (
                <option key={o} value={o}>
                  {label(t, 'audit.outcome', o, o)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="a-purpose">{t('audit.purpose')}</label>
            <select id="a-purpose" class="input" value={criteria.purpose} onChange={set('purpose')}>
              <option value="">{t('audit.any')}</option>
              <option value={BREAK_GLASS}>{t('audit.purpose.breakGlass')}</option>
              <option value="TREAT">{t('audit.purpose.TREAT')}</option>
            </select>
          </div>
          <div class="field">
            <label for="a-subtype">{t('audit.subtype')}</label>
            <select id="a-subtype" class="input" value={criteria.subtype} onChange={set('subtype')}>
              <option value="">{t('audit.any')}</option>
              {SUBTYPES.map((s) => (
                <option key={s} value={s}>
                  {label(t, 'subtype', s, s)}
                </option>
              ))}
            </select>
          </div>
          <div class="field">
            <label for="a-from">{t('audit.from')}</label>
            <input id="a-from" class="input" type="date" value={criteria.from} onInput={set('from')} />
          </div>
          <div class="field">
            <label for="a-to">{t('audit.to')}</label>
            <input id="a-to" class="input" type="date" value={criteria.to} onInput={set('to')} />
          </div>
        </div>
        <div class="form-actions">
          <button type="submit" class="btn btn-primary" disabled={busy}>
            {busy ? t('audit.searching') : t('audit.search')}
          </button>
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
                <thead>
                  <tr>
                    <th scope="col">{t('audit.col.recorded')}</th>
                    <th scope="col">{t('audit.col.user')}</th>
                    <th scope="col">{t('audit.col.organization')}</th>
                    <th scope="col">{t('audit.col.purpose')}</th>
                    <th scope="col">{t('audit.col.action')}</th>
                    <th scope="col">{t('audit.col.patient')}</th>
                    <th scope="col">{t('audit.col.outcome')}</th>
                    <th scope="col">
                      <span class="sr-only">{t('audit.col.open')}</span>
                    </th>
                  </tr>
                </thead>
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

function Text(props: { id: string; label: string; value: string; onInput: (e: Event) => void; mono?: boolean }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} class={`input${props.mono ? ' input-mono' : ''}`} maxLength={128} spellcheck={false} value={props.value} onInput={props.onInput} />
    </div>
  );
}

