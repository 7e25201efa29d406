import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import { CONSOLE_CSP, consoleStatic } from '../../../../gateway/http/console-static';
import { openSqlite, type TestDb } from '../../../support/databases';
import { startGateway, type StartedGateway } from '../../../support/gateway-harness';

/**
 * The console's static files under /console/ (gateway/http/console-static.ts): the page and its
 * hashed assets with the right caching and a strict CSP, a redirect for /console, a clear 503
 * without a build, nothing outside the build served, and no API route shadowed.
 */

const JS = 'app-ABCDEF12.js';
const CSS = 'app-ZYXWVU98.css';

function fakeDist(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'xzq-console-dist-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(path.join(dir, 'index.html'), `<!doctype html><script type="module" src="/console/assets/${JS}"></script>`);
  writeFileSync(path.join(dir, 'assets', JS), 'console.info("x")');
  writeFileSync(path.join(dir, 'assets', CSS), 'body{}');
  writeFileSync(path.join(dir, 'secret.txt'), 'not to be served');
  return dir;
}

function appOn(distDir: string) {
  const app = express();
  app.use(consoleStatic({ distDir }));
  app.use((_req, res) => void res.status(418).send('fell through'));
  return app;
}

describe('console static files', () => {
  let dist: string;
  beforeAll(() => {
    dist = fakeDist();
  });
  afterAll(() => rmSync(dist, { recursive: true, force: true }));

  const expectHardened = (res: request.Response) => {
    expect(res.headers['content-security-policy']).toBe(CONSOLE_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  };

  test('the page is served at /console/ and /console/index.html, never cached, under the strict CSP', async () => {
    for (const url of ['/console/', '/console/index.html']) {
      const res = await request(appOn(dist)).get(url);
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toMatch(/^text\/html; charset=utf-8/);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.text).toContain(JS);
      expectHardened(res);
    }
    expect(CONSOLE_CSP).toBe(
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    );
  });

  test('/console redirects to /console/, keeping the query (a sign-in answer may come either way)', async () => {
    const plain = await request(appOn(dist)).get('/console');
    expect(plain.status).toBe(301);
    expect(plain.headers.location).toBe('/console/');
    const withQuery = await request(appOn(dist)).get('/console?code=abc&state=xyz');
    expect(withQuery.headers.location).toBe('/console/?code=abc&state=xyz');
  });

  test('hashed assets are immutable and typed; HEAD works', async () => {
    const js = await request(appOn(dist)).get(`/console/assets/${JS}`);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toMatch(/^text\/javascript; charset=utf-8/);
    expect(js.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expectHardened(js);
    const css = await request(appOn(dist)).head(`/console/assets/${CSS}`);
    expect(css.status).toBe(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
  });

  test.each([
    '/console/secret.txt',
    '/console/assets/../secret.txt',
    '/console/assets/%2e%2e%2fsecret.txt',
    '/console/assets/app-NOPE1234.js',
    '/console/assets/app.js',
    '/console/assets/sub/app-ABCDEF12.js',
    '/console/anything',
  ])('%s is 404, nothing outside the build', async (url) => {
    const res = await request(appOn(dist)).get(url);
    expect(res.status).toBe(404);
    expect(res.text).not.toContain('not to be served');
    expectHardened(res);
  });

  test('other methods are 405; other paths are not the console\'s', async () => {
    const post = await request(appOn(dist)).post('/console/').send('x=1');
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    for (const url of ['/consoles', '/console-x', '/metadata']) expect((await request(appOn(dist)).get(url)).status).toBe(418);
  });

  test('without a build: a clear 503 naming npm run build:console', async () => {
    const missing = path.join(dist, 'no-such-build');
    const res = await request(appOn(missing)).get('/console/');
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('npm run build:console');
    expectHardened(res);
  });
});

describe('the console in the real gateway', () => {
  let db: TestDb;
  let gw: StartedGateway;
  beforeAll(async () => {
    db = await openSqlite();
    gw = await startGateway({ db });
  });
  afterAll(async () => {
    await gw.close();
    await db.close();
  });

  test('is mounted without shadowing the API, and is not audited', async () => {
    const before = Number((await db.db('audit_events').count({ n: '*' }))[0]!.n);
    const page = await request(gw.app).get('/console/');
    // built by `npm install` (prepare); a checkout without a build answers the 503 above
    expect([200, 503]).toContain(page.status);
    expect(page.headers['content-security-policy']).toBe(CONSOLE_CSP);
    const after = Number((await db.db('audit_events').count({ n: '*' }))[0]!.n);
    expect(after).toBe(before);
    const metadata = await request(gw.app).get('/metadata');
    expect(metadata.status).toBe(200);
    expect(metadata.body.resourceType).toBe('CapabilityStatement');
    const unknown = await request(gw.app).get('/consolex');
    expect(unknown.status).toBe(404);
    expect(unknown.body.resourceType).toBe('OperationOutcome');
  });
});
