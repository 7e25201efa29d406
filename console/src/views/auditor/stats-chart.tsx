import { BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement, Tooltip } from 'chart.js';
import { useEffect, useRef } from 'preact/hooks';
import { percent, yuan } from '../../model/format';
import type { StatsGroup } from '../../model/stats';
import { TableHead } from '../common/table-head';
import { useI18n } from '../context';

// Only the parts used: a bar (cost avoided) and a line (rate) on a category axis — keeps the bundle small.
Chart.register(BarController, BarElement, LineController, LineElement, PointElement, CategoryScale, LinearScale, Tooltip, Legend);
Chart.defaults.font.family = getComputedStyle(document.documentElement).getPropertyValue('--font-sans').trim() || 'sans-serif';

/**
 * Recognition rate (line, left axis, %) and cost avoided (bars, right axis, yuan) per group, with
 * the same figures in a table under it: the canvas is a picture, the table is what a screen
 * reader (and a test) reads.
 */
export function RateCostChart(props: { id: string; title: string; groups: StatsGroup[]; /** months: the rate as a line; hospitals and items: points only */ continuous?: boolean }) {
  const { t, lang } = useI18n();
  const canvas = useRef<HTMLCanvasElement>(null);

  useEffect(() => {
    if (!canvas.current || props.groups.length === 0) return;
    const chart = new Chart(canvas.current, {
      type: 'bar',
      data: {
        labels: props.groups.map((g) => g.label),
        datasets: [
          {
            type: 'bar',
            label: t('stats.chart.cost'),
            data: props.groups.map((g) => g.cost),
            backgroundColor: 'rgba(31, 95, 168, 0.75)',
            borderRadius: 3,
            yAxisID: 'cost',
            order: 2,
          },
          {
            type: 'line',
            label: t('stats.chart.rate'),
            data: props.groups.map((g) => (g.rate === undefined ? null : Math.round(g.rate * 1000) / 10)),
            borderColor: '#d9822b',
            backgroundColor: '#d9822b',
            pointRadius: props.continuous ? 4 : 6,
            pointStyle: props.continuous ? 'circle' : 'rectRot',
            showLine: props.continuous === true,
            tension: 0,
            // points at 100 % sit on the top edge: not cut off
            clip: 8,
            yAxisID: 'rate',
            order: 1,
          },
        ],
      },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: 'index', intersect: false },
        plugins: { legend: { position: 'bottom' } },
        scales: {
          x: { ticks: { autoSkip: false, maxRotation: 40, minRotation: 0 } },
          rate: { type: 'linear', position: 'left', min: 0, max: 100, title: { display: true, text: t('stats.chart.rate') } },
          cost: { type: 'linear', position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, title: { display: true, text: t('stats.chart.cost') } },
        },
      },
    });
    return () => chart.destroy();
  }, [props.groups, props.continuous, lang, t]);

  return (
    <figure class="chart-card" aria-labelledby={`${props.id}-title`}>
      <figcaption id={`${props.id}-title`} class="chart-title">
        {props.title}
      </figcaption>
      <div class="chart-box">
        <canvas ref={canvas} role="img" aria-label={t('stats.chartLabel', { title: props.title })} />
      </div>
      <div class="table-wrap">
        <table class="table table-compact" data-testid={`${props.id}-table`}>
          <TableHead columns={[t('stats.col.group'), ...(['stats.decisions', 'stats.accepted', 'stats.retested', 'stats.rate', 'stats.cost'] as const).map((k) => ({ text: t(k), num: true }))]} />
          <tbody>
            {props.groups.map((g) => (
              <tr key={g.key}>
                <td>{g.label}</td>
                <td class="num mono">{g.decisions}</td>
                <td class="num mono">{g.accepted}</td>
                <td class="num mono">{g.retested}</td>
                <td class="num mono">{percent(g.rate)}</td>
                <td class="num mono">{yuan(g.cost)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </figure>
  );
}
