import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

/**
 * Builds the console into `console/dist/`: `index.html`, one hashed JS bundle and one hashed CSS
 * file under `assets/`. esbuild bundles the Preact TSX (typechecking is `tsc -p console`, part of
 * `npm test`); the HTML is written here, naming the hashed files with their SRI digests.
 *
 *   npm run build:console            (also run by npm install / npm ci and before npm start)
 *   npx tsx console/build.ts [--dev]  (--dev: not minified)
 *
 * The new build is written beside the old one and moved into place, so a running gateway serves
 * either the old build or the new one, never half of one.
 */

export const CONSOLE_DIR = __dirname;
export const DIST_DIR = path.join(CONSOLE_DIR, 'dist');

export interface ConsoleBuild {
  outDir: string;
  files: Array<{ name: string; bytes: number; gzipBytes: number }>;
  totalBytes: number;
  totalGzipBytes: number;
  ms: number;
}

export async function buildConsole(opts: { outDir?: string; minify?: boolean } = {}): Promise<ConsoleBuild> {
  const started = performance.now();
  const outDir = opts.outDir ?? DIST_DIR;
  const staging = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  rmSync(staging, { recursive: true, force: true });
  try {
    const result = await build({
      absWorkingDir: CONSOLE_DIR,
      entryPoints: { app: path.join(CONSOLE_DIR, 'src', 'main.tsx') },
      outdir: path.join(staging, 'assets'),
      entryNames: '[name]-[hash]',
      assetNames: '[name]-[hash]',
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: ['es2022', 'chrome110', 'firefox115', 'safari16'],
      jsx: 'automatic',
      jsxImportSource: 'preact',
      minify: opts.minify ?? true,
      sourcemap: false,
      legalComments: 'none',
      charset: 'utf8',
      metafile: true,
      define: { 'process.env.NODE_ENV': '"production"' },
      logLevel: 'silent',
    });
    const outputs = Object.keys(result.metafile.outputs).map((p) => path.resolve(CONSOLE_DIR, p));
    const js = outputs.find((p) => p.endsWith('.js'));
    const css = outputs.find((p) => p.endsWith('.css'));
    if (!js || !css || outputs.length !== 2) throw new Error(`console build: expected one .js and one .css, got ${outputs.map((o) => path.basename(o)).join(', ')}`);
    writeFileSync(path.join(staging, 'index.html'), indexHtml(path.basename(js), sri(js), path.basename(css), sri(css)));

    rmSync(`${outDir}.old`, { recursive: true, force: true });
    try {
      renameSync(outDir, `${outDir}.old`);
    } catch {
      // no earlier build
    }
    mkdirSync(path.dirname(outDir), { recursive: true });
    renameSync(staging, outDir);
    rmSync(`${outDir}.old`, { recursive: true, force: true });

    const files = ['index.html', `assets/${path.basename(js)}`, `assets/${path.basename(css)}`].map((name) => {
      const body = readFileSync(path.join(outDir, name));
      return { name, bytes: body.length, gzipBytes: gzipSync(body, { level: 9 }).length };
    });
    return {
      outDir,
      files,
      totalBytes: files.reduce((s, f) => s + f.bytes, 0),
      totalGzipBytes: files.reduce((s, f) => s + f.gzipBytes, 0),
      ms: Math.round(performance.now() - started),
    };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

const sri = (file: string) => `sha384-${createHash('sha384').update(readFileSync(file)).digest('base64')}`;

/** The page: no inline script or style (the CSP forbids both), the loading text shown until the app starts. */
function indexHtml(js: string, jsSri: string, css: string, cssSri: string): string {
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>互认控制台 · 厦漳泉检查检验结果互认</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/console/assets/${css}" integrity="${cssSri}">
<script type="module" src="/console/assets/${js}" integrity="${jsSri}"></script>
</head>
<body>
<div id="app"><p class="loading">正在加载…</p></div>
<noscript>本控制台需要启用 JavaScript。This console needs JavaScript.</noscript>
</body>
</html>
`;
}

if (require.main === module) {
  buildConsole({ minify: !process.argv.includes('--dev') })
    .then((b) => {
      const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
      for (const f of b.files) process.stdout.write(`  ${f.name.padEnd(40)} ${kb(f.bytes).padStart(10)}  gzip ${kb(f.gzipBytes).padStart(9)}\n`);
      process.stdout.write(`console built in ${b.ms} ms → ${path.relative(process.cwd(), b.outDir) || b.outDir} (${kb(b.totalGzipBytes)} gzipped)\n`);
    })
    .catch((e) => {
      process.stderr.write(`console build failed: ${(e as Error)?.message ?? e}\n`);
      for (const err of (e as { errors?: Array<{ text: string; location?: { file: string; line: number } }> }).errors ?? []) {
        process.stderr.write(`  ${err.location ? `${err.location.file}:${err.location.line}: ` : ''}${err.text}\n`);
      }
      process.exit(1);
    });
}
