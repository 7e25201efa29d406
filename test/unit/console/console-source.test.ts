import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * What the console's sources must never do, read from the sources themselves: put text into the
 * page as HTML, keep anything beyond the tab, log, or evaluate strings. The browser suite shows the
 * rendering; this keeps a later change from opening one of these doors quietly.
 */

const SRC = path.resolve(__dirname, '..', '..', '..', 'console', 'src');
const files = (dir: string): string[] =>
  readdirSync(dir).flatMap((n) => {
    const p = path.join(dir, n);
    return statSync(p).isDirectory() ? files(p) : /\.(ts|tsx)$/.test(n) ? [p] : [];
  });
/** the code without its comments, so a comment may say what the code never does */
const code = (p: string) => readFileSync(p, 'utf8').replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:])\/\/.*$/gm, '$1');

describe('console sources', () => {
  const all = files(SRC).map((p) => ({ file: path.relative(SRC, p), text: code(p) }));

  test('there are sources to read', () => expect(all.length).toBeGreaterThan(20));

  test.each([
    ['dangerouslySetInnerHTML', /dangerouslySetInnerHTML/],
    ['innerHTML / outerHTML / insertAdjacentHTML', /\b(innerHTML|outerHTML|insertAdjacentHTML)\b/],
    ['document.write', /document\.write/],
    ['localStorage or indexedDB', /\b(localStorage|indexedDB)\b/],
    ['cookies', /document\.cookie/],
    ['console logging', /\bconsole\.\w+\(/],
    ['eval or new Function', /\beval\(|new Function\(/],
    ['inline style attributes', /\bstyle=\{/],
  ])('nothing uses %s', (_name, pattern) => {
    expect(all.filter((f) => pattern.test(f.text)).map((f) => f.file)).toEqual([]);
  });

  test('the only sessionStorage users are the session, its PKCE values and the language', () => {
    expect(all.filter((f) => /\bsessionStorage\b/.test(f.text)).map((f) => f.file).sort()).toEqual(['auth/session.ts', 'i18n.ts']);
  });
});
