import { checkConsent } from '../../../consent/consent-validation';
import { parseFhirInstant } from '../../../consent/fhir-time';
import { isOperationOutcomeError } from '../../../gateway/fhir/outcomes';
import { expectValidFhir } from '../../support/fhir-validation';
import { CANONICAL, ITEM_SYSTEM, actors, classes, consent, dataPeriod, deny, nested, period, permit } from '../../support/consent-builders';

/** What a registrar may store (API.md §5): each bad input → its status and the field it names. */
const ctx = { hospitalIds: new Set(['xm-zsh', 'xm-dyyy', 'qz-dyyy']), canonicalBase: CANONICAL, registrarHospital: 'xm-zsh', method: 'POST' as const };

function refusal(body: unknown, over: Partial<typeof ctx> | { method: 'PUT' } = {}) {
  try {
    checkConsent(body, { ...ctx, ...over });
  } catch (e) {
    if (!isOperationOutcomeError(e)) throw e;
    expectValidFhir(e.outcome);
    return { status: e.status, expressions: e.outcome.issue.flatMap((i) => i.expression ?? []), texts: e.outcome.issue.map((i) => i.details?.text ?? '') };
  }
  throw new Error('accepted');
}

const good = () => consent(permit(actors('xm-dyyy'), nested(deny(classes('ImagingStudy')))));
const edit = (f: (c: Record<string, any>) => void): unknown => {
  const c = structuredClone(good()) as Record<string, any>;
  f(c);
  return c;
};

describe('checkConsent accepts a good consent and normalises it', () => {
  it('sets organization, drops id and meta, keeps the rest', () => {
    const { consent: c, patientId } = checkConsent({ ...good(), id: 'x', meta: { versionId: '9' } }, ctx);
    expect(patientId).toBe('p1');
    expect(c.id).toBeUndefined();
    expect(c.meta).toBeUndefined();
    expect(c.organization).toEqual([{ reference: 'Organization/xm-zsh' }]);
    expectValidFhir(c);
  });
  it('accepts an absolute patient reference and makes it relative', () => {
    const body = edit((c) => (c.patient = { reference: 'http://127.0.0.1:8080/Patient/p9' }));
    expect(checkConsent(body, ctx).consent.patient).toEqual({ reference: 'Patient/p9' });
  });
  it('accepts organization naming the registrar\'s own hospital', () => {
    expect(() => checkConsent(edit((c) => (c.organization = [{ reference: 'Organization/xm-zsh' }])), ctx)).not.toThrow();
  });
  it('accepts codes of the recognition item system and inactive on PUT', () => {
    const body = edit((c) => {
      c.provision.code = [{ coding: [{ system: ITEM_SYSTEM, code: 'CBC' }] }];
      c.status = 'inactive';
    });
    expect(checkConsent(body, { ...ctx, method: 'PUT' }).consent.status).toBe('inactive');
  });
});

describe('checkConsent refuses, naming the field', () => {
  type Over = Partial<typeof ctx> | { method: 'PUT' };
  const rows: Array<[string, unknown, number, string, Over?]> = [
    ['an array', [good()], 422, 'Consent'],
    ['a string', 'consent', 422, 'Consent'],
    ['another resource type', { resourceType: 'Patient' }, 422, 'resourceType'],
    ['no resourceType', { status: 'active' }, 422, 'resourceType'],
    ['no patient', edit((c) => delete c.patient), 422, 'Consent.patient'],
    ['a patient by identifier only', edit((c) => (c.patient = { identifier: { system: 'urn:oid:2.16.156.10011.1.3', value: '350203199001010018' } })), 422, 'Consent.patient.reference'],
    ['a patient reference to something else', edit((c) => (c.patient = { reference: 'Organization/xm-zsh' })), 422, 'Consent.patient.reference'],
    ['an unknown element (not R4)', edit((c) => (c.colour = 'blue')), 422, 'Consent.colour'],
    ['a malformed date (not R4)', edit((c) => (c.provision.period = { start: '29/11/2026' })), 422, 'Consent.provision.period.start'],
    ['no policy or policyRule (R4 ppc-1)', edit((c) => delete c.policyRule), 422, 'Consent'],
    ['a status outside the value set', edit((c) => (c.status = 'revoked')), 422, 'Consent.status'],
    ['status inactive on POST', edit((c) => (c.status = 'inactive')), 422, 'Consent.status'],
    ['status draft on PUT', edit((c) => (c.status = 'draft')), 422, 'Consent.status', { method: 'PUT' }],
    ['a provision type outside the value set', edit((c) => (c.provision.provision[0].type = 'maybe')), 422, 'Consent.provision.provision[0].type'],
    ['a root deny', edit((c) => (c.provision.type = 'deny')), 422, 'Consent.provision.type'],
    ['no provision', edit((c) => delete c.provision), 422, 'Consent.provision'],
    ['a reversed period', { ...good(), provision: permit(period('2027-01-01', '2026-01-01')) }, 422, 'Consent.provision.period'],
    ['a reversed nested period', { ...good(), provision: permit(nested(deny(period('2027-01-01', '2026-01-01')))) }, 422, 'Consent.provision.provision[0].period'],
    ['a reversed dataPeriod', { ...good(), provision: permit(dataPeriod('2026-02-01', '2026-01-31')) }, 422, 'Consent.provision.dataPeriod'],
    ['an actor that is not a member hospital', { ...good(), provision: permit(actors('nowhere')) }, 422, 'Consent.provision.actor[0].reference'],
    ['an actor that is a Practitioner', edit((c) => (c.provision.actor[0].reference.reference = 'Practitioner/d1')), 422, 'Consent.provision.actor[0].reference'],
    ['an actor without the IRCP role', edit((c) => (c.provision.actor[0].role.coding[0].code = 'AUT')), 422, 'Consent.provision.actor[0].role'],
    ['a wrong scope', edit((c) => (c.scope.coding[0].code = 'research')), 422, 'Consent.scope'],
    ['a wrong category', edit((c) => (c.category[0].coding[0].code = '57016-8')), 422, 'Consent.category'],
    ['a class that is not a result type', { ...good(), provision: permit(classes('Patient')) }, 422, 'Consent.provision.class[0]'],
    ['a code of another system', edit((c) => (c.provision.code = [{ coding: [{ system: 'http://loinc.org', code: '58410-2' }] }])), 422, 'Consent.provision.code[0]'],
    ['provision.action (not supported)', edit((c) => (c.provision.action = [{ text: 'access' }])), 422, 'Consent.provision.action'],
    ['provision.data (not supported)', edit((c) => (c.provision.data = [{ meaning: 'instance', reference: { reference: 'Observation/1' } }])), 422, 'Consent.provision.data'],
    ['organization naming another hospital', edit((c) => (c.organization = [{ reference: 'Organization/xm-dyyy' }])), 403, 'Consent.organization'],
  ];
  // Every row gets all five columns: jest would take a missing last one for a done callback.
  const full = rows.map((r): [string, unknown, number, string, Over] => [r[0], r[1], r[2], r[3], r[4] ?? {}]);
  it.each(full)('%s → %i naming %s', (_name, body, status, expression, over) => {
    const r = refusal(body, over);
    expect(r.status).toBe(status);
    expect(r.expressions).toContain(expression);
    expect(r.texts.join(' ')).not.toMatch(/at \w+ \(|node_modules/); // no stack traces
  });

  it('reports every problem at once', () => {
    const r = refusal(edit((c) => {
      c.status = 'inactive';
      c.scope.coding[0].code = 'research';
      c.provision.actor[0].reference.reference = 'Organization/nowhere';
    }));
    expect(r.expressions).toEqual(expect.arrayContaining(['Consent.status', 'Consent.scope', 'Consent.provision.actor[0].reference']));
  });
});

describe('FHIR times in China time', () => {
  it.each<[string, 'start' | 'end', string]>([
    ['2026', 'start', '2025-12-31T16:00:00.000Z'],
    ['2026', 'end', '2026-12-31T15:59:59.999Z'],
    ['2026-02', 'end', '2026-02-28T15:59:59.999Z'],
    ['2026-11-29', 'start', '2026-11-28T16:00:00.000Z'],
    ['2026-11-29', 'end', '2026-11-29T15:59:59.999Z'],
    ['2026-11-29T08:00:00Z', 'start', '2026-11-29T08:00:00.000Z'],
    ['2026-11-29T08:00:00+08:00', 'end', '2026-11-29T00:00:00.999Z'],
    ['2026-11-29T08:00', 'start', '2026-11-29T00:00:00.000Z'],
  ])('%s as %s = %s', (v, as, iso) => expect(new Date(parseFhirInstant(v, as)).toISOString()).toBe(iso));
  it.each(['', '2026-13', '2026-02-30', 'yesterday', '2026-11-29T25:00:00Z'])('%j is not a time', (v) =>
    expect(parseFhirInstant(v, 'start')).toBeNaN(),
  );
});


describe('a consent is dated when it is recorded (docs/consent.md §2)', () => {
  // Recorded on 29 November 2026 at 10:00 China time.
  const now = new Date('2026-11-29T10:00:00+08:00');
  const dated = (over: Record<string, unknown>) => ({ ...good(), ...over });
  const check = (body: unknown, extra: { previous?: Record<string, unknown> } = {}) => {
    try {
      return { ok: checkConsent(body, { ...ctx, now, ...(extra.previous ? { method: 'PUT' as const, previous: extra.previous as never } : {}) }).consent };
    } catch (e) {
      if (!isOperationOutcomeError(e)) throw e;
      return { codes: e.outcome.issue.map((i) => i.details?.coding?.[0]?.code), expressions: e.outcome.issue.flatMap((i) => i.expression ?? []) };
    }
  };
  const provision = (p: Record<string, unknown>) => ({ provision: { ...good().provision, ...p } });

  it.each<[string, Record<string, unknown>, string | undefined, string | undefined]>([
    ['signed an hour ago', { dateTime: '2026-11-29T09:00:00+08:00' }, undefined, undefined],
    ['signed 23 hours ago', { dateTime: '2026-11-28T11:00:00+08:00' }, undefined, undefined],
    ['signed 25 hours ago', { dateTime: '2026-11-28T09:00:00+08:00' }, 'consent-backdated', 'Consent.dateTime'],
    ['signed in 2001', { dateTime: '2001-03-04' }, 'consent-backdated', 'Consent.dateTime'],
    ['signed 4 minutes ahead (clock skew)', { dateTime: '2026-11-29T10:04:00+08:00' }, undefined, undefined],
    ['signed 10 minutes ahead', { dateTime: '2026-11-29T10:10:00+08:00' }, 'consent-future-dated', 'Consent.dateTime'],
    ['signed in 2099', { dateTime: '2099-01-01' }, 'consent-future-dated', 'Consent.dateTime'],
    ['in force from today (a date covers its day)', provision({ period: { start: '2026-11-29' } }), undefined, undefined],
    ['in force from next month', provision({ period: { start: '2026-12-29', end: '2027-12-29' } }), undefined, undefined],
    ['in force from yesterday', provision({ period: { start: '2026-11-28' } }), 'period-starts-in-past', 'Consent.provision.period'],
    ['in force from 1990', provision({ period: { start: '1990-01-01' } }), 'period-starts-in-past', 'Consent.provision.period'],
    [
      'a nested exception from an hour ago',
      provision({ provision: [{ type: 'deny', period: { start: '2026-11-29T09:00:00+08:00', end: '2026-12-31' } }] }),
      'period-starts-in-past',
      'Consent.provision.provision[0].period',
    ],
    ['a data period in the past (which results: fine)', provision({ dataPeriod: { start: '2020-01-01' } }), undefined, undefined],
  ])('%s', (_label, over, code, expression) => {
    const r = check(dated({ dateTime: '2026-11-29T09:30:00+08:00', ...over }));
    if (!code) expect(r.ok).toBeDefined();
    else expect(r).toMatchObject({ codes: [code], expressions: [expression] });
  });

  it('no dateTime: the moment of recording stands in for it', () => {
    const { dateTime: _d, ...body } = good() as unknown as Record<string, unknown>;
    expect(check(body).ok?.dateTime).toBe(now.toISOString());
  });

  it('an update keeps the dates the stored version had (a withdrawal keeps its signing date)', () => {
    const stored = dated({ dateTime: '2025-01-01T09:00:00+08:00', ...provision({ period: { start: '2025-01-01' } }) });
    expect(check({ ...stored, status: 'inactive' }, { previous: stored }).ok?.status).toBe('inactive');
    expect(check({ ...stored, dateTime: '2024-01-01' }, { previous: stored })).toMatchObject({ codes: ['consent-backdated'] });
  });
});
