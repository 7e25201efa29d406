import type { Page } from 'playwright-core';
import { chromiumAvailable, CHROMIUM, signIn, startConsoleStage } from '../support/console-browser';

/**
 * Console timings in Chromium against the real demo network (issue #15's figures; not a timed
 * test): the console's first paint, the time from the API's answer to the timeline in the page,
 * and the built assets' gzipped size.
 *
 *   npx tsx test/bench/console-timing.ts [--runs 10]
 *
 * - first paint: the `first-contentful-paint` entry of the console page the sign-in returns to
 *   (a cold page: code exchange under way), and of a reload of the signed-in console (cached assets);
 * - timeline: the patient's results searched again and again (陈建国, 21 reports from four
 *   hospitals in three cities, every page followed); from the mark the console sets when the
 *   last answer has arrived (`xzq:results-received`) to the rows in the document
 *   (`xzq:timeline-rendered`) and to the next frame (`xzq:timeline-painted`); the API's own time
 *   (request start to the last response's end, Resource Timing) is printed beside it.
 */

const CHEN = '350203196203151595';

async function main() {
  if (!chromiumAvailable()) throw new Error(`${CHROMIUM} not found (apt-get install chromium)`);
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 10;
  const stage = await startConsoleStage();
  try {
    const page = await stage.context.newPage();
    await signIn(page, stage.base, 'xm-zsh-doctor');
    await page.getByTestId('current-user').waitFor();
    const coldPaint = await firstPaint(page);
    await page.reload();
    await page.getByTestId('current-user').waitFor();
    const warmPaint = await firstPaint(page);

    const render: number[] = [];
    const painted: number[] = [];
    const api: number[] = [];
    for (let i = 0; i < runs + 1; i++) {
      await page.evaluate(() => {
        performance.clearMarks();
        performance.clearResourceTimings();
      });
      await page.getByLabel('身份证号', { exact: true }).fill(CHEN);
      await page.getByRole('button', { name: '查找', exact: true }).click();
      await page.waitForFunction(() => performance.getEntriesByName('xzq:timeline-painted').length > 0, undefined, { timeout: 30_000 });
      // a string, not a function: tsx would wrap named inner functions in a helper the page lacks
      const t = (await page.evaluate(`(() => {
        const at = (name) => performance.getEntriesByName(name)[0].startTime;
        const calls = performance.getEntriesByType('resource').filter((r) => /\\/(DiagnosticReport|ImagingStudy)\\/_search|[?&]_offset=/.test(r.name));
        return {
          render: at('xzq:timeline-rendered') - at('xzq:results-received'),
          painted: at('xzq:timeline-painted') - at('xzq:results-received'),
          api: calls.length ? Math.max(...calls.map((c) => c.responseEnd)) - Math.min(...calls.map((c) => c.startTime)) : NaN,
        };
      })()`)) as { render: number; painted: number; api: number };
      if (i === 0) continue; // the first search also warms the gateway's patient index and the page's code paths
      render.push(t.render);
      painted.push(t.painted);
      api.push(t.api);
    }
    const kb = (n: number) => Math.round((n / 1024) * 10) / 10;
    const figures = {
      firstPaintAfterSignInMs: round(coldPaint),
      firstPaintReloadMs: round(warmPaint),
      timelineRenderP50Ms: round(p(render, 0.5)),
      timelineRenderMaxMs: round(Math.max(...render)),
      timelinePaintedP50Ms: round(p(painted, 0.5)),
      timelinePaintedMaxMs: round(Math.max(...painted)),
      apiP50Ms: round(p(api, 0.5)),
      runs,
      assetsGzipKb: kb(stage.build.totalGzipBytes),
      assetsKb: kb(stage.build.totalBytes),
      buildMs: stage.build.ms,
    };
    const lines = [
      `console first paint: ${figures.firstPaintAfterSignInMs} ms (page after sign-in), ${figures.firstPaintReloadMs} ms (reload)   target ≤ 1500`,
      `timeline after the API's answer (${runs} runs): in the document p50 ${figures.timelineRenderP50Ms} ms (max ${figures.timelineRenderMaxMs}), painted p50 ${figures.timelinePaintedP50Ms} ms (max ${figures.timelinePaintedMaxMs})   target ≤ 1000`,
      `the API itself (DiagnosticReport + ImagingStudy searches, every page): p50 ${figures.apiP50Ms} ms`,
      `built assets: ${figures.assetsKb} KB, ${figures.assetsGzipKb} KB gzipped (${stage.build.files.map((f) => `${f.name} ${kb(f.gzipBytes)}`).join(', ')}), built in ${figures.buildMs} ms   target ≤ 500 KB gzipped`,
    ];
    process.stdout.write(`${lines.join('\n')}\n${JSON.stringify(figures)}\n`);
    await page.close();
  } finally {
    await stage.close();
  }
}

async function firstPaint(page: Page): Promise<number> {
  await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0);
  return page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]!.startTime);
}

function p(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
}
const round = (n: number) => Math.round(n * 10) / 10;

main().catch((e) => {
  process.stderr.write(`console timing failed: ${(e as Error)?.message ?? e}\n`);
  process.exit(1);
});
