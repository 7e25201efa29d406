import type { Observation, OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { ResultType } from '../../adapters/adapter';
import { badRequest, notFound, suppressedOutcome } from '../fhir/outcomes';
import type { Access, FoundResult, Subject } from '../patient-data/contract';
import type { CatalogItem } from './contract';
import { judge } from './annotate';
import { itemOf, observationsById, parameters, queryValues, type RecognitionContext } from './recognition-context';
import { resultTime } from '../fhir/result-time';
import type { RecognitionStatus } from './recognition-status';

/**
 * `GET /Patient/{id}/$recognition?item=CBC&item=CT-CHEST` (API.md §6): for each asked item, is
 * there a result the requesting hospital may recognise, and which is the newest.
 *
 * One `item` parameter per asked code (in the order asked, duplicates once) with parts `code`,
 * `display`, `recognizable`, and — when there is one — `result` (the newest recognizable result,
 * `<Type>/<gateway id>`) and `validUntil`. Beyond the contract: `status`, the recognition status of
 * the newest result of that item (so "not recognizable" says why: `expired`, `grade-below`, …),
 * absent when the patient has no result of the item at all. Hospitals that did not answer, and
 * consent withholding results, are reported as `outcome` parameters holding an OperationOutcome
 * (the same ones a search Bundle carries), because an absent result may then be only unseen.
 */
export async function recognitionOperation(ctx: RecognitionContext, access: Access, patientId: string, query: Record<string, string[]>): Promise<Parameters> {
  const items = askedItems(ctx, query);
  const found = await judgedFor(ctx, access, { patientId }, items);
  if (!found) throw notFound(`Patient/${patientId} is not known`);
  const outcomes: OperationOutcome[] = [...found.failures];
  if (found.suppressed) outcomes.push(suppressedOutcome());
  const params: ParametersParameter[] = items.map((item) => itemParameter(item, found.verdicts.get(item.code) ?? []));
  for (const o of outcomes) params.push({ name: 'outcome', resource: o });
  return parameters(params);
}

/**
 * The patient's results of the given items, judged for the requester, grouped by item code, newest
 * first — through the guarded patient data. Null when the patient is not known. Shared by
 * `$recognition` and the CDS Hooks service.
 */
export async function judgedFor(
  ctx: RecognitionContext,
  access: Access,
  subject: Subject,
  items: readonly CatalogItem[],
  opts: { budgetMs?: number } = {},
): Promise<{ patientId: string; verdicts: Map<string, Judged[]>; membersOf: (result: FoundResult) => Observation[]; failures: OperationOutcome[]; suppressed: boolean } | null> {
  // Lab items are found as reports, matched through the observations that travel with them (one
  // query a hospital, as a report search); imaging items also as studies. The answer offers a
  // report, the unit a clinician accepts or repeats.
  const types = new Set<ResultType>();
  for (const item of items) {
    types.add('DiagnosticReport');
    if (item.category === 'imaging') types.add('ImagingStudy');
  }
  const found = await ctx.patientData.results(access, subject, [...types], { budgetMs: opts.budgetMs });
  if (!found) return null;
  const verdicts = judgeAll(ctx, found.results, access.requester.hospitalId, ctx.clock.now());
  // a report's members are released only for the report an answer shows (a CDS card)
  return { patientId: found.patientId, verdicts, membersOf: found.membersOf, failures: found.failures, suppressed: found.suppressed };
}

/** The asked items, each once, in the order asked; 400 naming unknown codes or when none is asked. */
export function askedItems(ctx: Pick<RecognitionContext, 'byCode'>, query: Record<string, string[]>): CatalogItem[] {
  const codes = [...new Set(queryValues(query, 'item'))];
  if (codes.length === 0) throw badRequest('At least one item parameter (a catalog item code) is required', 'item', 'item-required');
  const unknown = codes.filter((c) => !ctx.byCode.has(c));
  if (unknown.length) throw badRequest(`Unknown catalog item code(s): ${unknown.join(', ')}`, 'item', 'unknown-item');
  return codes.map((c) => ctx.byCode.get(c)!);
}

export interface Judged {
  found: FoundResult;
  status: RecognitionStatus;
  validUntil?: Date;
  time: number;
}

// When two results of an item carry the same time, the report is the one a clinician reads.
const TYPE_RANK: Record<string, number> = { DiagnosticReport: 0, ImagingStudy: 1, Observation: 2 };

/** Every found result judged for the requester, grouped by item code, newest first. */
export function judgeAll(ctx: RecognitionContext, results: readonly FoundResult[], requesterHospitalId: string | undefined, now: Date): Map<string, Judged[]> {
  const obs = observationsById(results);
  const byItem = new Map<string, Judged[]>();
  for (const f of results) {
    const item = itemOf(ctx, f, obs);
    if (!item) continue;
    const v = judge(ctx.hospitals, f.resource, item, f.hospitalId, requesterHospitalId, now);
    const t = Date.parse(resultTime(f.resource) ?? '');
    const list = byItem.get(item.code) ?? [];
    list.push({ found: f, status: v.status, validUntil: v.validUntil, time: Number.isNaN(t) ? -Infinity : t });
    byItem.set(item.code, list);
  }
  for (const list of byItem.values()) {
    list.sort((a, b) => b.time - a.time || TYPE_RANK[a.found.resource.resourceType] - TYPE_RANK[b.found.resource.resourceType]);
  }
  return byItem;
}

function itemParameter(item: CatalogItem, judged: readonly Judged[]): ParametersParameter {
  const best = judged.find((j) => j.status === 'recognizable');
  const part: ParametersParameter[] = [
    { name: 'code', valueCode: item.code },
    { name: 'display', valueString: item.display },
    { name: 'recognizable', valueBoolean: Boolean(best) },
  ];
  const shown = best ?? judged[0];
  if (shown) part.push({ name: 'status', valueCode: shown.status });
  if (best) {
    const r = best.found.resource;
    part.push({ name: 'result', valueReference: { reference: `${r.resourceType}/${r.id}` } });
    part.push({ name: 'validUntil', valueDateTime: best.validUntil!.toISOString() });
  }
  return { name: 'item', part };
}
