import { execFileSync } from 'node:child_process';
import path from 'node:path';

/**
 * pdfkit (with its font and compression code, ~5 MB of long-lived heap that every full garbage
 * collection marks again) is loaded when the first access report is printed, not with the gateway:
 * checked in a fresh Node process, whose module cache jest does not stand in for.
 */
const ROOT = path.join(__dirname, '../../../..');
const loaded = (script: string): string[] =>
  JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: ROOT, encoding: 'utf8' }).trim().split('\n').pop()!);

test('loading the gateway does not load pdfkit; printing a report does', () => {
  const script = (print: boolean) => `
    require('./gateway/app');
    const pdf = require('./gateway/audit/access-report-pdf');
    (async () => {
      if (${print}) await pdf.renderAccessReportPdf({ residentLabel: '测试', from: '2026-11-01', to: '2026-11-30', generated: '2026-12-01T00:00:00Z', entries: [], truncated: false });
      console.log(JSON.stringify(Object.keys(require.cache).filter((k) => k.includes('/node_modules/pdfkit/'))));
    })();`;
  expect(loaded(script(false))).toEqual([]);
  expect(loaded(script(true)).length).toBeGreaterThan(0);
}, 60_000);
