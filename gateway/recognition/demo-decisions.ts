import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ConfigError, type GatewayConfig } from '../config';
import type { CatalogItem, PatientIndex } from '../services';
import type { Db } from '../storage/db';
import { chinaMonth, DECISIONS, insertMissingDecisions, RETEST_REASONS, toFen, type DecisionRow } from './decision-store';

/**
 * Demo decisions (fixtures/recognition-decisions.json) for the demo network, so
 * `$recognition-stats` has something to show on first start (API.md §1 `npm start`, §6).
 * Each decision gets an id derived from its content, so loading the same file on every start
 * stores each decision once.
 */

const decisionSchema = z
  .strictObject({
    patientNationalId: z.string().min(15).max(18),
    item: z.string().min(1),
    resultHospital: z.string().min(1),
    requestingHospital: z.string().min(1),
    decision: z.enum(DECISIONS),
    reason: z.enum(RETEST_REASONS).optional(),
    note: z.string().optional(),
    practitionerId: z.string().min(1),
    practitionerName: z.string().min(1),
    decidedAt: z.iso.datetime({ offset: true }),
    resultRef: z.string().regex(/^(DiagnosticReport|Observation|ImagingStudy)\/[A-Za-z0-9.-]{1,64}$/).optional(),
  })
  .superRefine((d, ctx) => {
    if (d.decision === 'retested' && !d.reason) ctx.addIssue({ code: 'custom', path: ['reason'], message: 'a retested decision needs a reason' });
    if (d.decision === 'accepted' && d.reason) ctx.addIssue({ code: 'custom', path: ['reason'], message: 'only retested decisions have a reason' });
    if (d.reason === 'other' && !d.note) ctx.addIssue({ code: 'custom', path: ['note'], message: 'reason "other" needs a note' });
  });

export type DemoDecision = z.input<typeof decisionSchema>;

/**
 * Store the demo decisions not stored yet; returns how many of the file's decisions are now in the
 * store (the same number on every start: the new ones are inserted, the others were). Throws a
 * {@link ConfigError} naming each bad entry (`decisions[2].item: …`). Decisions whose patient no
 * hospital knows are skipped.
 */
export async function loadDemoDecisions(
  deps: { db: Db; patientIndex: PatientIndex; catalog: readonly CatalogItem[]; config: Pick<GatewayConfig, 'hospitals'> },
  decisions: DemoDecision[],
): Promise<number> {
  const parsed = z.array(decisionSchema).safeParse(decisions);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `decisions${i.path.map((s) => (typeof s === 'number' ? `[${s}]` : `.${String(s)}`)).join('')}: ${i.message}`));
  }
  const items = new Map(deps.catalog.map((i) => [i.code, i]));
  const hospitals = new Set(deps.config.hospitals.map((h) => h.id));
  const problems: string[] = [];
  parsed.data.forEach((d, i) => {
    if (!items.has(d.item)) problems.push(`decisions[${i}].item: unknown catalog item ${d.item}`);
    if (!hospitals.has(d.resultHospital)) problems.push(`decisions[${i}].resultHospital: unknown hospital ${d.resultHospital}`);
    if (!hospitals.has(d.requestingHospital)) problems.push(`decisions[${i}].requestingHospital: unknown hospital ${d.requestingHospital}`);
  });
  if (problems.length) throw new ConfigError(problems);

  const patients = new Map<string, string | null>();
  const rows: DecisionRow[] = [];
  for (const d of parsed.data) {
    const nid = d.patientNationalId.toUpperCase();
    if (!patients.has(nid)) patients.set(nid, (await deps.patientIndex.resolveNationalId(nid))?.id ?? null);
    const patientId = patients.get(nid);
    if (!patientId) continue;
    const decidedAt = new Date(d.decidedAt);
    const id = 'demo-' + createHash('sha256').update(JSON.stringify([nid, d.item, d.resultHospital, d.requestingHospital, d.decision, d.reason ?? '', d.practitionerId, decidedAt.toISOString(), d.resultRef ?? ''])).digest('hex').slice(0, 40);
    rows.push({
      id,
      patient_id: patientId,
      item: d.item,
      result_ref: d.resultRef ?? null,
      result_hospital: d.resultHospital,
      requesting_hospital: d.requestingHospital,
      decision: d.decision,
      reason: d.reason ?? null,
      note: d.note ?? null,
      practitioner_id: d.practitionerId,
      practitioner_name: d.practitionerName,
      client_id: null,
      recognition_status: null,
      price_fen: toFen(items.get(d.item)!.priceCny),
      decided_at: decidedAt.toISOString(),
      decided_month: chinaMonth(decidedAt),
      recorded_at: decidedAt.toISOString(),
      source: 'demo',
    });
  }
  await insertMissingDecisions(deps.db, rows);
  return rows.length;
}
