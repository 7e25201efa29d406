import type { Metrics } from '../../gateway/metrics';

/** A metric's value summed over its labels (0 when nothing was counted yet), read from the gateway's registry. */
export async function metricSum(metrics: Metrics, name: string): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.reduce((a, v) => a + v.value, 0);
}
