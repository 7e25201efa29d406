import type { OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import { hospitalFailureOutcome, OperationOutcomeError } from '../../../../gateway/fhir/outcomes';
import { silentLogger } from '../../../../gateway/logger';
import { createMetrics } from '../../../../gateway/metrics';
import { loadCatalog } from '../../../../gateway/recognition/catalog';
import { insertDecision, type DecisionRow } from '../../../../gateway/recognition/decision-store';
import { createRecognitionOperations, createRecognitionRules, type Recognition } from '../../../../gateway/recognition/recognition-service';
import type { PatientData } from '../../../../gateway/patient-data/contract';
import type { FhirRequest, Route } from '../../../../gateway/http/route';
import { recognitionRoutes } from '../../../../gateway/http/routes/recognition-routes';
import { testDatabases, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { auditor, clinician, MemoryPatientIndex, MemoryResults, obs, report, request, study, testConfig } from '../../../support/recognition-fixtures';

/**
 * The three operations of API.md §6 over a real database (SQLite, and PostgreSQL when
 * TEST_DATABASE_URL is set), with an in-memory patient index and results service.
 */

const NOW = new Date('2025-06-10T08:00:00.000Z');

async function run(route: Route, req: FhirRequest): Promise<{ status: number; body: Parameters | OperationOutcome }> {
  try {
    const res = await route.handler(req);
    return { status: res.status ?? 200, body: res.body as Parameters };
  } catch (e) {
    if (e instanceof OperationOutcomeError) return { status: e.status, body: e.outcome };
    throw e;
  }
}

const part = (p: ParametersParameter | undefined, name: string) => p?.part?.find((x) => x.name === name);
const param = (body: Parameters, name: string) => body.parameter?.find((x) => x.name === name);
const params = (body: Parameters, name: string) => body.parameter?.filter((x) => x.name === name) ?? [];
const itemParam = (body: Parameters, code: string) => params(body, 'item').find((p) => part(p, 'code')?.valueCode === code);
const issue = (body: Parameters | OperationOutcome) => (body as OperationOutcome).issue?.[0];

describe.each(testDatabases())('mutual recognition operations on %s', (_name, open) => {
  let t: TestDb;
  let service: Recognition;
  let results: MemoryResults;
  let index: MemoryPatientIndex;
  let route: (path: string) => Route;
  const config = testConfig();

  beforeEach(async () => {
    t = await open();
    index = new MemoryPatientIndex();
    index.add('p1', '350203199001010018');
    index.add('p2', '350503198506150026');
    service = createRecognitionRules(config, loadCatalog());
    results = new MemoryResults(service, index);
    const ops = createRecognitionOperations({ config, db: t.db, clock: { now: () => NOW }, rules: service, patientData: results as unknown as PatientData });
    route = (path) => recognitionRoutes(ops).find((r) => r.path === path)!;
    // p1: a CBC from a 3A hospital in Xiamen 5 days ago (with its analytes), an older one, a newer
    // one from a second-level hospital, a chest CT from Quanzhou (3B), a preliminary liver panel,
    // and Zhangzhou's own electrolytes.
    results.add('p1', 'xm-zsh',
      report('xm-zsh-R1', { loinc: '58410-2', at: '2025-06-05T08:00:00Z', members: ['xm-zsh-O1', 'xm-zsh-O2'] }),
      obs('xm-zsh-O1', '718-7', '2025-06-05T08:00:00Z'),
      obs('xm-zsh-O2', '6690-2', '2025-06-05T08:00:00Z'),
      report('xm-zsh-R0', { loinc: '58410-2', at: '2025-05-20T08:00:00Z' }),
      report('xm-zsh-L1', { loinc: '24325-3', at: '2025-06-09T08:00:00Z', status: 'preliminary' }),
    );
    results.add('p1', 'xm-hc', report('xm-hc-R2', { loinc: '58410-2', at: '2025-06-08T08:00:00Z' }));
    results.add('p1', 'qz-dyyy', study('qz-dyyy-S1', { modality: 'CT', code: 'CT-CHEST-PLAIN', at: '2025-05-01T08:00:00Z' }));
    results.add('p1', 'zz-sy', report('zz-sy-E1', { loinc: '24326-1', at: '2025-06-09T08:00:00Z' }));
    results.add('p2', 'xm-zsh', report('xm-zsh-R9', { loinc: '58410-2', at: '2025-06-09T08:00:00Z' }));
  });
  afterEach(async () => {
    await t.close();
  });

  const rows = async () => (await t.db('recognition_decisions').select('*')) as DecisionRow[];

  describe('GET /Patient/{id}/$recognition', () => {
    const ask = (items: string[], requester = clinician('zz-sy'), id = 'p1') =>
      run(route('/Patient/:id/$recognition'), request({ requester, params: { id }, query: { item: items } }));

    test('a CBC from a 3A hospital 5 days ago and a chest CT from a 3B, asked by a 3A in Zhangzhou', async () => {
      const { status, body } = await ask(['CBC', 'CT-CHEST']);
      expect(status).toBe(200);
      expectValidFhir(body);
      const cbc = itemParam(body as Parameters, 'CBC');
      expect(part(cbc, 'recognizable')?.valueBoolean).toBe(true);
      // the newest CBC (xm-hc, 2A) is grade-below; the report comes before its equally timed analytes
      expect(part(cbc, 'result')?.valueReference?.reference).toBe('DiagnosticReport/xm-zsh-R1');
      expect(part(cbc, 'validUntil')?.valueDateTime).toBe('2025-06-12T08:00:00.000Z');
      expect(part(cbc, 'status')?.valueCode).toBe('recognizable');
      const ct = itemParam(body as Parameters, 'CT-CHEST');
      expect(part(ct, 'recognizable')?.valueBoolean).toBe(true);
      expect(part(ct, 'result')?.valueReference?.reference).toBe('ImagingStudy/qz-dyyy-S1');
      expect(part(ct, 'validUntil')?.valueDateTime).toBe('2025-07-30T08:00:00.000Z');
      expect(params(body as Parameters, 'item').map((p) => part(p, 'code')?.valueCode)).toEqual(['CBC', 'CT-CHEST']);
      expect(params(body as Parameters, 'outcome')).toEqual([]);
    });

    test.each<[string, string, boolean, string | undefined]>([
      ['own results are not offered for recognition', 'ELEC', false, 'own'],
      ['a preliminary report', 'LFT', false, 'not-final'],
      ['no result of the item at all', 'HBA1C', false, undefined],
    ])('%s', async (_name, item, recognizable, status) => {
      const { body } = await ask([item]);
      expectValidFhir(body);
      const p = itemParam(body as Parameters, item);
      expect(part(p, 'recognizable')?.valueBoolean).toBe(recognizable);
      expect(part(p, 'status')?.valueCode).toBe(status);
      expect(part(p, 'result')).toBeUndefined();
      expect(part(p, 'validUntil')).toBeUndefined();
    });

    test('judged for the requester: a 2A asks, its own newer CBC is own and the 3A one is offered', async () => {
      const { body } = await ask(['CBC'], clinician('xm-hc'));
      expect(part(itemParam(body as Parameters, 'CBC'), 'result')?.valueReference?.reference).toBe('DiagnosticReport/xm-zsh-R1');
    });

    test('items comma-separated and repeated are each answered once', async () => {
      const { body } = await ask(['CBC,CT-CHEST', 'CBC']);
      expect(params(body as Parameters, 'item')).toHaveLength(2);
    });

    test('hospital failures and consent suppression come back as outcome parameters', async () => {
      results.failures.push(hospitalFailureOutcome('qz-dyyy', 'timeout', 'no answer in 3000 ms'));
      results.withheld.add('qz-dyyy');
      const { status, body } = await ask(['CT-CHEST']);
      expect(status).toBe(200);
      expectValidFhir(body);
      expect(part(itemParam(body as Parameters, 'CT-CHEST'), 'recognizable')?.valueBoolean).toBe(false);
      const outcomes = params(body as Parameters, 'outcome').map((p) => p.resource as OperationOutcome);
      expect(outcomes.map((o) => o.issue[0].code)).toEqual(['timeout', 'suppressed']);
      expect(outcomes[0].issue[0].diagnostics).toBe('qz-dyyy');
    });

    test('the access is recorded against the patient', async () => {
      const req = request({ requester: clinician('zz-sy'), params: { id: 'p1' }, query: { item: ['CBC'] } });
      await run(route('/Patient/:id/$recognition'), req);
      expect([...req.record.patients]).toEqual(['p1']);
    });

    test.each<[string, string[], string, number, string, RegExp]>([
      ['no item', [], 'p1', 400, 'item-required', /item parameter/],
      ['unknown items are named', ['CBC', 'XRAY', 'FOO'], 'p1', 400, 'unknown-item', /XRAY, FOO/],
      ['an unknown patient', ['CBC'], 'nobody', 404, 'not-found', /Patient\/nobody/],
    ])('%s → %d', async (_name, items, id, status, code, text) => {
      const before = results.calls;
      const res = await ask(items, clinician('zz-sy'), id);
      expect(res.status).toBe(status);
      expectValidFhir(res.body);
      expect(issue(res.body)?.details?.coding?.[0].code).toBe(code);
      expect(issue(res.body)?.details?.text).toMatch(text);
      expect(results.calls).toBe(before); // no hospital was asked
    });

    test('a patient whose consent permits nothing → 403 from the results service', async () => {
      results.denied.add('p1');
      const res = await ask(['CBC']);
      expect(res.status).toBe(403);
    });
  });

  describe('POST /Patient/{id}/$recognition-decision', () => {
    const body = (over: Record<string, ParametersParameter | null> = {}): Parameters => {
      const base: Record<string, ParametersParameter | null> = {
        item: { name: 'item', valueCode: 'CBC' },
        result: { name: 'result', valueReference: { reference: 'DiagnosticReport/xm-zsh-R1' } },
        decision: { name: 'decision', valueCode: 'accepted' },
        ...over,
      };
      return { resourceType: 'Parameters', parameter: Object.values(base).filter((p): p is ParametersParameter => p !== null) };
    };
    const decide = (b: unknown, requester = clinician('zz-sy'), id = 'p1') =>
      run(route('/Patient/:id/$recognition-decision'), request({ method: 'POST', requester, params: { id }, body: b }));

    test('accepted: 201, stored with physician, hospitals, price and the status it had', async () => {
      const req = request({ method: 'POST', requester: clinician('zz-sy'), params: { id: 'p1' }, body: body() });
      const { status, body: out } = await run(route('/Patient/:id/$recognition-decision'), req);
      expect(status).toBe(201);
      expectValidFhir(out);
      const id = param(out as Parameters, 'id')?.valueId;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(param(out as Parameters, 'decision')?.valueCode).toBe('accepted');
      expect(param(out as Parameters, 'price')?.valueMoney).toEqual({ value: 20, currency: 'CNY' });
      const [row] = await rows();
      expect(row).toMatchObject({
        id,
        patient_id: 'p1',
        item: 'CBC',
        result_ref: 'DiagnosticReport/xm-zsh-R1',
        result_hospital: 'xm-zsh',
        requesting_hospital: 'zz-sy',
        decision: 'accepted',
        reason: null,
        practitioner_id: 'D1029',
        practitioner_name: '林医生',
        client_id: 'zz-sy-his',
        recognition_status: 'recognizable',
        decided_at: NOW.toISOString(),
        decided_month: '2025-06',
        source: 'api',
      });
      expect(Number(row.price_fen)).toBe(2000);
      expect([...req.record.patients]).toEqual(['p1']);
      expect([...req.record.resourceIds]).toEqual([`recognition-decision/${id}`]);
    });

    test('retested for another reason, with a note and the time it was decided', async () => {
      const { status, body: out } = await decide(
        body({
          decision: { name: 'decision', valueCode: 'retested' },
          reason: { name: 'reason', valueCode: 'other' },
          note: { name: 'note', valueString: '术前需复查' },
          at: { name: 'performedAt', valueDateTime: '2025-06-10T09:30:00+08:00' },
        }),
      );
      expect(status).toBe(201);
      expectValidFhir(out);
      const [row] = await rows();
      expect(row).toMatchObject({ decision: 'retested', reason: 'other', note: '术前需复查', decided_at: '2025-06-10T01:30:00.000Z' });
    });

    test('a decision on a result that is not recognizable is kept with its status (the physician decides)', async () => {
      const { status } = await decide(body({ result: { name: 'result', valueReference: { reference: 'DiagnosticReport/xm-hc-R2' } } }));
      expect(status).toBe(201);
      expect((await rows())[0].recognition_status).toBe('grade-below');
    });

    test('an analyte of the item and an imaging study can be decided on', async () => {
      expect((await decide(body({ result: { name: 'result', valueReference: { reference: 'Observation/xm-zsh-O1' } } }))).status).toBe(201);
      const ct = await decide(
        body({ item: { name: 'item', valueCode: 'CT-CHEST' }, result: { name: 'result', valueReference: { reference: 'ImagingStudy/qz-dyyy-S1' } } }),
      );
      expect(ct.status).toBe(201);
      expect(await rows()).toHaveLength(2);
    });

    test('`date` is accepted for performedAt', async () => {
      const { status } = await decide(body({ at: { name: 'date', valueDateTime: '2025-06-09T10:00:00Z' } }));
      expect(status).toBe(201);
      expect((await rows())[0].decided_at).toBe('2025-06-09T10:00:00.000Z');
    });

    const retested = { name: 'decision', valueCode: 'retested' };
    test.each<[string, unknown, number, string, RegExp]>([
      ['a body that is not Parameters', { resourceType: 'Basic' }, 400, 'invalid-body', /Parameters/],
      ['no body', undefined, 400, 'invalid-body', /Parameters/],
      ['parameter not an array', { resourceType: 'Parameters', parameter: {} }, 400, 'invalid-body', /array/],
      ['no item', body({ item: null }), 400, 'parameter-required', /item/],
      ['an unknown item', body({ item: { name: 'item', valueCode: 'XRAY' } }), 400, 'unknown-item', /XRAY/],
      ['an item without a value', body({ item: { name: 'item', valueBoolean: true } }), 400, 'invalid-parameter', /item/],
      ['no result', body({ result: null }), 400, 'parameter-required', /result/],
      ['a result that is not a result reference', body({ result: { name: 'result', valueReference: { reference: 'Patient/p1' } } }), 400, 'invalid-reference', /DiagnosticReport/],
      ['a result given as a string', body({ result: { name: 'result', valueString: 'DiagnosticReport/xm-zsh-R1' } }), 400, 'invalid-reference', /valueReference/],
      ['no decision', body({ decision: null }), 400, 'parameter-required', /decision/],
      ['an unknown decision', body({ decision: { name: 'decision', valueCode: 'maybe' } }), 400, 'invalid-decision', /accepted, retested/],
      ['retested without a reason', body({ decision: retested }), 400, 'reason-required', /reason/],
      ['retested with an unknown reason', body({ decision: retested, reason: { name: 'reason', valueCode: 'bored' } }), 400, 'invalid-reason', /condition-changed/],
      ['accepted with a reason', body({ reason: { name: 'reason', valueCode: 'emergency' } }), 400, 'reason-not-allowed', /only/],
      ['other without a note', body({ decision: retested, reason: { name: 'reason', valueCode: 'other' } }), 400, 'note-required', /note/],
      ['other with a blank note', body({ decision: retested, reason: { name: 'reason', valueCode: 'other' }, note: { name: 'note', valueString: '  ' } }), 400, 'invalid-parameter', /note/],
      ['a note too long', body({ note: { name: 'note', valueString: 'x'.repeat(2001) } }), 400, 'note-too-long', /2000/],
      ['a decision in the future', body({ at: { name: 'performedAt', valueDateTime: '2025-06-11T08:00:00Z' } }), 400, 'date-in-future', /future/],
      ['a date without time', body({ at: { name: 'performedAt', valueDateTime: '2025-06-09' } }), 400, 'invalid-date', /time and zone/],
      ['a date that is not one', body({ at: { name: 'performedAt', valueDateTime: '2025-02-30T25:00:00Z' } }), 400, 'invalid-date', /performedAt/],
      ['an item given twice', { resourceType: 'Parameters', parameter: [...body().parameter!, { name: 'item', valueCode: 'CBC' }] }, 400, 'duplicate-parameter', /item/],
      ['another patient\'s result', body({ result: { name: 'result', valueReference: { reference: 'DiagnosticReport/xm-zsh-R9' } } }), 422, 'result-not-found', /not among this patient's results/],
      ['a result that does not exist', body({ result: { name: 'result', valueReference: { reference: 'DiagnosticReport/nope' } } }), 422, 'result-not-found', /DiagnosticReport\/nope/],
      ['a result of another item', body({ result: { name: 'result', valueReference: { reference: 'ImagingStudy/qz-dyyy-S1' } } }), 422, 'result-item-mismatch', /not a result of item CBC/],
      ['the requester\'s own result', body({ item: { name: 'item', valueCode: 'ELEC' }, result: { name: 'result', valueReference: { reference: 'DiagnosticReport/zz-sy-E1' } } }), 422, 'own-result', /requesting hospital/],
    ])('%s → %d, nothing stored', async (_name, b, status, code, text) => {
      const res = await decide(b);
      expect(res.status).toBe(status);
      expectValidFhir(res.body);
      expect(issue(res.body)?.details?.coding?.[0].code).toBe(code);
      expect(issue(res.body)?.details?.text).toMatch(text);
      expect(await rows()).toEqual([]);
    });

    test.each<[string, () => Promise<{ status: number; body: Parameters | OperationOutcome }>, number, string]>([
      ['an unknown patient', () => decide(body(), clinician('zz-sy'), 'nobody'), 404, 'not-found'],
      ['a token naming no physician', () => decide(body(), clinician('zz-sy', null)), 422, 'practitioner-required'],
      ['a requester of no hospital', () => decide(body(), auditor), 403, 'hospital-required'],
    ])('%s → %d, nothing stored', async (_name, call, status, code) => {
      const res = await call();
      expect(res.status).toBe(status);
      expect(issue(res.body)?.details?.coding?.[0].code).toBe(code);
      expect(await rows()).toEqual([]);
    });

    test('a patient whose consent permits nothing → 403, nothing stored', async () => {
      results.denied.add('p1');
      expect((await decide(body())).status).toBe(403);
      expect(await rows()).toEqual([]);
    });
  });

  describe('GET /$recognition-stats', () => {
    let n = 0;
    const row = (over: Partial<DecisionRow>): DecisionRow => ({
      id: `d${++n}`,
      patient_id: 'p1',
      item: 'CBC',
      result_ref: 'DiagnosticReport/x',
      result_hospital: 'xm-zsh',
      requesting_hospital: 'zz-sy',
      decision: 'accepted',
      reason: null,
      note: null,
      practitioner_id: 'D1',
      practitioner_name: '林医生',
      client_id: 'zz-sy-his',
      recognition_status: 'recognizable',
      price_fen: 2000,
      decided_at: '2025-05-10T02:00:00.000Z',
      decided_month: '2025-05',
      recorded_at: '2025-05-10T02:00:00.000Z',
      source: 'api',
      ...over,
    });
    const stats = (query: Record<string, string[]> = {}) => run(route('/$recognition-stats'), request({ requester: auditor, query }));
    const num = (p: ParametersParameter | undefined, name: string) => {
      const x = part(p, name);
      return x?.valueInteger ?? x?.valueDecimal ?? x?.valueMoney?.value;
    };
    /** breakdown key → [decisions, accepted, retested, rate, cost avoided] */
    const figures = (ps: ParametersParameter[]) =>
      Object.fromEntries(
        ps.map((p) => {
          const k = p.part![0];
          const id = k.valueReference?.reference ?? k.valueCoding?.code ?? k.valueString;
          return [id, [num(p, 'decisions'), num(p, 'accepted'), num(p, 'retested'), num(p, 'recognitionRate'), num(p, 'costAvoided')]];
        }),
      ) as Record<string, unknown[]>;

    beforeEach(async () => {
      n = 0;
      for (const r of [
        row({}),
        row({ price_fen: 2000 }),
        row({ item: 'CT-CHEST', price_fen: 23000, result_hospital: 'qz-dyyy' }),
        row({ decision: 'retested', reason: 'condition-changed' }),
        row({ decision: 'retested', reason: 'emergency', requesting_hospital: 'xm-dyyy' }),
        row({ requesting_hospital: 'xm-dyyy', item: 'LIPID', price_fen: 4000 }),
        // 01:00 on 1 April in China: an April decision
        row({ decided_at: '2025-03-31T17:00:00.000Z', decided_month: '2025-04', decision: 'retested', reason: 'other', note: '术前' }),
        row({ decided_at: '2025-03-31T15:59:59.999Z', decided_month: '2025-03', price_fen: 2000 }),
        row({ item: 'HBA1C', price_fen: null }),
      ]) {
        await insertDecision(t.db, r);
      }
    });

    test('totals, reasons, rate and cost avoided', async () => {
      const { status, body } = await stats();
      expect(status).toBe(200);
      expectValidFhir(body);
      const b = body as Parameters;
      expect(param(b, 'decisions')?.valueInteger).toBe(9);
      expect(param(b, 'accepted')?.valueInteger).toBe(6);
      expect(param(b, 'retested')?.valueInteger).toBe(3);
      expect(param(b, 'recognitionRate')?.valueDecimal).toBe(0.6667);
      // 20 + 20 + 230 + 40 + 20 (+ HbA1c without a price) yuan
      expect(param(b, 'costAvoided')?.valueMoney).toEqual({ value: 330, currency: 'CNY' });
      const reasons = Object.fromEntries(params(b, 'retestedReason').map((p) => [part(p, 'reason')?.valueCode, part(p, 'count')?.valueInteger]));
      expect(reasons).toEqual({ 'condition-changed': 1, emergency: 1, 'quality-doubt': 0, 'patient-request': 0, other: 1 });
      expect(figures(params(b, 'byHospital'))).toEqual({
        'Organization/xm-dyyy': [2, 1, 1, 0.5, 40],
        'Organization/zz-sy': [7, 5, 2, 0.7143, 290],
      });
      expect(figures(params(b, 'byResultHospital'))).toEqual({
        'Organization/qz-dyyy': [1, 1, 0, 1, 230],
        'Organization/xm-zsh': [8, 5, 3, 0.625, 100],
      });
      expect(figures(params(b, 'byItem'))).toEqual({
        CBC: [6, 3, 3, 0.5, 60],
        'CT-CHEST': [1, 1, 0, 1, 230],
        HBA1C: [1, 1, 0, 1, 0],
        LIPID: [1, 1, 0, 1, 40],
      });
      expect(figures(params(b, 'byMonth'))).toEqual({
        '2025-03': [1, 1, 0, 1, 20],
        '2025-04': [1, 0, 1, 0, 0],
        '2025-05': [7, 5, 2, 0.7143, 310],
      });
      expect(part(params(b, 'byHospital')[1], 'hospital')?.valueReference?.display).toBe('漳州市医院');
    });

    test.each<[string, Record<string, string[]>, number, number]>([
      ['April in China Standard Time', { from: ['2025-04'], to: ['2025-04'] }, 1, 0],
      ['from a day (CST midnight)', { from: ['2025-04-01'] }, 8, 5],
      ['up to a day, inclusive', { to: ['2025-03-31'] }, 1, 1],
      ['a dateTime range', { from: ['2025-03-31T15:59:59.999Z'], to: ['2025-03-31T17:00:00Z'] }, 2, 1],
      ['a year', { from: ['2025'], to: ['2025'] }, 9, 6],
      ['nothing in the period', { from: ['2024-01-01'], to: ['2024-12-31'] }, 0, 0],
      ['one hospital', { hospital: ['xm-dyyy'] }, 2, 1],
      ['hospitals comma-separated', { hospital: ['xm-dyyy,zz-sy'] }, 9, 6],
      ['one item', { item: ['CT-CHEST'] }, 1, 1],
      ['items and hospital together', { item: ['CBC', 'LIPID'], hospital: ['zz-sy'] }, 5, 3],
    ])('%s', async (_name, query, decisions, accepted) => {
      const { status, body } = await stats(query);
      expect(status).toBe(200);
      expectValidFhir(body);
      expect(param(body as Parameters, 'decisions')?.valueInteger).toBe(decisions);
      expect(param(body as Parameters, 'accepted')?.valueInteger).toBe(accepted);
      if (decisions === 0) expect(param(body as Parameters, 'recognitionRate')).toBeUndefined();
    });

    test.each<[string, Record<string, string[]>, string]>([
      ['a month 13', { from: ['2025-13'] }, 'invalid-date'],
      ['30 February', { to: ['2025-02-30'] }, 'invalid-date'],
      ['a word', { from: ['yesterday'] }, 'invalid-date'],
      ['a dateTime without zone', { from: ['2025-04-01T00:00:00'] }, 'invalid-date'],
      ['from after to', { from: ['2025-05-01'], to: ['2025-04-30'] }, 'invalid-period'],
      ['from given twice', { from: ['2025-01-01', '2025-02-01'] }, 'duplicate-parameter'],
      ['an unknown hospital', { hospital: ['nowhere'] }, 'unknown-hospital'],
      ['an unknown item', { item: ['XRAY'] }, 'unknown-item'],
    ])('%s → 400', async (_name, query, code) => {
      const res = await stats(query);
      expect(res.status).toBe(400);
      expectValidFhir(res.body);
      expect(issue(res.body)?.details?.coding?.[0].code).toBe(code);
    });
  });
});
