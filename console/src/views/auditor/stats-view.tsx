import type { Parameters } from '@medplum/fhirtypes';
import { useEffect, useRef, useState } from 'preact/hooks';
import { label } from '../../i18n';
import { percent, yuan } from '../../model/format';
import { hospitalChoices } from '../../model/hospitals';
import { parseStats, type RecognitionStats } from '../../model/stats';
import { errorText, type ErrorText } from '../common/errors';
import { FieldError, SelectField, SubmitButton, type Choice } from '../common/fields';
import { ErrorBox } from '../common/notices';
import { useI18n, useServices } from '../context';
import { RateCostChart } from './stats-chart';

/** what `from` / `to` take: a year, a month or a day (China time; stats-operation.ts) */
const PERIOD = /^\d{4}(-\d{2}(-\d{2})?)?$/;

/**
 * `GET /$recognition-stats?from=&to=&hospital=&item=` (gateway/recognition/stats-operation.ts):
 * the totals, retests by reason, and rate and cost avoided by requesting hospital, source
 * hospital, item and month, as charts with their tables.
 */
export function StatsView(props: { visible: boolean }) {
  const { t } = useI18n();
  const { api, hospitals } = useServices();
  const [from, setFrom] = useState('');
  const [to, setTo] = useState('');
  const [hospital, setHospital] = useState('');
  const [item, setItem] = useState('');
  const [items, setItems] = useState<Choice[]>([]);
  const [stats, setStats] = useState<RecognitionStats | undefined>();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ErrorText | undefined>();
  const loadedOnce = useRef(false);
  const [problem, setProblem] = useState<string | undefined>();

  const run = async (e?: Event) => {
    e?.preventDefault();
    if (![from, to].every((v) => v === '' || PERIOD.test(v.trim()))) return setProblem(t('stats.badPeriod'));
    setProblem(undefined);
    setBusy(true);
    setError(undefined);
    const q = new URLSearchParams();
    if (from.trim()) q.set('from', from.trim());
    if (to.trim()) q.set('to', to.trim());
    if (hospital) q.set('hospital', hospital);
    if (item) q.set('item', item);
    try {
      const s = parseStats(await api.get<Parameters>(`/$recognition-stats${q.size ? `?${q}` : ''}`));
      setStats(s);
      // the item list comes from the unfiltered answer: every item anyone decided on
      if (!item) setItems(s.byItem.map((g) => ({ value: g.key, text: g.label })));
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setBusy(false);
    }
  };

  useEffect(() => {
    if (props.visible && !loadedOnce.current) {
      loadedOnce.current = true;
      void run();
    }
  }, [props.visible]);

  return (
    <div class="stats">
      <form class="card" onSubmit={run} method="post" aria-labelledby="stats-title" noValidate>
        <h2 id="stats-title" class="card-title">
          {t('stats.title')}
        </h2>
        <div class="form-grid">
          <div class="field">
            <label for="s-from">{t('stats.from')}</label>
            <input id="s-from" class="input input-mono" placeholder="YYYY-MM" maxLength={10} inputMode="numeric" value={from} onInput={(e) => setFrom((e.currentTarget as HTMLInputElement).value)} />
          </div>
          <div class="field">
            <label for="s-to">{t('stats.to')}</label>
            <input id="s-to" class="input input-mono" placeholder="YYYY-MM" maxLength={10} inputMode="numeric" value={to} onInput={(e) => setTo((e.currentTarget as HTMLInputElement).value)} />
          </div>
          <SelectField id="s-hospital" label={t('stats.hospital')} value={hospital} onChange={setHospital} emptyText={t('audit.any')} choices={hospitalChoices(hospitals)} />
          <SelectField id="s-item" label={t('stats.item')} value={item} onChange={setItem} emptyText={t('audit.any')} choices={items} />
        </div>
        <FieldError problem={problem} />
        <div class="form-actions">
          <SubmitButton busy={busy} text={t('stats.run')} busyText={t('stats.running')} />
        </div>
      </form>
      {error && <ErrorBox error={error} />}
      {stats && !error && (
        <>
          <section class="kpis" aria-label={t('stats.title')} data-testid="stats-summary">
            <Kpi name={t('stats.decisions')} value={String(stats.decisions)} />
            <Kpi name={t('stats.accepted')} value={String(stats.accepted)} />
            <Kpi name={t('stats.retested')} value={String(stats.retested)} />
            <Kpi name={t('stats.rate')} value={percent(stats.rate)} accent />
            <Kpi name={t('stats.cost')} value={yuan(stats.cost)} accent />
          </section>
          {stats.decisions === 0 ? (
            <p class="notice notice-info">{t('stats.noDecisions')}</p>
          ) : (
            <>
              <div class="chart-grid">
                <RateCostChart id="chart-hospital" title={t('stats.byHospital')} groups={stats.byHospital} />
                <RateCostChart id="chart-item" title={t('stats.byItem')} groups={stats.byItem} />
                <RateCostChart id="chart-month" title={t('stats.byMonth')} groups={stats.byMonth} continuous />
                <RateCostChart id="chart-source" title={t('stats.byResultHospital')} groups={stats.byResultHospital} />
              </div>
              <section class="card" aria-labelledby="reasons-title">
                <h3 id="reasons-title" class="section-title">
                  {t('stats.reasons')}
                </h3>
                <table class="table table-compact" data-testid="stats-reasons">
                  <tbody>
                    {stats.reasons.map((r) => (
                      <tr key={r.reason}>
                        <td>{label(t, 'reason', r.reason, r.reason)}</td>
                        <td class="num mono">{r.count}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </section>
            </>
          )}
        </>
      )}
    </div>
  );
}

function Kpi(props: { name: string; value: string; accent?: boolean }) {
  return (
    <div class={`kpi${props.accent ? ' kpi-accent' : ''}`}>
      <div class="kpi-name">{props.name}</div>
      <div class="kpi-value">{props.value}</div>
    </div>
  );
}
