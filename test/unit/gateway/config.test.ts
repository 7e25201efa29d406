import { ConfigError, databaseFromUrl, parseConfig } from '../../../gateway/config';

const hospital = (over: Record<string, unknown> = {}) => ({
  id: 'xm-zsh',
  name: '厦门大学附属中山医院',
  city: '350200',
  grade: '3A',
  recognizedItems: ['CBC'],
  adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9101/fhir' },
  ...over,
});
const base = (over: Record<string, unknown> = {}) => ({ publicBaseUrl: 'http://127.0.0.1:8080/', hospitals: [hospital()], ...over });

function problems(raw: unknown): string[] {
  try {
    parseConfig(raw);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  return [];
}

describe('configuration', () => {
  test('a minimal file gets the documented defaults, frozen', () => {
    const c = parseConfig(base(), { baseDir: '/srv/xzq' });
    expect(c.publicBaseUrl).toBe('http://127.0.0.1:8080');
    expect(c.canonicalBase).toBe('https://hie.xzq.example/fhir');
    expect(c.consent.default).toBe('deny');
    expect(c.database).toEqual({ client: 'sqlite3', connection: { filename: '/srv/xzq/data/gateway.sqlite' } });
    expect(Object.isFrozen(c.hospitals[0])).toBe(true);
    expect(c.admission).toEqual({ minConcurrency: 4, maxConcurrency: 512, maxQueue: 2048 });
  });

  test.each([
    [base({ hospitals: [hospital(), hospital({ id: 'X', grade: '4A' })] }), ['hospitals[1].id', 'hospitals[1].grade']],
    [base({ hospitals: [hospital({ city: '110000' })] }), ['hospitals[0].city']],
    [base({ hospitals: [hospital({ adapter: { type: 'ftp' } })] }), ['hospitals[0].adapter']],
    [base({ hospitals: [hospital({ adapter: { type: 'hl7v2' } })] }), ['hospitals[0].adapter.inbox']],
    [base({ extra: 1 }), ['(root)']],
    [base({ hospitals: [hospital({ colour: 'red' })] }), ['hospitals[0]']],
    [base({ publicBaseUrl: 'not a url' }), ['publicBaseUrl']],
    [base({ consent: { default: 'maybe' } }), ['consent.default']],
    [base({ clients: [{ id: 'c1', roles: ['clinician'], jwks: { keys: [{ kty: 'RSA' }] } }] }), ['clients[0].hospital']],
    [base({ clients: [{ id: 'c1', hospital: 'nope', roles: ['god'], jwks: { keys: [] } }] }), ['clients[0].roles[0]', 'clients[0].jwks.keys']],
    [base({ hospitals: [hospital(), hospital()] }), ['hospitals[1].id']],
    [base({ admission: { minConcurrency: 8, maxConcurrency: 4 } }), ['admission.minConcurrency']],
    [base({ admission: { minConcurrency: 0, maxQueue: -1 } }), ['admission.minConcurrency', 'admission.maxQueue']],
    [base({ admission: { limit: 8 } }), ['admission']],
  ])('errors name the field paths (%#)', (raw, paths) => {
    const ps = problems(raw);
    for (const p of paths) expect(ps.some((x) => x.startsWith(p))).toBe(true);
  });

  test('DATABASE_URL overrides the file', () => {
    expect(parseConfig(base(), { env: { DATABASE_URL: 'postgres://u@h:5432/db' } }).database).toEqual({ client: 'pg', connection: 'postgres://u@h:5432/db' });
    expect(parseConfig(base(), { env: { DATABASE_URL: 'sqlite:/tmp/x.sqlite' } }).database).toEqual({ client: 'sqlite3', connection: { filename: '/tmp/x.sqlite' } });
    expect(() => databaseFromUrl('mysql://x')).toThrow(ConfigError);
  });
});
