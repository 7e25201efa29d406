import { useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { label, type Translate } from '../../i18n';
import { chinaDateTime } from '../../model/format';
import type { Hospital } from '../../model/hospitals';
import type { OutcomeSummary } from '../../model/outcomes';
import type { Recognition } from '../../model/recognition';
import { filterTimeline, itemsOf, type Category, type TimelineFilter, type TimelineRow } from '../../model/timeline';
import { DateField, SelectField } from '../common/fields';
import { TableHead } from '../common/table-head';
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
        <SelectField
          id="f-category"
          label={t('timeline.filter.category')}
          value={filter.category ?? ''}
          onChange={(v) => set({ category: (v || undefined) as Category | undefined })}
          emptyText={t('timeline.filter.all')}
          choices={[
            { value: 'lab', text: t('category.lab') },
            { value: 'imaging', text: t('category.imaging') },
          ]}
        />
        <SelectField id="f-item" label={t('timeline.filter.item')} value={filter.item ?? ''} onChange={(v) => set({ item: v || undefined })} emptyText={t('timeline.filter.all')} choices={items.map((i) => ({ value: i.key, text: i.name }))} />
        <SelectField
          id="f-hospital"
          label={t('timeline.filter.hospital')}
          value={filter.hospital ?? ''}
          onChange={(v) => set({ hospital: v || undefined })}
          emptyText={t('timeline.filter.all')}
          choices={rowHospitals.map((h) => ({ value: h, text: hospitals.get(h)?.name ?? h }))}
        />
        <DateField id="f-from" label={t('timeline.filter.from')} value={filter.from ?? ''} onChange={(v) => set({ from: v || undefined })} />
        <DateField id="f-to" label={t('timeline.filter.to')} value={filter.to ?? ''} onChange={(v) => set({ to: v || undefined })} />
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
            <TableHead
              columns={[
                t('timeline.col.date'),
                t('timeline.col.category'),
                t('timeline.col.item'),
                t('timeline.col.hospital'),
                t('timeline.col.city'),
                t('timeline.col.status'),
                t('timeline.col.recognition'),
                { text: t('timeline.col.open'), srOnly: true },
              ]}
            />
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
