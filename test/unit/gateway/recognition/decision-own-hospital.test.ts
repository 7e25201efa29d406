import type { Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { isOperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import { checkOwnHospital } from '../../../../gateway/recognition/decision-operation';

/** Issue #14, finding 6: a decision names no hospital but the token's (pure check). */

const body = (...parameter: ParametersParameter[]): Parameters => ({ resourceType: 'Parameters', parameter: [{ name: 'item', valueCode: 'CBC' }, ...parameter] });
const outcomeOf = (f: () => void) => {
  try {
    f();
  } catch (e) {
    if (isOperationOutcomeError(e)) return `${e.status} ${e.outcome.issue[0].details?.coding?.[0]?.code}`;
    throw e;
  }
  return 'accepted';
};

describe('checkOwnHospital', () => {
  test.each<[string, Parameters | unknown, Record<string, string[]>, string]>([
    ['nothing named', body(), {}, 'accepted'],
    ['own, by reference', body({ name: 'requestingHospital', valueReference: { reference: 'Organization/xm-dyyy' } }), {}, 'accepted'],
    ['own, by code and by query', body({ name: 'hospital', valueCode: 'xm-dyyy' }), { hospital: ['Organization/xm-dyyy'] }, 'accepted'],
    ['other, by reference', body({ name: 'requestingHospital', valueReference: { reference: 'Organization/zz-syy' } }), {}, '403 foreign-hospital'],
    ['other, by a reference URL', body({ name: 'requestingHospital', valueReference: { reference: 'https://x/fhir/Organization/zz-syy' } }), {}, '403 foreign-hospital'],
    ['other, by identifier', body({ name: 'requestingHospital', valueIdentifier: { system: 'urn:x', value: 'zz-syy' } }), {}, '403 foreign-hospital'],
    ['other, by reference identifier', body({ name: 'hospital', valueReference: { identifier: { value: 'zz-syy' } } }), {}, '403 foreign-hospital'],
    ['other, by string', body({ name: 'hospital', valueString: 'zz-syy' }), {}, '403 foreign-hospital'],
    ['other, in a token', body({ name: 'hospital', valueCode: 'urn:x|zz-syy' }), {}, '403 foreign-hospital'],
    ['other, by query', body(), { hospital: ['zz-syy'] }, '403 foreign-hospital'],
    ['own and other, comma-separated', body(), { hospital: ['xm-dyyy,zz-syy'] }, '403 foreign-hospital'],
    ['other, by query requestingHospital', body(), { requestingHospital: ['zz-syy'] }, '403 foreign-hospital'],
    ['another case is another hospital', body({ name: 'hospital', valueCode: 'XM-DYYY' }), {}, '403 foreign-hospital'],
    ['a value naming nothing', body({ name: 'requestingHospital', valueBoolean: true }), {}, '400 invalid-parameter'],
    ['an empty query value', body(), { hospital: [''] }, '400 invalid-parameter'],
    ['not Parameters (left to parseDecision)', 'nonsense', {}, 'accepted'],
  ])('%s → %s', (_case, b, query, expected) => {
    expect(outcomeOf(() => checkOwnHospital(b, query, 'xm-dyyy'))).toBe(expected);
  });
});
