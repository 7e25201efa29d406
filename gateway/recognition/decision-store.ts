import { CHINA_OFFSET_MS } from '../fhir/fhir-date';
import type { Db } from '../storage/db';

/**
 * Storage of recognition decisions (table `recognition_decisions`, see migration.ts) and the
 * aggregation behind `$recognition-stats` (API.md §6). Portable knex only.
 */

export const DECISIONS = ['accepted', 'retested'] as const;
export type Decision = (typeof DECISIONS)[number];
/** The reasons for testing again: the national exceptions and the local ones, in few codes (DOMAIN.md). */
export const RETEST_REASONS = ['condition-changed', 'emergency', 'quality-doubt', 'patient-request', 'other'] as const;
export type RetestReason = (typeof RETEST_REASONS)[number];

export interface DecisionRow {
  id: string;
  patient_id: string;
  item: string;
  result_ref: string | null;
  result_hospital: string;
  requesting_hospital: string;
  decision: Decision;
  reason: RetestReason | null;
  note: string | null;
  practitioner_id: string | null;
  practitioner_name: string | null;
  client_id: string | null;
  recognition_status: string | null;
  price_fen: number | null;
  decided_at: string;
  decided_month: string;
  recorded_at: string;
  source: 'api' | 'demo' | 'cds';
}

/** YYYY-MM of an instant in China Standard Time (UTC+8, no daylight saving). */
export function chinaMonth(at: Date): string {
  return new Date(at.getTime() + CHINA_OFFSET_MS).toISOString().slice(0, 7);
}

/**
 * A decision as stored, from what the decider said: the derived columns (`decided_month` in China
 * Standard Time, the item's price in fen) are worked out here, once for every way a decision is
 * made (`$recognition-decision`, CDS Hooks feedback, the demo loader).
 */
export function decisionRow(d: {
  id: string;
  patientId: string;
  item: string;
  /** the catalogue price of the item, yuan */
  priceCny: number | undefined;
  resultRef: string | null;
  resultHospital: string;
  requestingHospital: string;
  decision: Decision;
  reason?: RetestReason | null;
  note?: string | null;
  practitionerId: string | null;
  practitionerName?: string | null;
  clientId: string | null;
  recognitionStatus: string | null;
  decidedAt: Date;
  recordedAt: Date;
  source: DecisionRow['source'];
}): DecisionRow {
  return {
    id: d.id,
    patient_id: d.patientId,
    item: d.item,
    result_ref: d.resultRef,
    result_hospital: d.resultHospital,
    requesting_hospital: d.requestingHospital,
    decision: d.decision,
    reason: d.reason ?? null,
    note: d.note ?? null,
    practitioner_id: d.practitionerId,
    practitioner_name: d.practitionerName ?? null,
    client_id: d.clientId,
    recognition_status: d.recognitionStatus,
    price_fen: toFen(d.priceCny),
    decided_at: d.decidedAt.toISOString(),
    decided_month: chinaMonth(d.decidedAt),
    recorded_at: d.recordedAt.toISOString(),
    source: d.source,
  };
}

/** Yuan → fen, rounded (prices in the catalogue have at most two decimals). */
export const toFen = (cny: number | undefined): number | null => (cny === undefined ? null : Math.round(cny * 100));

export async function insertDecision(db: Db, row: DecisionRow): Promise<void> {
  await db('recognition_decisions').insert(row);
}

/** Insert the rows whose id is not stored yet; returns how many were new. Safe against a concurrent loader. */
export async function insertMissingDecisions(db: Db, rows: DecisionRow[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += 200) {
    const chunk = rows.slice(i, i + 200);
    const existing = new Set(
      (await db('recognition_decisions').whereIn('id', chunk.map((r) => r.id)).select('id')).map((r: { id: string }) => r.id),
    );
    const missing = chunk.filter((r) => !existing.has(r.id));
    if (missing.length) {
      await db('recognition_decisions').insert(missing).onConflict('id').ignore();
      inserted += missing.length;
    }
  }
  return inserted;
}

export interface StatsFilter {
  /** inclusive, ISO UTC */
  from?: string;
  /** exclusive, ISO UTC */
  toExclusive?: string;
  hospitals?: string[];
  items?: string[];
}

/** One aggregated group: every decision sharing these keys. */
export interface StatsGroup {
  requestingHospital: string;
  resultHospital: string;
  item: string;
  month: string;
  decision: Decision;
  reason: RetestReason | null;
  count: number;
  priceFen: number;
}

/** Decisions grouped by every key the statistics break down by, in one portable query. */
export async function decisionGroups(db: Db, f: StatsFilter): Promise<StatsGroup[]> {
  const q = db('recognition_decisions')
    .select('requesting_hospital', 'result_hospital', 'item', 'decided_month', 'decision', 'reason')
    .count({ n: '*' })
    .sum({ fen: 'price_fen' })
    .groupBy('requesting_hospital', 'result_hospital', 'item', 'decided_month', 'decision', 'reason');
  if (f.from) q.where('decided_at', '>=', f.from);
  if (f.toExclusive) q.where('decided_at', '<', f.toExclusive);
  if (f.hospitals?.length) q.whereIn('requesting_hospital', f.hospitals);
  if (f.items?.length) q.whereIn('item', f.items);
  const rows = (await q) as Array<Record<string, unknown>>;
  return rows.map((r) => ({
    requestingHospital: String(r.requesting_hospital),
    resultHospital: String(r.result_hospital),
    item: String(r.item),
    month: String(r.decided_month),
    decision: r.decision as Decision,
    reason: (r.reason ?? null) as RetestReason | null,
    // PostgreSQL returns bigint counts and sums as strings
    count: Number(r.n),
    priceFen: r.fen === null || r.fen === undefined ? 0 : Number(r.fen),
  }));
}
