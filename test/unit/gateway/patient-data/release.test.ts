import { release, unreleasedIn } from '../../../../gateway/patient-data/release';

const obs = () => ({ resourceType: 'Observation', id: 'h0.o1', status: 'final' });
const bundle = (...resources: unknown[]) => ({ resourceType: 'Bundle', type: 'searchset', entry: resources.map((resource) => ({ resource })) });

describe('the release mark', () => {
  const released = () => release(obs());
  const cases: Array<[string, () => unknown, string | undefined]> = [
    ['a released result alone', released, undefined],
    ['a result never released', obs, 'Observation'],
    ['released results in a Bundle', () => bundle(released(), released()), undefined],
    ['one unreleased result among released ones', () => bundle(released(), obs()), 'Observation'],
    ['a spread copy of a released result', () => ({ ...released() }), 'Observation'],
    ['an Object.assign copy of a released result', () => Object.assign({}, released()), 'Observation'],
    ['an object whose prototype is a released result', () => Object.assign(Object.create(released()), { resourceType: 'Observation' }), 'Observation'],
    ['a structured clone of a released result', () => structuredClone(released()), 'Observation'],
    ['a released Patient in a Parameters part', () => ({ resourceType: 'Parameters', parameter: [{ name: 'x', part: [{ name: 'y', resource: release({ resourceType: 'Patient', id: 'p' }) }] }] }), undefined],
    ['an unreleased Patient in a Parameters part', () => ({ resourceType: 'Parameters', parameter: [{ name: 'x', part: [{ name: 'y', resource: { resourceType: 'Patient', id: 'p' } }] }] }), 'Patient'],
    ['a resource that is not patient data', () => ({ resourceType: 'OperationOutcome', issue: [] }), undefined],
  ];
  it.each(cases)('%s', (_name, make, expected) => {
    expect(unreleasedIn(make())).toBe(expected);
  });

  it('is invisible in the JSON sent and in the keys, and cannot be removed', () => {
    const r = released();
    expect(JSON.stringify(r)).toBe(JSON.stringify(obs()));
    expect(Object.keys(r)).toEqual(Object.keys(obs()));
    expect(Reflect.ownKeys(r).filter((k) => typeof k === 'symbol')).toHaveLength(1);
    const mark = Reflect.ownKeys(r).find((k) => typeof k === 'symbol')!;
    expect(Reflect.deleteProperty(r, mark)).toBe(false);
    expect(Reflect.set(r, mark, false)).toBe(false);
    expect(unreleasedIn(r)).toBeUndefined();
  });

  it('releasing twice is the same as once', () => {
    const r = release(released());
    expect(unreleasedIn(bundle(r))).toBeUndefined();
  });
});
