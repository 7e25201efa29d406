import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { Socket } from 'node:net';
import { randomUUID } from 'node:crypto';
import type { OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import request from 'supertest';
import { checkCharacter, NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { RETEST_REASONS } from '../../../../gateway/recognition/decision-store';
import {
  accepted,
  CODES,
  cdsClient,
  DEFAULT_USER,
  draftOrdersBundle,
  localCodeSystem,
  mrnSystem,
  ORDER_SELECT,
  ORDER_SIGN,
  orderSelect,
  orderSign,
  overridden,
  patientPrefetch,
  recognitionItemSystem,
  retestReasonSystem,
  type CdsClient,
  type DraftOrderSpec,
  type HookRequestSpec,
} from '../../../support/cds-client';
import { cdsResponse, discoveryResponse, feedbackRequest, hookRequest, parseOrThrow, type Card, type CdsResponse } from '../../../support/cds-hooks-schema';
import { testDatabases, type TestDb } from '../../../support/databases';
import { DEMO_ANCHOR, demoClient, startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';

/**
 * CDS Hooks 2.0 over the demo network (issue #16): a HIS calls `order-select` / `order-sign` with
 * its draft lab and imaging orders and gets one card per order that a recognisable result of
 * another hospital already answers; feedback on a card is a recognition decision. The real app,
 * real JWTs signed with the committed demo keys, the demo hospitals in their native forms. Every
 * CDS Hooks body is checked against the specification's shapes (test/support/cds-hooks-schema.ts),
 * every FHIR resource with expectValidFhir, and every call against the audit trail.
 */

/** 陈建国: full consent; results at xm-dyyy, qz-fey, zz-syy (a CBC and a high glucose 3 days old), xm-zyy */
const CHEN = { id: 'zsh-HIS-0001', nationalId: '350203196203151595', name: '陈建国' };
/** 林秀英: full consent; known to xm-zsh under record number ZS9409858; a CBC at qz-dyyy 2 days old */
const LIN = { id: 'zsh-HIS-0002', name: '林秀英', mrn: 'ZS9409858' };
/** 李娜: no consent (default deny) */
const LI_NA = { id: 'dyyy-HIS-0003', nationalId: '350505198812038529', name: '李娜' };
/** a well-formed national id no hospital knows */
const NOBODY_NID = `35020319991231771${checkCharacter('35020319991231771')}`;

const ORDER = {
  cbc: { id: 'SR-CBC', code: CODES.cbc, text: '血常规' },
  cbcLocal: { id: 'SR-XCG', code: { system: localCodeSystem('xm-zsh'), code: 'XCG', display: '血常规' }, text: '血常规' },
  glucoseLocal: { id: 'SR-KFXT', code: { system: localCodeSystem('xm-zsh'), code: 'KFXT', display: '空腹血糖' }, text: '空腹血糖' },
  urine: { id: 'SR-URINE', code: CODES.urinalysis, text: '尿常规' },
  renal: { id: 'SR-RFT', code: CODES.renal, text: '肾功能' },
  hba1c: { id: 'SR-HBA1C', code: CODES.hba1c, text: '糖化血红蛋白' },
  unknown: { id: 'SR-UNKNOWN', code: CODES.notAnItem, text: '血红蛋白A2' },
  unknownLocal: { id: 'SR-LOCAL-X', code: { system: localCodeSystem('xm-zsh'), code: 'NO-SUCH-CODE' } },
} satisfies Record<string, DraftOrderSpec>;
const ctChest = (canonicalBase: string): DraftOrderSpec => ({
  id: 'SR-CT',
  code: { system: recognitionItemSystem(canonicalBase), code: 'CT-CHEST', display: '胸部CT平扫' },
  text: '胸部CT平扫',
});

const part = (p: ParametersParameter | undefined, name: string) => p?.part?.find((x) => x.name === name);
const param = (b: Parameters, name: string) => b.parameter?.find((p) => p.name === name);
const errorCode = (o: OperationOutcome) => o.issue[0]?.details?.coding?.[0]?.code;

/** A 200 CDS Hooks answer, valid by the specification; suggestion resources valid FHIR. */
function expectCards(res: request.Response): CdsResponse {
  if (res.status !== 200) throw new Error(`expected 200 with cards, got ${res.status}: ${JSON.stringify(res.body).slice(0, 600)}`);
  expect(res.headers['content-type']).toMatch(/^application\/json/);
  const body = parseOrThrow(cdsResponse, res.body, 'the CDS Hooks response');
  for (const c of body.cards) {
    for (const s of c.suggestions ?? []) for (const a of s.actions ?? []) if (a.type !== 'delete') expectValidFhir(a.resource as never);
  }
  for (const a of body.systemActions ?? []) if (a.type !== 'delete') expectValidFhir(a.resource as never);
  return body;
}

/** A refusal: the status, an OperationOutcome body valid FHIR R4, severity error. */
function expectOutcome(res: request.Response, status: number): OperationOutcome {
  if (res.status !== status) throw new Error(`expected ${status}, got ${res.status}: ${JSON.stringify(res.body).slice(0, 600)}`);
  const body = res.body as OperationOutcome;
  expect(body.resourceType).toBe('OperationOutcome');
  expectValidFhir(body);
  expect(['error', 'fatal']).toContain(body.issue[0].severity);
  return body;
}

/** The card whose suggestion deletes the draft order `orderId`. */
const cardFor = (cards: Card[], orderId: string) =>
  cards.find((c) => c.suggestions?.some((s) => s.actions?.some((a) => a.type === 'delete' && a.resourceId.includes(`ServiceRequest/${orderId}`))));

describe.each(testDatabases())('CDS Hooks 2.0 over the demo network on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  let base: string;
  let canonical: string;
  /** the HIS of 厦门大学附属中山医院 */
  let zsh: CdsClient;
  /** the HIS of 厦门大学附属第一医院 */
  let dyyy: CdsClient;
  let auditorToken: string;
  let zshToken: string;
  /** the regional ids of the residents, and the results xm-zsh is offered by $recognition */
  let chenId: string;
  let linId: string;
  const offeredToZsh: Record<string, string> = {};
  const now = () => new Date(DEMO_ANCHOR);

  /** The result $recognition offers the token's hospital for `item`, or undefined. */
  async function offered(token: string, patientId: string, item: string): Promise<string | undefined> {
    const res = await request(net.app).get(`/Patient/${patientId}/$recognition?item=${item}`).set('Authorization', `Bearer ${token}`);
    expect(res.status).toBe(200);
    const p = (res.body as Parameters).parameter!.find((x) => x.name === 'item' && part(x, 'code')?.valueCode === item);
    return part(p, 'result')?.valueReference?.reference;
  }
  async function regionalId(token: string, nid: string): Promise<string> {
    const found = await request(net.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${nid}`).set('Authorization', `Bearer ${token}`);
    expect(found.status).toBe(200);
    return found.body.entry[0].resource.id as string;
  }
  const auditOf = (res: request.Response) => {
    const id = res.headers['x-request-id'];
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    return db.db('audit_events').where({ request_id: id }).select('subtype', 'patient_id', 'client_id', 'user_id', 'outcome', 'resource');
  };
  const decisions = () => db.db('recognition_decisions').where({ source: 'cds' }).select('*');
  const stats = async () => {
    const res = await request(net.app).get('/$recognition-stats').set('Authorization', `Bearer ${auditorToken}`);
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const b = res.body as Parameters;
    const reason = (code: string) =>
      b.parameter!.filter((p) => p.name === 'retestedReason').find((p) => part(p, 'reason')?.valueCode === code)?.part?.find((x) => x.name === 'count')?.valueInteger ?? 0;
    return {
      decisions: param(b, 'decisions')?.valueInteger ?? 0,
      accepted: param(b, 'accepted')?.valueInteger ?? 0,
      retested: param(b, 'retested')?.valueInteger ?? 0,
      costAvoided: param(b, 'costAvoided')?.valueMoney?.value ?? 0,
      conditionChanged: reason('condition-changed'),
      other: reason('other'),
    };
  };
  const chen = (orders: DraftOrderSpec[], extra: Partial<HookRequestSpec> = {}): HookRequestSpec => ({
    patient: { id: CHEN.id, nationalId: CHEN.nationalId, name: CHEN.name },
    orders,
    ...extra,
  });

  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db });
    base = net.config.publicBaseUrl;
    canonical = net.config.canonicalBase;
    zsh = cdsClient({ app: net.app, client: demoClient(net.raw, 'xm-zsh-his'), publicBaseUrl: base, now });
    dyyy = cdsClient({ app: net.app, client: demoClient(net.raw, 'xm-dyyy-his'), publicBaseUrl: base, now });
    auditorToken = await net.token('audit-office', { user: { id: 'A1' } });
    zshToken = await net.token('xm-zsh-his', { user: { id: 'D1029', name: '林医生' } });
    chenId = await regionalId(zshToken, CHEN.nationalId);
    linId = await regionalId(zshToken, '350503195807224662');
    for (const item of ['CBC', 'GLU', 'CT-CHEST', 'HBA1C', 'URINE', 'RFT']) {
      const ref = await offered(zshToken, chenId, item);
      if (ref) offeredToZsh[item] = ref;
    }
    // What the tests below rest on: the demo data as fixtures/README.md describes it.
    expect(offeredToZsh.CBC).toMatch(/^DiagnosticReport\/zz-syy\./);
    expect(offeredToZsh.GLU).toMatch(/^DiagnosticReport\/zz-syy\./);
    expect(offeredToZsh['CT-CHEST']).toBeDefined();
    expect(offeredToZsh.URINE).toBeUndefined();
    expect(offeredToZsh.RFT).toBeUndefined();
  }, 180_000);

  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  describe('discovery (§Discovery)', () => {
    test('GET /cds-services needs no token and lists the two recognition services with the patient prefetch', async () => {
      const res = await zsh.discovery();
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      const body = parseOrThrow(discoveryResponse, res.body, 'the discovery response');
      const byId = new Map(body.services.map((s) => [s.id, s]));
      expect(byId.get(ORDER_SELECT)).toMatchObject({ hook: 'order-select', prefetch: { patient: 'Patient/{{context.patientId}}' } });
      expect(byId.get(ORDER_SIGN)).toMatchObject({ hook: 'order-sign', prefetch: { patient: 'Patient/{{context.patientId}}' } });
      for (const s of body.services) {
        expect(s.title).toBeTruthy();
        expect(s.description).toBeTruthy();
      }
    });
  });

  describe('order-select and order-sign (§Calling a CDS Service, §CDS Service Response)', () => {
    test('the requests this client sends are CDS Hooks 2.0 requests with valid FHIR in them', () => {
      for (const body of [orderSelect(chen([ORDER.cbc, ORDER.glucoseLocal, ctChest(canonical)])), orderSign(chen([ORDER.cbc]))]) {
        parseOrThrow(hookRequest, body, 'the hook request');
        expectValidFhir(body.context.draftOrders as never);
        expectValidFhir(body.prefetch.patient);
      }
      const jwt = zsh.jwt(ORDER_SELECT);
      const [h, c] = jwt.split('.').slice(0, 2).map((x) => JSON.parse(Buffer.from(x, 'base64url').toString()));
      expect(h).toMatchObject({ alg: 'RS384', typ: 'JWT' });
      expect(c).toMatchObject({ iss: 'xm-zsh-his', aud: `${base}/cds-services/${ORDER_SELECT}` });
      expect(c.sub).toBeUndefined();
    });

    test('a CBC order (LOINC 58410-2) for 陈建国 from 中山医院: one card naming 血常规, 漳州市医院 and when, valid by the specification', async () => {
      const res = await zsh.call(ORDER_SELECT, orderSelect(chen([ORDER.cbc])));
      const { cards } = expectCards(res);
      expect(cards).toHaveLength(1);
      const card = cards[0];
      expect(card.summary).toContain('血常规');
      expect(card.summary).toMatch(/漳州市医院\s*[（(]漳州[）)]/);
      // the CBC was drawn on 26 November 09:42, the network runs on 29 November 10:00
      expect(card.summary).toMatch(/3\s*天前/);
      expect(card.indicator).toBe('info');
      expect(card.uuid).toBeDefined();
      expect(card.source.label).toBeTruthy();
      expect(card.detail).toBeTruthy();
      // the suggestion: drop the draft order, the 2.0 delete action
      expect(card.selectionBehavior).toBe('at-most-one');
      expect(card.suggestions).toHaveLength(1);
      expect(card.suggestions![0].uuid).toBeDefined();
      expect(card.suggestions![0].actions).toEqual([expect.objectContaining({ type: 'delete', resourceId: [`ServiceRequest/${ORDER.cbc.id}`] })]);
      // the override reasons are the retest reasons of $recognition-decision
      expect(card.overrideReasons!.map((r) => r.code)).toEqual([...RETEST_REASONS]);
      for (const r of card.overrideReasons!) expect(r.system).toBe(retestReasonSystem(canonical));
      // the link goes to the result $recognition offers, and the gateway serves it there
      expect(card.links).toHaveLength(1);
      expect(card.links![0]).toMatchObject({ type: 'absolute', url: `${base}/${offeredToZsh.CBC}` });
      const result = await request(net.app).get(new URL(card.links![0].url).pathname).set('Authorization', `Bearer ${zshToken}`);
      expect(result.status).toBe(200);
      expectValidFhir(result.body);
      expect(`${result.body.resourceType}/${result.body.id}`).toBe(offeredToZsh.CBC);
      // the card's table holds that report's own members, one row each (at most 12), released for this hospital
      const members = (result.body.result ?? []) as unknown[];
      expect(members.length).toBeGreaterThan(0);
      const rows = card.detail!.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| 项目'));
      expect(rows).toHaveLength(Math.min(12, members.length));

      const events = await auditOf(res);
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => Number(e.outcome) === 0)).toBe(true);
      expect(events.map((e) => e.patient_id)).toContain(chenId);
      // the person ordering (context.userId) is named in the audit trail, as a token's IUA subject would be
      for (const e of events) expect({ ...e, resource: undefined, outcome: undefined, patient_id: undefined }).toMatchObject({ subtype: 'order-select', client_id: 'xm-zsh-his', user_id: 'D1029' });
      for (const e of events) expect(JSON.stringify(JSON.parse(e.resource).agent)).toContain('D1029');
    });

    test('order-sign answers the same draft order with the same card', async () => {
      const res = await zsh.call(ORDER_SIGN, orderSign(chen([ORDER.cbc])));
      const { cards } = expectCards(res);
      expect(cards).toHaveLength(1);
      expect(cards[0].summary).toContain('血常规');
      expect(cards[0].links![0].url).toBe(`${base}/${offeredToZsh.CBC}`);
      expect(cards[0].suggestions![0].actions![0]).toMatchObject({ type: 'delete', resourceId: [`ServiceRequest/${ORDER.cbc.id}`] });
      const events = await auditOf(res);
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => e.subtype === 'order-sign')).toBe(true);
    });

    test('a glucose ordered by 中山医院\'s local code, with a high value: a warning card', async () => {
      const { cards } = expectCards(await zsh.call(ORDER_SELECT, orderSelect(chen([ORDER.glucoseLocal]))));
      expect(cards).toHaveLength(1);
      expect(cards[0].summary).toContain('血糖');
      expect(cards[0].indicator).toBe('warning');
      expect(cards[0].links![0].url).toBe(`${base}/${offeredToZsh.GLU}`);
    });

    test('the CBC by its local code XCG (the hospital\'s code map) is the same CBC', async () => {
      const { cards } = expectCards(await zsh.call(ORDER_SELECT, orderSelect(chen([ORDER.cbcLocal]))));
      expect(cards).toHaveLength(1);
      expect(cards[0].links![0].url).toBe(`${base}/${offeredToZsh.CBC}`);
      expect(cardFor(cards, ORDER.cbcLocal.id)).toBeDefined();
    });

    test('several orders: a card for each recognisable one, each suggesting to drop its own order; nothing for the rest', async () => {
      const orders = [ORDER.cbc, ORDER.urine, ctChest(canonical), ORDER.unknown, ORDER.renal, ORDER.glucoseLocal, ORDER.unknownLocal];
      const { cards } = expectCards(await zsh.call(ORDER_SELECT, orderSelect(chen(orders))));
      expect(cards).toHaveLength(3);
      expect(cardFor(cards, ORDER.cbc.id)?.summary).toContain('血常规');
      expect(cardFor(cards, 'SR-CT')?.summary).toContain('胸部CT');
      expect(cardFor(cards, 'SR-CT')?.links?.[0].url).toBe(`${base}/${offeredToZsh['CT-CHEST']}`);
      expect(cardFor(cards, ORDER.glucoseLocal.id)?.summary).toContain('血糖');
      for (const none of [ORDER.urine, ORDER.unknown, ORDER.renal, ORDER.unknownLocal]) expect(cardFor(cards, none.id)).toBeUndefined();
      expect(new Set(cards.map((c) => c.uuid)).size).toBe(3);
    });

    test('an order for an item with nothing recognisable (urinalysis: none; renal function: expired) → no card', async () => {
      for (const o of [ORDER.urine, ORDER.renal, ORDER.unknown]) {
        const res = await zsh.call(ORDER_SELECT, orderSelect(chen([o])));
        expect(expectCards(res)).toEqual({ cards: [] });
      }
    });

    test('a patient prefetched with 中山医院\'s record number only: the card for her CBC at 泉州市第一医院', async () => {
      const cbcRef = await offered(zshToken, linId, 'CBC');
      expect(cbcRef).toMatch(/^DiagnosticReport\/qz-dyyy\./);
      const res = await zsh.call(
        ORDER_SELECT,
        orderSelect({ patient: { id: LIN.id, name: LIN.name, mrn: { system: mrnSystem(canonical, 'xm-zsh'), value: LIN.mrn } }, orders: [ORDER.cbc] }),
      );
      const { cards } = expectCards(res);
      expect(cards).toHaveLength(1);
      expect(cards[0].summary).toMatch(/泉州市第一医院\s*[（(]泉州[）)]/);
      expect(cards[0].links![0].url).toBe(`${base}/${cbcRef}`);
      expect((await auditOf(res)).map((e) => e.patient_id)).toContain(linId);
    });

    test('a resident without consent: cards [], exactly the answer for a patient nobody knows and for nothing found', async () => {
      // 李娜 does have results 厦大一院 could recognise: break-glass shows them
      const etreat = await net.token('xm-dyyy-his', { user: { id: 'D2001', name: '急诊医生' }, purposeOfUse: 'ETREAT' });
      const liId = await regionalId(etreat, LI_NA.nationalId);
      const items = ['CBC', 'GLU', 'LFT', 'RFT', 'ELEC', 'HBA1C', 'LIPID', 'URINE', 'CRP'];
      let hidden: string | undefined;
      for (const item of items) if (!hidden && (await offered(etreat, liId, item))) hidden = item;
      expect(hidden).toBeDefined();
      const order: DraftOrderSpec = { id: 'SR-HIDDEN', code: { system: recognitionItemSystem(canonical), code: hidden! } };

      const refused = await dyyy.call(ORDER_SELECT, orderSelect({ patient: { id: LI_NA.id, nationalId: LI_NA.nationalId }, orders: [order] }));
      const nobody = await dyyy.call(ORDER_SELECT, orderSelect({ patient: { id: 'dyyy-HIS-9999', nationalId: NOBODY_NID }, orders: [order] }));
      const nothing = await zsh.call(ORDER_SELECT, orderSelect(chen([ORDER.urine])));
      for (const r of [refused, nobody, nothing]) expect(expectCards(r)).toEqual({ cards: [] });
      expect(refused.text).toBe(nothing.text);
      expect(refused.text).toBe(nobody.text);
      expect(refused.headers['content-type']).toBe(nothing.headers['content-type']);
      // audited all the same, and no decision or card of hers is kept
      expect((await auditOf(refused)).length).toBeGreaterThanOrEqual(1);
      expect((await auditOf(nobody)).length).toBeGreaterThanOrEqual(1);
    });

    test('a draft order without an id still gets its card, without a suggestion to delete it', async () => {
      const body = orderSelect(chen([ORDER.cbc]));
      delete (body.context.draftOrders as { entry: Array<{ resource: { id?: string } }> }).entry[0].resource.id;
      (body.context as { selections?: string[] }).selections = ['ServiceRequest/SR-CBC'];
      const res = await zsh.call(ORDER_SELECT, body);
      expect(res.status).toBeLessThan(500);
      if (res.status === 200) {
        const { cards } = expectCards(res);
        for (const c of cards) for (const s of c.suggestions ?? []) for (const a of s.actions ?? []) if (a.type === 'delete') expect(a.resourceId.every((r) => /^ServiceRequest\/.+/.test(r))).toBe(true);
      }
    });
  });

  describe('feedback (§Feedback)', () => {
    /** A fresh card for one order of 陈建国's, from 中山医院. */
    const freshCard = async (order: DraftOrderSpec, client = zsh): Promise<Card> => {
      const { cards } = expectCards(await client.call(ORDER_SELECT, orderSelect(chen([order]))));
      expect(cards).toHaveLength(1);
      return cards[0];
    };
    const sendFeedback = (entries: unknown[], client = zsh, jwt?: string) => {
      const body = { feedback: entries };
      parseOrThrow(feedbackRequest, body, 'the feedback request');
      return client.feedback(ORDER_SELECT, body, jwt === undefined ? {} : { jwt });
    };

    test('accepted: a decision "accepted" of the card\'s result, source cds, counted in $recognition-stats', async () => {
      const card = await freshCard(ORDER.cbc);
      const before = await stats();
      const rowsBefore = (await decisions()).length;
      const res = await sendFeedback([accepted(card, now())]);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const rows = await decisions();
      expect(rows).toHaveLength(rowsBefore + 1);
      const row = rows.find((r) => r.decision === 'accepted' && r.result_ref === offeredToZsh.CBC);
      expect(row).toMatchObject({
        patient_id: chenId,
        item: 'CBC',
        result_hospital: 'zz-syy',
        requesting_hospital: 'xm-zsh',
        decision: 'accepted',
        reason: null,
        practitioner_id: 'D1029',
        client_id: 'xm-zsh-his',
        source: 'cds',
      });
      const after = await stats();
      expect(after.decisions).toBe(before.decisions + 1);
      expect(after.accepted).toBe(before.accepted + 1);
      expect(after.costAvoided).toBeCloseTo(before.costAvoided + 20, 2); // the CBC's price
      const events = await auditOf(res);
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => e.subtype === 'feedback' && Number(e.outcome) === 0)).toBe(true);
      expect(events.map((e) => e.patient_id)).toContain(chenId);
      expect(events.map((e) => e.user_id)).toEqual(events.map(() => 'D1029'));
    });

    test('overridden with a retest reason: a decision "retested" with that reason, counted by reason', async () => {
      const card = await freshCard(ORDER.glucoseLocal);
      const before = await stats();
      const res = await sendFeedback([overridden(card, now(), { code: 'condition-changed', system: retestReasonSystem(canonical) }, '血糖控制不佳，需复查')]);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({});
      const row = (await decisions()).find((r) => r.decision === 'retested' && r.item === 'GLU' && r.reason === 'condition-changed');
      expect(row).toMatchObject({ result_ref: offeredToZsh.GLU, requesting_hospital: 'xm-zsh', practitioner_id: 'D1029', source: 'cds' });
      const after = await stats();
      expect(after.retested).toBe(before.retested + 1);
      expect(after.conditionChanged).toBe(before.conditionChanged + 1);
      expect(after.accepted).toBe(before.accepted);
    });

    test('overridden for "other": the user\'s comment is the note', async () => {
      const card = await freshCard(ctChest(canonical));
      const res = await sendFeedback([overridden(card, now(), { code: 'other', system: retestReasonSystem(canonical) }, '术前评估需本院复查')]);
      expect(res.status).toBe(200);
      const row = (await decisions()).find((r) => r.item === 'CT-CHEST' && r.reason === 'other');
      expect(row).toMatchObject({ decision: 'retested', note: '术前评估需本院复查', source: 'cds' });
    });

    test('feedback authenticated with the feedback URL as aud is accepted too', async () => {
      const card = await freshCard(ORDER.cbc);
      const jwt = zsh.jwt(ORDER_SELECT, { aud: `${zsh.serviceUrl(ORDER_SELECT)}/feedback` });
      const res = await sendFeedback([accepted(card, now())], zsh, jwt);
      expect(res.status).toBe(200);
    });

    test('a card is decided once: the same feedback again stores nothing more', async () => {
      const card = await freshCard(ORDER.cbc);
      const first = await sendFeedback([accepted(card, now())]);
      expect(first.status).toBe(200);
      const count = (await decisions()).length;
      const again = await sendFeedback([accepted(card, now())]);
      expect(again.status).toBeLessThan(500);
      expect((await decisions()).length).toBe(count);
    });

    test('overridden without a reason (OPTIONAL in 2.0) is not an error, and no reasonless retest is stored', async () => {
      const card = await freshCard(ORDER.cbc);
      const before = new Set((await decisions()).map((r) => r.id));
      const res = await sendFeedback([overridden(card, now())]);
      expect(res.status).toBe(200);
      const added = (await decisions()).filter((r) => !before.has(r.id));
      expect(added).toHaveLength(1);
      expect(added[0]).toMatchObject({ decision: 'retested', item: 'CBC', source: 'cds' });
      // a retest always has a reason (API.md §6); "other" needs a note
      expect(RETEST_REASONS).toContain(added[0].reason);
      if (added[0].reason === 'other') expect(added[0].note).toBeTruthy();
      expect((await decisions()).filter((r) => r.decision === 'retested' && !r.reason)).toEqual([]);
    });

    test('a card given to another hospital\'s HIS, or no card at all: refused, nothing stored', async () => {
      const card = await freshCard(ORDER.cbc);
      const count = (await decisions()).length;
      const foreign = await dyyy.feedback(ORDER_SELECT, { feedback: [accepted(card, now())] });
      expect(foreign.status).toBeGreaterThanOrEqual(400);
      expect(foreign.status).toBeLessThan(500);
      expectValidFhir(foreign.body);
      const unknown = await sendFeedback([{ card: randomUUID(), outcome: 'accepted', acceptedSuggestions: [{ id: randomUUID() }], outcomeTimestamp: now().toISOString() }]);
      expect(unknown.status).toBeGreaterThanOrEqual(400);
      expect(unknown.status).toBeLessThan(500);
      expectValidFhir(unknown.body);
      expect((await decisions()).length).toBe(count);
      // the card stays open for the HIS it was given to
      expect((await sendFeedback([accepted(card, now())])).status).toBe(200);
    });

    test('an override reason that is not one of the card\'s → 400 invalid-reason, nothing stored', async () => {
      const card = await freshCard(ORDER.cbc);
      const count = (await decisions()).length;
      const res = await sendFeedback([overridden(card, now(), { code: 'too-expensive', system: retestReasonSystem(canonical) })]);
      expect(errorCode(expectOutcome(res, 400))).toBe('invalid-reason');
      expect((await decisions()).length).toBe(count);
    });

    test('a refused feedback request stores none of its entries, not even the good ones before the bad one', async () => {
      const good = await freshCard(ORDER.cbc);
      const bad = await freshCard(ORDER.glucoseLocal);
      const count = (await decisions()).length;
      const res = await sendFeedback([accepted(good, now()), overridden(bad, now(), { code: 'too-expensive', system: retestReasonSystem(canonical) })]);
      expectOutcome(res, 400);
      const unknownCard = await sendFeedback([accepted(good, now()), { card: randomUUID(), outcome: 'accepted', acceptedSuggestions: [{ id: randomUUID() }], outcomeTimestamp: now().toISOString() }]);
      expectOutcome(unknownCard, 400);
      expect((await decisions()).length).toBe(count);
      // and the good card can still be decided
      expect((await sendFeedback([accepted(good, now())])).status).toBe(200);
      expect((await decisions()).length).toBe(count + 1);
    });

    test.each<[string, unknown]>([
      ['no feedback member', {}],
      ['feedback not an array', { feedback: { card: 'x' } }],
      ['an unknown outcome', { feedback: [{ card: randomUUID(), outcome: 'maybe', outcomeTimestamp: '2026-11-29T10:00:00+08:00' }] }],
      ['no card', { feedback: [{ outcome: 'accepted', acceptedSuggestions: [], outcomeTimestamp: '2026-11-29T10:00:00+08:00' }] }],
      ['an array', []],
    ])('malformed feedback (%s) → 400 OperationOutcome, audited', async (_case, body) => {
      const res = await zsh.feedback(ORDER_SELECT, body);
      expectOutcome(res, 400);
      expect((await auditOf(res)).length).toBeGreaterThanOrEqual(1);
    });
  });

  describe('refusals', () => {
    const body = () => orderSelect(chen([ORDER.cbc]));

    test.each<[string, (c: CdsClient) => string | null]>([
      ['no Authorization', () => null],
      ['not a JWT', () => 'abc.def'],
      ['signed with another client\'s key', (c) => c.jwt(ORDER_SELECT, { key: demoClient(net.raw, 'xm-dyyy-his').privateKey })],
      ['alg none', (c) => c.jwt(ORDER_SELECT, { alg: 'none' })],
      ['an unknown client', (c) => c.jwt(ORDER_SELECT, { claims: { iss: 'no-such-his' } })],
      ['aud = the other service', (c) => c.jwt(ORDER_SELECT, { aud: c.serviceUrl(ORDER_SIGN) })],
      ['aud = the token endpoint', (c) => c.jwt(ORDER_SELECT, { aud: `${c.publicBaseUrl}/auth/token` })],
      ['aud = another gateway', (c) => c.jwt(ORDER_SELECT, { aud: `https://evil.example/cds-services/${ORDER_SELECT}` })],
      ['expired', (c) => c.jwt(ORDER_SELECT, { iat: Math.floor(DEMO_ANCHOR.getTime() / 1000) - 600, expiresIn: 120 })],
      ['exp more than 5 minutes ahead', (c) => c.jwt(ORDER_SELECT, { expiresIn: 3600 })],
      ['no jti', (c) => c.jwt(ORDER_SELECT, { claims: { jti: undefined } })],
      ['no exp', (c) => c.jwt(ORDER_SELECT, { claims: { exp: undefined } })],
    ])('%s → 401 OperationOutcome, audited, no card', async (_case, make) => {
      const res = await zsh.call(ORDER_SELECT, body(), { jwt: make(zsh) });
      const o = expectOutcome(res, 401);
      expect(JSON.stringify(o)).not.toContain('BEGIN');
      const events = await auditOf(res);
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => Number(e.outcome) !== 0)).toBe(true);
    });

    test('a replayed jti → 401 the second time', async () => {
      const jwt = zsh.jwt(ORDER_SELECT);
      expect((await zsh.call(ORDER_SELECT, body(), { jwt })).status).toBe(200);
      const replay = await zsh.call(ORDER_SELECT, body(), { jwt });
      expectOutcome(replay, 401);
      expect((await auditOf(replay)).length).toBeGreaterThanOrEqual(1);
      // the same jti is refused on feedback too (one replay store)
      const card = expectCards(await zsh.call(ORDER_SELECT, body())).cards[0];
      const jti = randomUUID();
      expect((await zsh.call(ORDER_SELECT, body(), { jwt: zsh.jwt(ORDER_SELECT, { jti }) })).status).toBe(200);
      expectOutcome(await zsh.feedback(ORDER_SELECT, { feedback: [accepted(card, now())] }, { jwt: zsh.jwt(ORDER_SELECT, { jti }) }), 401);
    });

    test('a client of no clinician role (the audit office) → 403', async () => {
      const audit = cdsClient({ app: net.app, client: demoClient(net.raw, 'audit-office'), publicBaseUrl: base, now });
      expectOutcome(await audit.call(ORDER_SELECT, body()), 403);
    });

    test('an unknown service id → 404 OperationOutcome (also for its feedback)', async () => {
      const res = await zsh.call('no-such-service', body());
      expectOutcome(res, 404);
      expect((await auditOf(res)).length).toBeGreaterThanOrEqual(1);
      expectOutcome(await zsh.feedback('no-such-service', { feedback: [] }), 404);
    });

    const bad: Array<[string, (b: ReturnType<typeof orderSelect>) => unknown]> = [
      ['no context', ({ context: _c, ...b }) => b],
      ['context not an object', (b) => ({ ...b, context: 'Patient/1' })],
      ['no draftOrders', (b) => ({ ...b, context: { ...b.context, draftOrders: undefined } })],
      ['draftOrders a Patient, not a Bundle', (b) => ({ ...b, context: { ...b.context, draftOrders: patientPrefetch({ id: 'x', nationalId: CHEN.nationalId }) } })],
      ['draftOrders an array of ServiceRequests', (b) => ({ ...b, context: { ...b.context, draftOrders: (b.context.draftOrders as { entry: Array<{ resource: unknown }> }).entry.map((e) => e.resource) } })],
      ['draftOrders entry not an array', (b) => ({ ...b, context: { ...b.context, draftOrders: { resourceType: 'Bundle', type: 'collection', entry: {} } } })],
      ['no userId', (b) => ({ ...b, context: { ...b.context, userId: undefined } })],
      ['no patientId', (b) => ({ ...b, context: { ...b.context, patientId: undefined } })],
      ['the order-sign hook at the order-select service', (b) => ({ ...b, hook: 'order-sign' })],
      ['another hook (patient-view)', (b) => ({ ...b, hook: 'patient-view' })],
      ['no hook', ({ hook: _h, ...b }) => b],
      ['no hookInstance', ({ hookInstance: _h, ...b }) => b],
      ['a JSON array', () => [orderSelect(chen([ORDER.cbc]))]],
      ['not JSON', () => '{"hook": "order-select",'],
    ];
    test.each(bad)('%s → 400 OperationOutcome, audited', async (_case, mutate) => {
      const res = await zsh.call(ORDER_SELECT, mutate(body()));
      expectOutcome(res, 400);
      const events = await auditOf(res);
      expect(events.length).toBeGreaterThanOrEqual(1);
      expect(events.every((e) => Number(e.outcome) !== 0)).toBe(true);
    });

    test.each<[string, unknown]>([
      ['no prefetch', (({ prefetch: _p, ...b }) => b)(orderSelect(chen([ORDER.cbc])))],
      ['a prefetch that is not a Patient', { ...orderSelect(chen([ORDER.cbc])), prefetch: { patient: draftOrdersBundle([]) } }],
      ['a null prefetch (the client could not fetch it)', { ...orderSelect(chen([ORDER.cbc])), prefetch: { patient: null } }],
      ['a Patient with no identifier', { ...orderSelect(chen([ORDER.cbc])), prefetch: { patient: { resourceType: 'Patient', id: CHEN.id } } }],
      ['an invalid national id', orderSelect({ patient: { id: 'p', nationalId: '350203196203151590' }, orders: [ORDER.cbc] })],
      ['an order without code', { ...orderSelect(chen([])), context: { ...orderSelect(chen([])).context, draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'x', status: 'draft', intent: 'order' } }] } } }],
      ['entries that are not ServiceRequests', { ...orderSelect(chen([])), context: { ...orderSelect(chen([])).context, draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'MedicationRequest', id: 'm' } }, {}, { resource: null }] } } }],
      ['a code of the wrong type', { ...orderSelect(chen([])), context: { ...orderSelect(chen([])).context, draftOrders: { resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'ServiceRequest', id: 'x', code: { coding: [{ system: 7, code: ['58410-2'] }] } } }] } } }],
      ['a deep and odd body', { ...orderSelect(chen([ORDER.cbc])), extension: { 'x.y': { a: [[[{}]]] } }, fhirServer: 'not a url' }],
    ])('%s → never a 5xx; a 200 is a valid CDS Hooks answer', async (_case, b) => {
      const res = await zsh.call(ORDER_SELECT, b);
      expect(res.status).toBeLessThan(500);
      if (res.status === 200) expectCards(res);
      else expectOutcome(res, res.status);
    });
  });
});

/**
 * A hospital that stops answering: a proxy put in front of 漳州市医院's FHIR server, which passes
 * requests through while the network starts (consents load, the index links the residents), then
 * holds every request without answering.
 */
async function startSwitchableProxy(): Promise<{ port: number; target: URL | undefined; hang(on: boolean): void; close(): Promise<void> }> {
  let hanging = false;
  const held = new Set<Socket>();
  const state = { target: undefined as URL | undefined };
  const server: Server = createHttpServer((req, res) => {
    const t = state.target;
    if (hanging || !t) {
      held.add(req.socket);
      return; // never answered
    }
    const upstream = httpRequest({ host: t.hostname, port: t.port, method: req.method, path: req.url, headers: { ...req.headers, host: t.host } }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    get target() {
      return state.target;
    },
    set target(u: URL | undefined) {
      state.target = u;
    },
    hang: (on) => void (hanging = on),
    close: async () => {
      for (const s of held) s.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a hospital that hangs: the hook answers within its budget (1 s) with what is known', () => {
  const [, open] = testDatabases()[0];
  let db: TestDb;
  let net: DemoNetwork;
  let zsh: CdsClient;
  let proxy: Awaited<ReturnType<typeof startSwitchableProxy>>;

  beforeAll(async () => {
    db = await open();
    proxy = await startSwitchableProxy();
    net = await startDemoNetwork({
      db,
      edit: (raw) => {
        const h = raw.hospitals.find((x) => x.id === 'zz-syy')!;
        const real = new URL(h.adapter.baseUrl!);
        proxy.target = real;
        h.adapter.baseUrl = `http://127.0.0.1:${proxy.port}${real.pathname}`;
        // only the hook's budget may cut the call short, not the hospital's own deadline
        (h as { timeoutMs?: number }).timeoutMs = 15_000;
      },
    });
    zsh = cdsClient({ app: net.app, client: demoClient(net.raw, 'xm-zsh-his'), publicBaseUrl: net.config.publicBaseUrl, now: () => new Date(DEMO_ANCHOR) });
    // 陈建国 is linked at every hospital while 漳州市医院 still answers …
    const token = await net.token('xm-zsh-his');
    const found = await request(net.app).get(`/Patient?identifier=${NATIONAL_ID_SYSTEM}|${CHEN.nationalId}`).set('Authorization', `Bearer ${token}`);
    expect(found.status).toBe(200);
    const withAll = expectCards(await zsh.call(ORDER_SELECT, orderSelect({ patient: CHEN, orders: [ORDER.cbc, ORDER.hba1c] })));
    expect(withAll.cards.some((c) => c.summary.includes('漳州市医院'))).toBe(true);
    // … and then it stops answering
    proxy.hang(true);
  }, 180_000);

  afterAll(async () => {
    await net?.close();
    await proxy?.close();
    await db?.close();
  });

  test('order-select answers in time: the card from 厦大一院, none from the hospital that hangs', async () => {
    const started = Date.now();
    const res = await zsh.call(ORDER_SELECT, orderSelect({ patient: CHEN, orders: [ORDER.cbc, ORDER.hba1c] }));
    const elapsed = Date.now() - started;
    const { cards } = expectCards(res);
    expect(elapsed).toBeLessThan(1_500);
    const hba1c = cardFor(cards, ORDER.hba1c.id);
    expect(hba1c?.summary).toContain('糖化血红蛋白');
    expect(hba1c?.summary).toContain('厦门大学附属第一医院');
    expect(cards.some((c) => c.summary.includes('漳州市医院'))).toBe(false);
    expect((await auditOf(res)).length).toBeGreaterThanOrEqual(1);
  });

  const auditOf = (res: request.Response) => db.db('audit_events').where({ request_id: res.headers['x-request-id'] }).select('subtype');
});
