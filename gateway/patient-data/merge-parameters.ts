import type { OperationOutcome, Parameters, ParametersParameter, Patient } from '@medplum/fhirtypes';
import { badRequest } from '../fhir/outcomes';
import { safeText } from '../fhir/fhir-string';
import type { Subject } from './contract';

/**
 * The bodies of `POST /Patient/$merge` and `POST /Patient/$unmerge` (docs/patient-data.md §5). The
 * parameters are those of FHIR's Patient `$merge` (`source-patient` or `source-patient-identifier`,
 * `target-patient` or `target-patient-identifier`, `preview`), plus `reason` — required here, since
 * every merge and unmerge must say why in the audit trail. Pure; throws a 400 naming the problem.
 */

export interface MergeRequest {
  source: Subject;
  target: Subject;
  preview: boolean;
  reason: string;
}

const where = (name: string) => `Parameters.parameter.where(name='${name}')`;
const MIN_REASON = 4;
const MAX_REASON = 500;
const PATIENT_REF = /^Patient\/([A-Za-z0-9\-.]{1,64})$/;

function byName(body: unknown, allowed: readonly string[]): Map<string, ParametersParameter> {
  if (!body || typeof body !== 'object' || (body as { resourceType?: unknown }).resourceType !== 'Parameters') {
    throw badRequest('The body must be a FHIR Parameters resource', 'Parameters', 'invalid-body');
  }
  const list = (body as Parameters).parameter;
  if (list !== undefined && !Array.isArray(list)) throw badRequest('Parameters.parameter must be an array', 'Parameters.parameter', 'invalid-body');
  const out = new Map<string, ParametersParameter>();
  for (const p of list ?? []) {
    if (!p || typeof p !== 'object' || typeof p.name !== 'string') throw badRequest('Every parameter needs a name', 'Parameters.parameter', 'invalid-body');
    if (!allowed.includes(p.name)) throw badRequest(`Unknown parameter ${p.name.slice(0, 64)} (allowed: ${allowed.join(', ')})`, where(p.name.slice(0, 64)), 'invalid-parameter');
    if (out.has(p.name)) throw badRequest(`Parameter ${p.name} is given more than once`, where(p.name), 'duplicate-parameter');
    out.set(p.name, p);
  }
  return out;
}

function subjectOf(params: Map<string, ParametersParameter>, which: 'source' | 'target'): Subject {
  const ref = params.get(`${which}-patient`);
  const ident = params.get(`${which}-patient-identifier`);
  if (ref && ident) throw badRequest(`Give ${which}-patient or ${which}-patient-identifier, not both`, where(`${which}-patient`), 'invalid-parameter');
  if (ref) {
    const m = PATIENT_REF.exec(ref.valueReference?.reference ?? '');
    if (!m) throw badRequest(`${which}-patient must be a valueReference to Patient/<id>`, where(`${which}-patient`), 'invalid-parameter');
    return { patientId: m[1]! };
  }
  if (ident) {
    const v = ident.valueIdentifier;
    if (!v?.value || typeof v.value !== 'string') throw badRequest(`${which}-patient-identifier must be a valueIdentifier with a value`, where(`${which}-patient-identifier`), 'invalid-parameter');
    return { identifier: { ...(v.system ? { system: v.system } : {}), value: v.value }, param: `${which}-patient-identifier` };
  }
  throw badRequest(`Parameter ${which}-patient (or ${which}-patient-identifier) is required`, where(`${which}-patient`), 'parameter-required');
}

function reasonOf(params: Map<string, ParametersParameter>): string {
  const raw = params.get('reason')?.valueString;
  const reason = typeof raw === 'string' ? safeText(raw.trim(), { lineBreaks: false }) : '';
  if ([...reason].length < MIN_REASON || [...reason].length > MAX_REASON) {
    throw badRequest(`Parameter reason (valueString, ${MIN_REASON}–${MAX_REASON} characters) is required: the audit trail keeps why`, where('reason'), 'parameter-required');
  }
  return reason;
}

export function parseMerge(body: unknown): MergeRequest {
  const params = byName(body, ['source-patient', 'source-patient-identifier', 'target-patient', 'target-patient-identifier', 'preview', 'reason', 'result-patient']);
  if (params.has('result-patient')) throw badRequest('result-patient is not supported: the survivor is the target as it is', where('result-patient'), 'invalid-parameter');
  const previewParam = params.get('preview');
  if (previewParam && typeof previewParam.valueBoolean !== 'boolean') throw badRequest('preview must be a valueBoolean', where('preview'), 'invalid-parameter');
  return { source: subjectOf(params, 'source'), target: subjectOf(params, 'target'), preview: previewParam?.valueBoolean === true, reason: reasonOf(params) };
}

export function parseUnmerge(body: unknown): { source: Subject; reason: string } {
  const params = byName(body, ['source-patient', 'source-patient-identifier', 'reason']);
  return { source: subjectOf(params, 'source'), reason: reasonOf(params) };
}

/** The answer: `input` (as received), `outcome` (what was done), `result` (the patient as the asker may see it). */
export function mergeAnswer(input: Parameters, done: string, result: Patient): Parameters {
  const outcome: OperationOutcome = { resourceType: 'OperationOutcome', issue: [{ severity: 'information', code: 'informational', diagnostics: done }] };
  return {
    resourceType: 'Parameters',
    parameter: [
      { name: 'input', resource: input },
      { name: 'outcome', resource: outcome },
      { name: 'result', resource: result },
    ],
  };
}
