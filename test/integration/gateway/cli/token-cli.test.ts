import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { decodeJws } from '../../../../gateway/auth/jws';
import { buildCdsClientJwt, DEMO_CONFIG_FILE, DEMO_KEYS_DIR, parseTokenArgs, requestAccessToken, runTokenCli, UsageError } from '../../../../gateway/cli/token';
import { makeTestClient } from '../../../support/auth';
import { openSqlite, type TestDb } from '../../../support/databases';
import { startGateway, TEST_BASE_URL, type StartedGateway } from '../../../support/gateway-harness';

/** `npm run token` (API.md §1), its core run against a real gateway listening on loopback. */

const HOSPITAL = { id: 'xm-zsh', name: '厦门大学附属中山医院', city: '350200', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } };

describe('parseTokenArgs', () => {
  it.each<[string[], object]>([
    [['--client', 'xm-zsh-his'], { client: 'xm-zsh-his' }],
    [['--client=xm-zsh-his', '--purpose', 'ETREAT'], { client: 'xm-zsh-his', purpose: 'ETREAT' }],
    [['--client', 'a1', '--user-id', 'D7', '--user-name', '陈医生', '--scope', 'system/Patient.rs system/Observation.rs'], { client: 'a1', userId: 'D7', userName: '陈医生', scope: 'system/Patient.rs system/Observation.rs' }],
  ])('%j', (argv, expected) => expect(parseTokenArgs(argv)).toEqual(expected));

  it.each([[[]], [['--user-id', 'D1']], [['--client']], [['--client', '--purpose']], [['--client', 'a', '--bogus', 'x']], [['--client', 'a', '--purpose', 'treat; rm']]])(
    'refuses %j',
    (argv) => expect(() => parseTokenArgs(argv)).toThrow(UsageError),
  );
});

describe('npm run token against a running gateway', () => {
  let dir: string;
  let tdb: TestDb;
  let gw: StartedGateway;
  let server: Server;
  let url: string;
  const clinician = makeTestClient({ id: 'cli-his', hospital: 'xm-zsh', roles: ['clinician', 'registrar'] });
  const monitor = makeTestClient({ id: 'cli-monitor', roles: ['monitor'], alg: 'ES384' });
  let configFile: string;
  let keysDir: string;

  beforeAll(async () => {
    // a demo-like configuration and key folder of our own, so the test does not depend on fixtures
    dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-token-cli-'));
    keysDir = path.join(dir, 'clients');
    mkdirSync(keysDir);
    configFile = path.join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify({ publicBaseUrl: TEST_BASE_URL, hospitals: [HOSPITAL], clients: [clinician.config, monitor.config] }));
    for (const c of [clinician, monitor]) {
      writeFileSync(path.join(keysDir, `${c.id}.private.jwk.json`), JSON.stringify({ ...c.privateKey.export({ format: 'jwk' }), kid: c.kid, alg: c.alg }));
    }
    tdb = await openSqlite();
    gw = await startGateway({ db: tdb, clients: [clinician, monitor], hospitals: [HOSPITAL] });
    server = gw.app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    await gw.close();
    await tdb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gets a token naming the default demo clinician with TREAT', async () => {
    const token = await requestAccessToken({ client: 'cli-his', gatewayUrl: url, configFile, keysDir });
    const requester = await gw.services.auth.authenticate(`Bearer ${token}`);
    expect(requester).toMatchObject({ clientId: 'cli-his', hospitalId: 'xm-zsh', purposeOfUse: 'TREAT', user: { id: 'D1029', name: '林医生' } });
  });

  it('passes user, purpose and scope through', async () => {
    const token = await requestAccessToken({ client: 'cli-his', gatewayUrl: url, configFile, keysDir, userId: 'D2001', userName: '陈医生', purpose: 'ETREAT', scope: 'system/Observation.rs' });
    const claims = decodeJws(token)!.payload;
    expect(claims.scope).toBe('system/Observation.rs');
    expect(claims.extensions).toMatchObject({ ihe_iua: { subject_id: 'D2001', subject_name: '陈医生', purpose_of_use: [{ code: 'ETREAT' }] } });
  });

  it('gets a monitor token (ES384 key, no person)', async () => {
    const token = await requestAccessToken({ client: 'cli-monitor', gatewayUrl: url, configFile, keysDir });
    expect((await gw.services.auth.authenticate(`Bearer ${token}`)).roles).toEqual(['monitor']);
  });

  it('--cds: a CDS Hooks client JWT for the service, which the gateway accepts once', async () => {
    expect(parseTokenArgs(['--client', 'cli-his', '--cds', 'recognition-order-select']).cds).toBe('recognition-order-select');
    const privateJwk = JSON.parse(readFileSync(path.join(keysDir, 'cli-his.private.jwk.json'), 'utf8'));
    const aud = `${TEST_BASE_URL}/cds-services/recognition-order-select`;
    const jwt = buildCdsClientJwt({ clientId: 'cli-his', privateJwk, serviceUrl: aud });
    expect(decodeJws(jwt)!.payload).toMatchObject({ iss: 'cli-his', aud });
    expect(await gw.services.auth.authenticateCdsClient(`Bearer ${jwt}`, [aud])).toMatchObject({ clientId: 'cli-his', hospitalId: 'xm-zsh' });
    await expect(gw.services.auth.authenticateCdsClient(`Bearer ${jwt}`, [aud])).rejects.toMatchObject({ status: 401 });
    const other = buildCdsClientJwt({ clientId: 'cli-his', privateJwk, serviceUrl: `${TEST_BASE_URL}/cds-services/another` });
    await expect(gw.services.auth.authenticateCdsClient(`Bearer ${other}`, [aud])).rejects.toMatchObject({ status: 401 });
  });

  it('reports the gateway’s refusal', async () => {
    await expect(requestAccessToken({ client: 'cli-his', gatewayUrl: url, configFile, keysDir, scope: 'system/AuditEvent.rs' })).rejects.toThrow(/400: invalid_scope/);
  });

  it('prints only the token on stdout, errors on stderr with exit 1', async () => {
    const out = capture();
    const err = capture();
    // runTokenCli reads the real demo files; point it at ours through a client that does not exist there
    const code = await runTokenCli(['--client', 'no-such-client'], { GATEWAY_URL: url }, { stdout: out.stream, stderr: err.stream });
    expect(code).toBe(1);
    expect(out.text()).toBe('');
    expect(err.text()).toMatch(/unknown client no-such-client/);
  });

  it('says when the gateway cannot be reached', async () => {
    await expect(requestAccessToken({ client: 'cli-his', gatewayUrl: 'http://127.0.0.1:9', configFile, keysDir })).rejects.toThrow(/cannot reach/);
  });

  const demoReady = existsSync(DEMO_CONFIG_FILE) && existsSync(path.join(DEMO_KEYS_DIR, 'xm-zsh-his.private.jwk.json'));
  (demoReady ? it : it.skip)('works with the committed demo configuration and keys (runTokenCli, stdout = token)', async () => {
    const demo = JSON.parse(readFileSync(DEMO_CONFIG_FILE, 'utf8')) as { clients: Array<{ id: string }> };
    const demoGw = await startGateway({ db: tdb, hospitals: [HOSPITAL], extra: { clients: demo.clients.map((c) => ({ ...c, hospital: (c as { hospital?: string }).hospital ? 'xm-zsh' : undefined })) } });
    const demoServer = demoGw.app.listen(0, '127.0.0.1');
    await new Promise((r) => demoServer.once('listening', r));
    try {
      const out = capture();
      const err = capture();
      const demoUrl = `http://127.0.0.1:${(demoServer.address() as AddressInfo).port}`;
      const code = await runTokenCli(['--client', 'xm-zsh-his'], { GATEWAY_URL: demoUrl }, { stdout: out.stream, stderr: err.stream });
      expect(err.text()).toBe('');
      expect(code).toBe(0);
      expect(out.text()).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
      expect((await demoGw.services.auth.authenticate(`Bearer ${out.text().trim()}`)).clientId).toBe('xm-zsh-his');
    } finally {
      await new Promise((r) => demoServer.close(r));
      await demoGw.close();
    }
  });
});

function capture() {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') };
}
