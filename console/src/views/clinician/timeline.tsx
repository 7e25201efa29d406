import { useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { label, type Translate } from '../../i18n';
import { chinaDateTime } from '../../model/format';
import type { Hospital } from '../../model/hospitals';
import type { OutcomeSummary } from '../../model/outcomes';
import type { Recognition } from '../../model/recognition';
import { filterTimeline, itemsOf, type Category, type TimelineFilter, type TimelineRow } from '../../model/timeline';
import { useI18n, useServices } from '../context';

/**
 * The patient's results from every hospital, newest first, with hospital, city and the
 * recognition judged for the clinician's hospital; filtered in memory (the whole timeline is
 * loaded, every page). Hospitals that did not answer are named above it, never dropped silently.
 */
export function Timeline(props: { rows: TimelineRow[]; outcomes: OutcomeSummary; onOpen: (row: TimelineRow) => void; onBreakGlass?: () => void }) {
  const { t } = useI18n();
  const { hospitals } = useServices();
  const [filter, setFilter] = useState<TimelineFilter>({});
  const shown = useMemo(() => filterTimeline(props.rows, filter), [props.rows, filter]);
  const items = useMemo(() => itemsOf(props.rows), [props.rows]);
  const rowHospitals = useMemo(() => [...new Set(props.rows.map((r) => r.hospitalId ?? ''))].filter(Boolean), [props.rows]);

  // For the timing script (test/bench/console-timing.ts): when the rows are in the document, and
  // the frame after (painted). Marks carry a name only, no data.
  useLayoutEffect(() => {
    performance.mark('xzq:timeline-rendered');
    requestAnimationFrame(() => setTimeout(() => performance.mark('xzq:timeline-painted'), 0));
  }, [props.rows]);

  const set = (patch: Partial<TimelineFilter>) => setFilter((f) => clean({ ...f, ...patch }));

  return (
    <section class="card" aria-labelledby="timeline-title">
      <div class="card-head">
        <h2 id="timeline-title" class="card-title">
          {t('timeline.title')}
        </h2>
        <span class="muted" data-testid="timeline-count">
          {t('timeline.count', { shown: shown.length, total: props.rows.length })}
        </span>
      </div>
      <FailureNotice outcomes={props.outcomes} hospitals={hospitals} />
      {props.outcomes.suppressed && (
        <div class="notice notice-info" role="status">
          {t('timeline.suppressed')}
          {props.onBreakGlass && (
            <button type="button" class="btn btn-danger-outline btn-small" onClick={props.onBreakGlass}>
              {t('bg.button')}
            </button>
          )}
        </div>
      )}
      {props.outcomes.ignored.map((text) => (
        <div key={text} class="notice notice-info" role="status">
          {t('timeline.ignored', { text })}
        </div>
      ))}

      <fieldset class="filters">
        <legend>{t('timeline.filters')}</legend>
        <div class="field">
          <label for="f-category">{t('timeline.filter.category')}</label>
          <select id="f-category" class="input" value={filter.category ?? ''} onChange={(e) => set({ category: ((e.currentTarget as HTMLSelectElement).value || undefined) as Category | undefined })}>
            <option value="">{t('timeline.filter.all')}</option>
            <option value="lab">{t('category.lab')}</option>
            <option value="imaging">{t('category.imaging')}</option>
          </select>
        </div>
        <div class="field">
          <label for="f-item">{t('timeline.filter.item')}</label>
          <select id="f-item" class="input" value={filter.item ?? ''} onChange={(e) => set({ item: (e.currentTarget as HTMLSelectElement).value || undefined })}>
            <option value="">{t('timeline.filter.all')}</option>
            {items.map((i) => (
              <option key={i.key} value={i.key}>
                {i.name}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-hospital">{t('timeline.filter.hospital')}</label>
          <select id="f-hospital" class="input" value={filter.hospital ?? ''} onChange={(e) => set({ hospital: (e.currentTarget as HTMLSelectElement).value || undefined })}>
            <option value="">{t('timeline.filter.all')}</option>
            {rowHospitals.map((h) => (
              <option key={h} value={h}>
                {hospitals.get(h)?.name ?? h}
              </option>
            ))}
          </select>
        </div>
        <div class="field">
          <label for="f-from">{t('timeline.filter.from')}</label>
          <input id="f-from" class="input" type="date" value={filter.from ?? ''} onInput={(e) => set({ from: (e.currentTarget as HTMLInputElement).value || undefined })} />
        </div>
        <div class="field">
          <label for="f-to">{t('timeline.filter.to')}</label>
          <input id="f-to" class="input" type="date" value={filter.to ?? ''} onInput={(e) => set({ to: (e.currentTarget as HTMLInputElement).value || undefined })} />
        </div>
        <div class="field field-action">
          <button type="button" class="btn btn-light" onClick={() => setFilter({})} disabled={Object.keys(filter).length === 0}>
            {t('timeline.filter.reset')}
          </button>
        </div>
      </fieldset>

      {shown.length === 0 ? (
        <p class="empty">{t('timeline.empty')}</p>
      ) : (
        <div class="table-wrap">
          <table class="table" aria-labelledby="timeline-title" data-testid="timeline">
            <thead>
              <tr>
                <th scope="col">{t('timeline.col.date')}</th>
                <th scope="col">{t('timeline.col.category')}</th>
                <th scope="col">{t('timeline.col.item')}</th>
                <th scope="col">{t('timeline.col.hospital')}</th>
                <th scope="col">{t('timeline.col.city')}</th>
                <th scope="col">{t('timeline.col.status')}</th>
                <th scope="col">{t('timeline.col.recognition')}</th>
                <th scope="col">
                  <span class="sr-only">{t('timeline.col.open')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {shown.map((r) => {
                const h = r.hospitalId ? hospitals.get(r.hospitalId) : undefined;
                return (
                  <tr key={r.key}>
                    <td class="nowrap mono">{chinaDateTime(r.time)}</td>
                    <td>
                      <span class={`tag tag-${r.category}`}>{t(r.category === 'lab' ? 'category.lab' : 'category.imaging')}</span>
                    </td>
                    <td>
                      <span class="item-name">{r.itemName}</span>
                      {r.abnormal > 0 && <span class="tag tag-abnormal">{t('timeline.abnormal', { n: r.abnormal })}</span>}
                    </td>
                    <td>{h?.name ?? r.hospitalId}</td>
                    <td class="nowrap">{cityName(t, h)}</td>
                    <td class="nowrap">{label(t, 'status', r.status, '—')}</td>
                    <td>
                      <RecognitionBadge recognition={r.recognition} />
                    </td>
                    <td>
                      <button type="button" class="btn btn-small btn-light" onClick={() => props.onOpen(r)} aria-label={`${t('timeline.open')} ${r.itemName} ${chinaDateTime(r.time)} ${h?.name ?? ''}`}>
                        {t('timeline.open')}
                      </button>
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}

function clean(f: TimelineFilter): TimelineFilter {
  const out: TimelineFilter = {};
  for (const [k, v] of Object.entries(f)) if (v) (out as Record<string, string>)[k] = v;
  return out;
}

export function cityName(t: Translate, h: Hospital | undefined): string {
  return h?.cityCode ? label(t, 'city', h.cityCode, h.cityCode) : '—';
}

export function FailureNotice(props: { outcomes: OutcomeSummary; hospitals: ReadonlyMap<string, Hospital> }) {
  const { t } = useI18n();
  if (props.outcomes.failures.length === 0) return null;
  return (
    <div class="notice notice-warning" role="alert" data-testid="hospital-failures">
      <p class="notice-title">{t('timeline.partial')}</p>
      <ul class="notice-list">
        {props.outcomes.failures.map((f) => (
          <li key={f.hospitalId}>{t('timeline.failed', { hospital: props.hospitals.get(f.hospitalId)?.name ?? f.hospitalId, kind: label(t, 'failure', f.kind, f.kind) })}</li>
        ))}
      </ul>
    </div>
  );
}

/** The recognition status in Chinese, with until when (recognisable) or why not. */
export function RecognitionBadge(props: { recognition: Recognition; long?: boolean }) {
  const { t } = useI18n();
  const { status, validUntil } = props.recognition;
  const tone = status === 'recognizable' ? 'ok' : status === 'own' ? 'own' : status === 'expired' || status === 'not-final' || status === 'not-in-catalog' ? 'muted' : 'warn';
  const why = status && status !== 'recognizable' ? label(t, 'recog.why', status, '') : '';
  return (
    <span class="recog">
      <span class={`badge badge-${tone}`} title={why || undefined}>
        {label(t, 'recog', status, t('recog.none'))}
      </span>
      {status === 'recognizable' && validUntil && <span class="recog-note">{t('recog.validUntil', { date: chinaDateTime(validUntil) })}</span>}
      {props.long && why && <span class="recog-note">{why}</span>}
    </span>
  );
}
