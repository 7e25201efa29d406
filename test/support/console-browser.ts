import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConsole, type ConsoleBuild } from '../../console/build';
import { DEMO_PASSWORD } from '../../fixtures/demo/demo-users';
import { openSqlite, type TestDb } from './databases';
import { movingClock, startDemoNetwork, type DemoNetwork, type MovingClock } from './demo-network';

/**
 * The console in a real browser against the real demo network: Debian's Chromium driven by
 * playwright-core (no browser download), the console built in-process, the gateway listening on a
 * real port whose URL is its publicBaseUrl (the console's registered redirect URI is
 * `<publicBaseUrl>/console/`). Used by test/browser/console.test.ts and the timing script.
 */

export const CHROMIUM = '/usr/bin/chromium';
export const CHROMIUM_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const chromiumAvailable = () => existsSync(CHROMIUM);

export interface ConsoleStage {
  net: DemoNetwork;
  base: string;
  clock: MovingClock;
  build: ConsoleBuild;
  context: BrowserContext;
  close(): Promise<void>;
}

/** A hospital whose FHIR server can be made to hang, with a short deadline, so a test can see it named. */
export const SLOW_HOSPITAL = 'xm-dyyy';
export const SLOW_HOSPITAL_TIMEOUT_MS = 1500;

export async function startConsoleStage(opts: { screenshots?: boolean } = {}): Promise<ConsoleStage> {
  const build = await buildConsole();
  const db: TestDb = await openSqlite();
  const clock = movingClock();
  let net: DemoNetwork | undefined;
  let userDataDir: string | undefined;
  try {
    net = await startDemoNetwork({
      db,
      clock,
      listen: true,
      loadDecisions: true,
      edit: (raw) => {
        const h = raw.hospitals.find((x) => x.id === SLOW_HOSPITAL);
        if (h) h.timeoutMs = SLOW_HOSPITAL_TIMEOUT_MS;
      },
    });
    userDataDir = mkdtempSync(path.join(os.tmpdir(), 'xzq-chromium-'));
    const context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM,
      headless: true,
      // --lang: dates in inputs shown the Chinese way, as on a hospital's machine
      args: [...CHROMIUM_FLAGS, '--lang=zh-CN'],
      locale: 'zh-CN',
      timezoneId: 'Asia/Shanghai',
      viewport: { width: 1366, height: opts.screenshots ? 900 : 800 },
      acceptDownloads: true,
      env: { ...process.env, LANG: 'zh_CN.UTF-8', LANGUAGE: 'zh_CN' },
    });
    const stageNet = net;
    const dir = userDataDir;
    return {
      net: stageNet,
      base: stageNet.baseUrl!,
      clock,
      build,
      context,
      async close() {
        await context.close().catch(() => undefined);
        await stageNet.close();
        await db.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await net?.close().catch(() => undefined);
    await db.close().catch(() => undefined);
    if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
    throw e;
  }
}

/** What went wrong in a page that a person would not see: script errors and CSP refusals. */
export function watchPage(page: Page): { problems: string[]; dialogs: string[] } {
  const seen = { problems: [] as string[], dialogs: [] as string[] };
  page.on('pageerror', (e) => seen.problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    // Chromium reports every 4xx as "Failed to load resource"; refusals are part of the walk.
    if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) seen.problems.push(`console: ${m.text()}`);
  });
  page.on('dialog', (d) => {
    seen.dialogs.push(d.message());
    void d.dismiss();
  });
  return seen;
}

/** Open the console (it goes to the gateway's sign-in page) and sign in there. */
export async function signIn(page: Page, base: string, username: string, password = DEMO_PASSWORD): Promise<void> {
  await page.goto(`${base}/console/`);
  await submitSignIn(page, username, password);
}

/** Fill the gateway's sign-in form (labels 用户名 / 密码, button 登录). */
export async function submitSignIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('用户名').waitFor();
  await page.getByLabel('用户名').fill(username);
  await page.getByLabel('密码').fill(password);
  await page.getByRole('button', { name: '登录' }).click();
}

export { DEMO_PASSWORD };
