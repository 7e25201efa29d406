import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { CHINA_ZONE, dateRange, isZonedDateTime, PLAIN_DATE } from '../fhir/fhir-date';
import { badRequest } from '../fhir/outcomes';
import { decisionGroups, RETEST_REASONS, type StatsGroup } from './decision-store';
import { parameters, queryValues, type RecognitionContext } from './recognition-context';

/**
 * `GET /$recognition-stats?from=&to=&hospital=&item=` (API.md §6, auditor): how often results
 * offered for recognition were accepted, why others were done again, and what repeat tests were
 * avoided.
 *
 * - `from` / `to`: `YYYY`, `YYYY-MM`, `YYYY-MM-DD` (whole periods in China Standard Time, `to`
 *   inclusive) or a dateTime with zone (`from` inclusive, `to` inclusive); on the decision time.
 * - `hospital`: requesting hospital ids (repeat or comma-separate) — the hospital whose physicians
 *   decided; `item`: catalogue codes. Unknown ones → 400.
 *
 * Answer: `decisions`, `accepted`, `retested` (valueInteger); `retestedReason` once per reason
 * with parts `reason`, `count`; `recognitionRate` (valueDecimal, accepted ÷ decisions, 4 places;
 * absent when there are no decisions); `costAvoided` (valueMoney CNY: catalogue price of the
 * accepted items); and the same figures broken down as repeated `byHospital` (requesting),
 * `byResultHospital`, `byItem` and `byMonth` (China Standard Time) parameters with parts.
 */

/** A `from`/`to` value as the instants it spans: [start, end) in UTC. Undefined when malformed. */
export function parsePeriod(value: string): { start: Date; endExclusive: Date } | undefined {
  if (isZonedDateTime(value)) {
    const t = Date.parse(value);
    return { start: new Date(t), endExclusive: new Date(t + 1) };
  }
  if (!PLAIN_DATE.test(value)) return undefined;
  const r = dateRange(value, CHINA_ZONE); // whole periods in China Standard Time
  return r ? { start: new Date(r.lo), endExclusive: new Date(r.hi) } : undefined;
}

interface Tally {
  decisions: number;
  accepted: number;
  retested: number;
  avoidedFen: number;
  byReason: Map<string, number>;
}

const emptyTally = (): Tally => ({ decisions: 0, accepted: 0, retested: 0, avoidedFen: 0, byReason: new Map() });

function add(t: Tally, g: StatsGroup): void {
  t.decisions += g.count;
  if (g.decision === 'accepted') {
    t.accepted += g.count;
    t.avoidedFen += g.priceFen;
  } else {
    t.retested += g.count;
    const r = g.reason ?? 'other';
    t.byReason.set(r, (t.byReason.get(r) ?? 0) + g.count);
  }
}

/** Round to 4 decimal places: a rate for people, not a float artefact. */
const rate = (t: Tally) => Math.round((t.accepted / t.decisions) * 10_000) / 10_000;

function figures(t: Tally): ParametersParameter[] {
  const out: ParametersParameter[] = [
    { name: 'decisions', valueInteger: t.decisions },
    { name: 'accepted', valueInteger: t.accepted },
    { name: 'retested', valueInteger: t.retested },
  ];
  if (t.decisions > 0) out.push({ name: 'recognitionRate', valueDecimal: rate(t) });
  out.push({ name: 'costAvoided', valueMoney: { value: t.avoidedFen / 100, currency: 'CNY' } });
  return out;
}

export async function recognitionStats(ctx: RecognitionContext, query: Record<string, string[]>): Promise<Parameters> {
  const single = (name: string): string | undefined => {
    const v = query[name];
    if (!v?.length) return undefined;
    if (v.length > 1) throw badRequest(`Parameter ${name} is given more than once`, name, 'duplicate-parameter');
    return v[0];
  };
  const fromText = single('from');
  const toText = single('to');
  const from = fromText === undefined ? undefined : parsePeriod(fromText);
  const to = toText === undefined ? undefined : parsePeriod(toText);
  if (fromText !== undefined && !from) throw badRequest('Parameter from must be a date (YYYY[-MM[-DD]]) or a dateTime with zone', 'from', 'invalid-date');
  if (toText !== undefined && !to) throw badRequest('Parameter to must be a date (YYYY[-MM[-DD]]) or a dateTime with zone', 'to', 'invalid-date');
  if (from && to && from.start.getTime() >= to.endExclusive.getTime()) throw badRequest('Parameter from is after to', ['from', 'to'], 'invalid-period');
  const hospitals = queryValues(query, 'hospital');
  const unknownHospitals = hospitals.filter((h) => !ctx.hospitals.has(h));
  if (unknownHospitals.length) throw badRequest(`Unknown hospital(s): ${unknownHospitals.join(', ')}`, 'hospital', 'unknown-hospital');
  const items = queryValues(query, 'item');
  const unknownItems = items.filter((i) => !ctx.byCode.has(i));
  if (unknownItems.length) throw badRequest(`Unknown catalog item code(s): ${unknownItems.join(', ')}`, 'item', 'unknown-item');

  const groups = await decisionGroups(ctx.db, {
    from: from?.start.toISOString(),
    toExclusive: to?.endExclusive.toISOString(),
    hospitals,
    items,
  });

  const total = emptyTally();
  const by = { hospital: new Map<string, Tally>(), resultHospital: new Map<string, Tally>(), item: new Map<string, Tally>(), month: new Map<string, Tally>() };
  const into = (m: Map<string, Tally>, key: string, g: StatsGroup) => {
    let t = m.get(key);
    if (!t) m.set(key, (t = emptyTally()));
    add(t, g);
  };
  for (const g of groups) {
    add(total, g);
    into(by.hospital, g.requestingHospital, g);
    into(by.resultHospital, g.resultHospital, g);
    into(by.item, g.item, g);
    into(by.month, g.month, g);
  }

  const params: ParametersParameter[] = [];
  if (from) params.push({ name: 'from', valueInstant: from.start.toISOString() });
  if (to) params.push({ name: 'to', valueInstant: new Date(to.endExclusive.getTime() - 1).toISOString() });
  params.push(...figures(total));
  for (const reason of RETEST_REASONS) {
    params.push({ name: 'retestedReason', part: [{ name: 'reason', valueCode: reason }, { name: 'count', valueInteger: total.byReason.get(reason) ?? 0 }] });
  }
  const hospitalRef = (id: string) => {
    const name = ctx.config.hospitals.find((h) => h.id === id)?.name;
    return { reference: `Organization/${id}`, ...(name ? { display: name } : {}) };
  };
  const sorted = (m: Map<string, Tally>) => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [id, t] of sorted(by.hospital)) params.push({ name: 'byHospital', part: [{ name: 'hospital', valueReference: hospitalRef(id) }, ...figures(t)] });
  for (const [id, t] of sorted(by.resultHospital)) params.push({ name: 'byResultHospital', part: [{ name: 'hospital', valueReference: hospitalRef(id) }, ...figures(t)] });
  for (const [code, t] of sorted(by.item)) {
    const item = ctx.byCode.get(code);
    params.push({
      name: 'byItem',
      part: [{ name: 'item', valueCoding: { system: `${ctx.config.canonicalBase}/CodeSystem/recognition-item`, code, ...(item ? { display: item.display } : {}) } }, ...figures(t)],
    });
  }
  for (const [month, t] of sorted(by.month)) params.push({ name: 'byMonth', part: [{ name: 'month', valueString: month }, ...figures(t)] });
  return parameters(params);
}
