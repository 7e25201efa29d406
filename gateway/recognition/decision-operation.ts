import { randomUUID } from 'node:crypto';
import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { RESULT_TYPES, type ResultType } from '../../adapters/adapter';
import { isZonedDateTime } from '../fhir/fhir-date';
import { badRequest, forbidden, notFound, unprocessable } from '../fhir/outcomes';
import type { Access } from '../patient-data/contract';
import type { CatalogItem } from './contract';
import { judge } from './annotate';
import { decisionRow, DECISIONS, insertDecision, RETEST_REASONS, type Decision, type DecisionRow, type RetestReason } from './decision-store';
import { itemOf, observationsById, parameters, type RecognitionContext } from './recognition-context';

/**
 * `POST /Patient/{id}/$recognition-decision` (API.md §6): the receiving physician records whether
 * a result offered for recognition was accepted or the test done again, and why. The record is
 * what the statistics count and what the patient's chart refers to; it is never changed.
 *
 * Body: Parameters with `item` (valueCode), `result` (valueReference `<Type>/<gateway id>`),
 * `decision` (valueCode `accepted` | `retested`), `reason` (valueCode, required for — and only
 * for — `retested`), `note` (valueString, required with reason `other`), and optionally
 * `performedAt` (or `date`; valueDateTime, not in the future; default now).
 *
 * The decision is the requesting hospital's, and that is the token's hospital: a body parameter
 * `requestingHospital` or `hospital`, or a query parameter of those names, naming another hospital is
 * refused (403 `foreign-hospital`), never obeyed; naming the token's own hospital changes nothing.
 *
 * Refusals, nothing stored: a malformed or incomplete body → 400 naming the parameter; unknown
 * patient → 404; another hospital named as the requester → 403; a result that is not among the patient's results as this requester sees them,
 * that is not of the item, or that comes from the requester's own hospital → 422; a token that
 * names no physician (IUA `subject_id`) → 422.
 */

/** Allowed clock skew between a HIS and the gateway for `performedAt`. */
const FUTURE_TOLERANCE_MS = 5 * 60_000;
const MAX_NOTE = 2000;

export interface DecisionInput {
  item: CatalogItem;
  resultType: ResultType;
  resultId: string;
  decision: Decision;
  reason?: RetestReason;
  note?: string;
  performedAt: Date;
}

const where = (name: string) => `Parameters.parameter.where(name='${name}')`;

/** Validate the body of a decision (pure: no storage, no hospital); throws a 400 naming the problem. */
export function parseDecision(body: unknown, catalog: ReadonlyMap<string, CatalogItem>, now: Date): DecisionInput {
  if (!body || typeof body !== 'object' || (body as { resourceType?: unknown }).resourceType !== 'Parameters') {
    throw badRequest('The body must be a FHIR Parameters resource', 'Parameters', 'invalid-body');
  }
  const list = (body as Parameters).parameter;
  if (list !== undefined && !Array.isArray(list)) throw badRequest('Parameters.parameter must be an array', 'Parameters.parameter', 'invalid-body');
  const byName = new Map<string, ParametersParameter>();
  for (const p of list ?? []) {
    if (!p || typeof p !== 'object' || typeof p.name !== 'string') throw badRequest('Every parameter needs a name', 'Parameters.parameter', 'invalid-body');
    const name = p.name === 'date' ? 'performedAt' : p.name;
    if (byName.has(name)) throw badRequest(`Parameter ${p.name} is given more than once`, where(p.name), 'duplicate-parameter');
    byName.set(name, p);
  }
  const text = (name: string, kinds: Array<'valueCode' | 'valueString'>): string | undefined => {
    const p = byName.get(name);
    if (!p) return undefined;
    for (const k of kinds) {
      const v = p[k];
      if (typeof v === 'string' && v.trim()) return v.trim();
    }
    throw badRequest(`Parameter ${name} needs a ${kinds.join(' or ')}`, where(name), 'invalid-parameter');
  };

  const itemCode = text('item', ['valueCode', 'valueString']);
  if (!itemCode) throw badRequest('Parameter item (the catalog item code) is required', where('item'), 'parameter-required');
  const item = catalog.get(itemCode);
  if (!item) throw badRequest(`Unknown catalog item code: ${itemCode}`, where('item'), 'unknown-item');

  const resultParam = byName.get('result');
  if (!resultParam) throw badRequest('Parameter result (a reference to the result) is required', where('result'), 'parameter-required');
  const ref = resultParam.valueReference?.reference;
  const m = typeof ref === 'string' ? /^(DiagnosticReport|Observation|ImagingStudy)\/([A-Za-z0-9.-]{1,64})$/.exec(ref) : null;
  if (!m || !(RESULT_TYPES as readonly string[]).includes(m[1])) {
    throw badRequest('Parameter result must be a valueReference to DiagnosticReport/<id>, Observation/<id> or ImagingStudy/<id>', where('result'), 'invalid-reference');
  }

  const decision = text('decision', ['valueCode']);
  if (!decision) throw badRequest('Parameter decision (accepted | retested) is required', where('decision'), 'parameter-required');
  if (!(DECISIONS as readonly string[]).includes(decision)) {
    throw badRequest(`Parameter decision must be one of ${DECISIONS.join(', ')}`, where('decision'), 'invalid-decision');
  }

  const reason = text('reason', ['valueCode']);
  if (decision === 'retested' && !reason) {
    throw badRequest(`A retested decision needs a reason (${RETEST_REASONS.join(' | ')})`, where('reason'), 'reason-required');
  }
  if (decision === 'accepted' && reason) throw badRequest('A reason is only given for a retested decision', where('reason'), 'reason-not-allowed');
  if (reason && !(RETEST_REASONS as readonly string[]).includes(reason)) {
    throw badRequest(`Parameter reason must be one of ${RETEST_REASONS.join(', ')}`, where('reason'), 'invalid-reason');
  }

  const note = text('note', ['valueString']);
  if (reason === 'other' && !note) throw badRequest('Reason "other" needs a note (valueString) saying what it was', where('note'), 'note-required');
  if (note && note.length > MAX_NOTE) throw badRequest(`Parameter note is longer than ${MAX_NOTE} characters`, where('note'), 'note-too-long');

  let performedAt = now;
  const at = byName.get('performedAt');
  if (at) {
    const raw = at.valueDateTime ?? at.valueInstant;
    // A full date and time with a zone: the record says exactly when the physician decided.
    if (!isZonedDateTime(raw)) {
      throw badRequest('Parameter performedAt must be a valueDateTime with time and zone', where(at.name), 'invalid-date');
    }
    performedAt = new Date(raw);
    if (performedAt.getTime() > now.getTime() + FUTURE_TOLERANCE_MS) {
      throw badRequest('Parameter performedAt is in the future', where(at.name), 'date-in-future');
    }
  }
  return {
    item,
    resultType: m[1] as ResultType,
    resultId: m[2],
    decision: decision as Decision,
    reason: reason as RetestReason | undefined,
    note,
    performedAt,
  };
}

/** The parameters, in the body or the query, that would name the hospital a decision is for. */
const HOSPITAL_PARAMS: readonly string[] = ['requestingHospital', 'hospital'];

/** A hospital id from `xm-zsh`, `Organization/xm-zsh`, `<base>/Organization/xm-zsh` or `<system>|xm-zsh`. */
function hospitalIdOf(raw: string | undefined): string | undefined {
  const v = raw?.trim();
  if (!v) return undefined;
  const id = v.replace(/^.*\|/, '').replace(/^(?:.*\/)?Organization\//, '');
  return id || undefined;
}

function hospitalOfParameter(p: ParametersParameter): string | undefined {
  return (
    hospitalIdOf(p.valueReference?.reference) ??
    hospitalIdOf(p.valueReference?.identifier?.value) ??
    hospitalIdOf(p.valueIdentifier?.value) ??
    hospitalIdOf(p.valueCode ?? p.valueId ?? p.valueString ?? p.valueUri)
  );
}

/**
 * Decisions are recorded for the token's hospital only (issue #14): every `requestingHospital` or
 * `hospital` given in the body (any value type that can name an Organization) or in the query must
 * name `own`. Another hospital → 403 `foreign-hospital`; a value that names no hospital → 400. Pure.
 */
export function checkOwnHospital(body: unknown, query: Record<string, string[]>, own: string): void {
  const named: Array<{ id: string | undefined; where: string }> = [];
  for (const name of HOSPITAL_PARAMS) {
    for (const v of query[name] ?? []) for (const one of v.split(',')) named.push({ id: hospitalIdOf(one), where: name });
  }
  const list = body && typeof body === 'object' ? (body as Parameters).parameter : undefined;
  if (Array.isArray(list)) {
    for (const p of list) {
      if (p && typeof p === 'object' && typeof p.name === 'string' && HOSPITAL_PARAMS.includes(p.name)) {
        named.push({ id: hospitalOfParameter(p), where: where(p.name) });
      }
    }
  }
  for (const n of named) {
    if (n.id === undefined) {
      throw badRequest('A requesting hospital, where given, must name an Organization (Organization/<hospital id>)', n.where, 'invalid-parameter');
    }
    if (n.id !== own) {
      throw forbidden(
        `A decision is recorded for the token's own hospital (${own}) only: ${n.where.startsWith('Parameters') ? 'the body' : `the query parameter ${n.where}`} names another hospital`,
        'foreign-hospital',
      );
    }
  }
}

export async function recordDecision(
  ctx: RecognitionContext,
  access: Access,
  patientId: string,
  body: unknown,
  query: Record<string, string[]> = {},
): Promise<Parameters> {
  const { requester, record } = access;
  if (!requester.hospitalId) throw forbidden('Recognition decisions are made by a hospital\'s clinicians', 'hospital-required');
  if (!(await ctx.patientData.concerns(access, patientId))) throw notFound(`Patient/${patientId} is not known`);
  checkOwnHospital(body, query, requester.hospitalId);
  const now = ctx.clock.now();
  const input = parseDecision(body, ctx.byCode, now);
  if (!requester.user?.id) {
    throw unprocessable('The decision must name the physician: the token carries no IUA subject_id', undefined, 'practitioner-required');
  }

  // The result must be one this requester can see among this patient's results.
  const types: ResultType[] = input.resultType === 'DiagnosticReport' ? ['DiagnosticReport', 'Observation'] : [input.resultType];
  const found = await ctx.patientData.results(access, { patientId }, types);
  if (!found) throw notFound(`Patient/${patientId} is not known`);
  const result = found.results.find((f) => f.resource.resourceType === input.resultType && f.resource.id === input.resultId);
  const ref = `${input.resultType}/${input.resultId}`;
  if (!result) {
    throw unprocessable(`${ref} is not among this patient's results`, where('result'), 'result-not-found');
  }
  const item = itemOf(ctx, result, observationsById(found.results));
  if (item?.code !== input.item.code) {
    throw unprocessable(`${ref} is not a result of item ${input.item.code}`, where('result'), 'result-item-mismatch');
  }
  if (result.hospitalId === requester.hospitalId) {
    throw unprocessable(`${ref} comes from the requesting hospital itself: there is nothing to recognise`, where('result'), 'own-result');
  }
  const verdict = judge(ctx.hospitals, result.resource, item, result.hospitalId, requester.hospitalId, now);

  const row = decisionRow({
    id: randomUUID(),
    patientId: found.patientId,
    item: item.code,
    priceCny: item.priceCny,
    resultRef: ref,
    resultHospital: result.hospitalId,
    requestingHospital: requester.hospitalId,
    decision: input.decision,
    reason: input.reason,
    note: input.note,
    practitionerId: requester.user.id,
    practitionerName: requester.user.name,
    clientId: requester.clientId,
    recognitionStatus: verdict.status,
    decidedAt: input.performedAt,
    recordedAt: now,
    source: 'api',
  });
  await insertDecision(ctx.db, row);
  record.resourceIds.add(`recognition-decision/${row.id}`);
  return decisionParameters(ctx, row);
}

/** A stored decision as the Parameters echoed to the HIS. */
export function decisionParameters(ctx: Pick<RecognitionContext, 'byCode' | 'config'>, row: DecisionRow): Parameters {
  const item = ctx.byCode.get(row.item);
  const p: ParametersParameter[] = [
    { name: 'id', valueId: row.id },
    { name: 'patient', valueReference: { reference: `Patient/${row.patient_id}` } },
    {
      name: 'item',
      valueCoding: { system: `${ctx.config.canonicalBase}/CodeSystem/recognition-item`, code: row.item, ...(item ? { display: item.display } : {}) },
    },
  ];
  if (row.result_ref) p.push({ name: 'result', valueReference: { reference: row.result_ref } });
  p.push({ name: 'decision', valueCode: row.decision });
  if (row.reason) p.push({ name: 'reason', valueCode: row.reason });
  if (row.note) p.push({ name: 'note', valueString: row.note });
  p.push({ name: 'performedAt', valueDateTime: row.decided_at });
  p.push({ name: 'resultHospital', valueReference: { reference: `Organization/${row.result_hospital}` } });
  p.push({ name: 'requestingHospital', valueReference: { reference: `Organization/${row.requesting_hospital}` } });
  if (row.practitioner_id) p.push({ name: 'practitioner', valueIdentifier: { value: row.practitioner_id, assigner: { reference: `Organization/${row.requesting_hospital}` } } });
  if (row.practitioner_name) p.push({ name: 'practitionerName', valueString: row.practitioner_name });
  if (row.recognition_status) p.push({ name: 'recognitionStatus', valueCode: row.recognition_status });
  if (row.price_fen !== null) p.push({ name: 'price', valueMoney: { value: row.price_fen / 100, currency: 'CNY' } });
  p.push({ name: 'recorded', valueInstant: row.recorded_at });
  return parameters(p);
}
