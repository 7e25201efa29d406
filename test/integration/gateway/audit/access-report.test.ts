import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Bundle, OperationOutcome, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import request from 'supertest';
import { DEMO_PASSWORD } from '../../../../fixtures/demo/demo-users';
import { testDatabases, type TestDb } from '../../../support/databases';
import { DEMO_ANCHOR, startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';
import { expectValidFhir } from '../../../support/fhir-validation';
import { refresh, signedIn } from '../../../support/sign-in';

/**
 * The resident's access report (issue #18, docs/audit.md §6): for 吴美玲 (consent for Xiamen
 * hospitals only), accesses from all three cities — a Xiamen hospital that may see her results, a
 * Quanzhou and a Zhangzhou hospital refused, a Quanzhou clinician's break-glass with its typed
 * reason, and an auditor's supervision — as Parameters and as a Chinese PDF rendered to pages.
 */

const NID = 'urn:oid:2.16.156.10011.1.3';
const WU = '350206198405092667';
const REASON = '急诊转入，患者意识不清，需了解既往检验';
const poppler = ['/usr/bin/pdftotext', '/usr/bin/pdftoppm'].every((p) => existsSync(p));
if (!poppler) console.warn('access report PDF pages not checked: poppler-utils (pdftotext, pdftoppm) is not installed; .ci/run installs it');

describe.each(testDatabases())('Patient $access-report on %s', (_name, open) => {
  let db: TestDb;
  let net: DemoNetwork;
  let wuId: string;
  let zsh: string;
  const day = DEMO_ANCHOR.toISOString().slice(0, 10);
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });

  beforeAll(async () => {
    db = await open();
    net = await startDemoNetwork({ db });
    zsh = await net.token('xm-zsh-his');
    const base = net.config.publicBaseUrl;
    const found = await request(net.app).get(`/Patient?identifier=${NID}|${WU}`).set(bearer(zsh));
    wuId = (found.body as Bundle).entry!.find((e) => e.resource?.resourceType === 'Patient')!.resource!.id!;
    const search = (token: string) => request(net.app).get(`/DiagnosticReport?patient.identifier=${NID}|${WU}`).set(bearer(token));
    expect((await search(zsh)).status).toBe(200); // Xiamen: permitted
    expect((await search(await net.token('qz-dyyy-his'))).status).toBe(403); // Quanzhou: refused
    expect((await search(await net.token('zz-syy-his', { user: { id: 'D5001', name: '杨医生' } }))).status).toBe(403); // Zhangzhou: refused
    // a Quanzhou clinician in the console, break-glass with a reason
    const t = await signedIn(net.app, base, 'qz-dyyy-doctor', DEMO_PASSWORD);
    const glass = await refresh(net.app, t.refresh_token, { purpose_of_use: 'ETREAT', break_glass_reason: REASON });
    expect((await search(glass.body.access_token)).status).toBe(200);
    // an auditor's supervision
    const auditor = await net.token('audit-office', { user: { id: 'A0001', name: '王审计' } });
    expect((await request(net.app).get(`/AuditEvent?patient=${wuId}`).set(bearer(auditor))).status).toBe(200);
  });
  afterAll(async () => {
    await net?.close();
    await db?.close();
  });

  const parts = (p: ParametersParameter) => Object.fromEntries((p.part ?? []).map((x) => [x.name, x.valueString ?? x.valueCode ?? x.valueBoolean ?? x.valueReference?.display ?? x.valueCoding?.code ?? x.valueInstant]));
  const itemsOf = (p: ParametersParameter) => (p.part ?? []).filter((x) => x.name === 'item').map((x) => x.valueString);

  test('as Parameters: every city, the refusals, the break-glass reason, supervision without the auditor’s name, no values', async () => {
    const res = await request(net.app).get(`/Patient/${wuId}/$access-report?from=${day}&to=${day}`).set(bearer(zsh));
    expect(res.status).toBe(200);
    expectValidFhir(res.body);
    const accesses = (res.body as Parameters).parameter!.filter((p) => p.name === 'access');
    const rows = accesses.map(parts);
    const xiamen = rows.find((r) => r.organization === '厦门大学附属中山医院' && r.outcome === 'permitted' && r.accessed === '检验检查报告');
    expect(xiamen).toMatchObject({ city: '厦门市', person: '林医生', purpose: 'TREAT' });
    expect(itemsOf(accesses[rows.indexOf(xiamen!)]!).length).toBeGreaterThan(0); // catalogue items by name (血常规 …), never values
    expect(rows.find((r) => r.organization === '泉州市第一医院' && r.outcome === 'refused')).toMatchObject({ city: '泉州市' });
    expect(rows.find((r) => r.organization === '漳州市医院' && r.outcome === 'refused')).toMatchObject({ city: '漳州市', person: '杨医生' });
    const glass = rows.find((r) => r.breakGlass === true);
    expect(glass).toMatchObject({ organization: '泉州市第一医院', person: '黄志强', purpose: 'ETREAT', breakGlassReason: REASON, outcome: 'permitted', role: 'clinician' });
    const supervision = rows.filter((r) => r.supervision === true);
    expect(supervision.length).toBeGreaterThan(0);
    for (const s of supervision) expect(s.person).toBeUndefined();
    expect(JSON.stringify(res.body)).not.toContain('王审计');
    // the report's own request is recorded too: a registrar's access to the resident
    const events = await db.db('audit_events').where({ request_id: res.headers['x-request-id'] }).select('subtype', 'patient_id');
    expect(events).toEqual([{ subtype: '$access-report', patient_id: wuId }]);
  });

  test('as a PDF in Chinese, rendered to pages', async () => {
    const res = await request(net.app).get(`/Patient/${wuId}/$access-report?from=${day}&to=${day}&_format=pdf`).set(bearer(zsh)).buffer(true).parse((r, cb) => {
      const chunks: Buffer[] = [];
      r.on('data', (c: Buffer) => chunks.push(c));
      r.on('end', () => cb(null, Buffer.concat(chunks)));
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('application/pdf');
    expect(res.headers['content-disposition']).toBe('attachment; filename="access-report.pdf"');
    const pdf = res.body as Buffer;
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    if (!poppler) return;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-report-'));
    try {
      const file = path.join(dir, 'report.pdf');
      writeFileSync(file, pdf);
      // -raw: the text in the order it was drawn, cell by cell (a cell may wrap inside its column)
      const text = execFileSync('/usr/bin/pdftotext', ['-raw', file, '-'], { encoding: 'utf8' });
      const flat = text.replace(/\s+/g, '');
      for (const s of ['个人健康信息查阅记录', '厦门市', '泉州市', '漳州市', '已拒绝', '紧急诊疗（破窗）', '监管查询', '林医生', REASON]) expect(flat).toContain(s);
      expect(text).not.toContain('王审计');
      expect(text).not.toContain(WU); // masked
      execFileSync('/usr/bin/pdftoppm', ['-png', '-r', process.env.CONSOLE_SCREENSHOTS ? '90' : '40', file, path.join(dir, 'page')]);
      const pages = readdirSync(dir).filter((f) => f.startsWith('page') && f.endsWith('.png')).sort();
      expect(pages.length).toBeGreaterThanOrEqual(1);
      // CONSOLE_SCREENSHOTS=1 (as for the console's screens): keep the first page for docs/
      if (process.env.CONSOLE_SCREENSHOTS && _name === 'sqlite') copyFileSync(path.join(dir, pages[0]!), path.resolve(__dirname, '../../../../docs/console/access-report.png'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test.each<[string, () => Promise<string>, string, number, string]>([
    ['an inverted period', async () => zsh, 'from=2026-11-29&to=2026-11-01', 400, 'invalid-period'],
    ['a period before the retention window', async () => zsh, 'from=2020-01-01&to=2026-11-29', 400, 'period-beyond-retention'],
    ['no from', async () => zsh, 'to=2026-11-29', 400, 'parameter-required'],
    ['a malformed date', async () => zsh, 'from=2026-02-30&to=2026-11-29', 400, 'invalid-date'],
    ['a registrar whose hospital has no record of her', async () => net.token('zz-lhq-his'), 'from=2026-11-01&to=2026-11-29', 403, 'not-own-resident'],
    ['no token', async () => '', 'from=2026-11-01&to=2026-11-29', 401, 'unauthorized'],
  ])('%s', async (_what, token, query, status, code) => {
    const t = await token();
    const res = await request(net.app).get(`/Patient/${wuId}/$access-report?${query}`).set(t ? bearer(t) : {});
    expect(res.status).toBe(status);
    expectValidFhir(res.body);
    const o = res.body as OperationOutcome;
    expect(o.issue[0]!.details?.coding?.[0]?.code ?? o.issue[0]!.code).toBe(code);
  });

  test('a clinician is refused by role, an unknown resident is 404', async () => {
    const t = await signedIn(net.app, net.config.publicBaseUrl, 'xm-zsh-doctor', DEMO_PASSWORD);
    const byRole = await request(net.app).get(`/Patient/${wuId}/$access-report?from=2026-11-01&to=2026-11-29`).set(bearer(t.access_token));
    expect(byRole.status).toBe(403);
    const unknown = await request(net.app).get('/Patient/no-such-patient/$access-report?from=2026-11-01&to=2026-11-29').set(bearer(zsh));
    expect(unknown.status).toBe(404);
  });
});
