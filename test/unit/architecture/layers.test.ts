import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import path from 'node:path';

/**
 * The import graph of the product (gateway/, consent/, adapters/), read from the sources: layers
 * point one way, there is no cycle, and the parts that reach hospitals are held where
 * docs/patient-data.md says. A change that adds an upward import or a back door to patient data
 * fails here, whatever it does at run time.
 */
const ROOT = path.resolve(__dirname, '..', '..', '..');
const PRODUCT = ['gateway', 'consent', 'adapters'];

function sources(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir)).flatMap((name) => {
    const rel = path.join(dir, name);
    if (statSync(path.join(ROOT, rel)).isDirectory()) return sources(rel);
    return rel.endsWith('.ts') ? [rel.split(path.sep).join('/')] : [];
  });
}

function resolve(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  const base = path.join(path.dirname(from), spec);
  for (const c of [base, `${base}.ts`, path.join(base, 'index.ts')]) {
    if (existsSync(path.join(ROOT, c)) && statSync(path.join(ROOT, c)).isFile()) return c.split(path.sep).join('/');
  }
  return undefined;
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^;]*?from\s+['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)|import\(\s*['"]([^'"]+)['"]\s*\)/g;
const files = PRODUCT.flatMap(sources);
const edges = new Map<string, string[]>(
  files.map((f) => {
    const src = readFileSync(path.join(ROOT, f), 'utf8');
    const out: string[] = [];
    for (const m of src.matchAll(IMPORT)) {
      const target = resolve(f, m[1] ?? m[2] ?? m[3]);
      if (target) out.push(target);
    }
    return [f, out];
  }),
);
const importsOf = (f: string) => edges.get(f) ?? [];
/** the composition root and the HTTP layer: everything else is domain */
const isOuter = (f: string) => f.startsWith('gateway/http/') || f.startsWith('gateway/cli/') || ['gateway/app.ts', 'gateway/main.ts', 'gateway/server.ts'].includes(f);

describe('the import graph of gateway/, consent/ and adapters/', () => {
  it('reads a real graph', () => {
    expect(files.length).toBeGreaterThan(80);
    expect(importsOf('gateway/app.ts')).toContain('gateway/patient-data/patient-data.ts');
  });

  it('has no import cycle', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[][] = [];
    const visit = (f: string, trail: string[]) => {
      if (state.get(f) === 'done') return;
      if (state.get(f) === 'open') return void cycles.push([...trail.slice(trail.indexOf(f)), f]);
      state.set(f, 'open');
      for (const t of importsOf(f)) visit(t, [...trail, f]);
      state.set(f, 'done');
    };
    for (const f of files) visit(f, []);
    expect(cycles).toEqual([]);
  });

  const upward = (rule: (from: string, to: string) => boolean) => files.flatMap((f) => importsOf(f).filter((t) => rule(f, t)).map((t) => `${f} → ${t}`));

  it('domain modules import nothing of HTTP, the composition root or the CLIs', () => {
    expect(upward((f, t) => !isOuter(f) && isOuter(t))).toEqual([]);
  });

  it('adapters import nothing from gateway/ or consent/ (their config and metrics come through the constructor)', () => {
    expect(upward((f, t) => f.startsWith('adapters/') && !t.startsWith('adapters/'))).toEqual([]);
  });

  it('storage imports no domain', () => {
    expect(upward((f, t) => f.startsWith('gateway/storage/') && !t.startsWith('gateway/storage/'))).toEqual([]);
  });

  it('the product imports nothing from fixtures/ or test/', () => {
    expect(upward((_f, t) => t.startsWith('fixtures/') || t.startsWith('test/'))).toEqual([]);
  });

  it('what reaches hospitals is held only where docs/patient-data.md says', () => {
    const holders = (target: string) => files.filter((f) => importsOf(f).includes(target)).sort();
    // Patient data is released (marked for the HTTP layer's check) only by the guarded path.
    expect(holders('gateway/patient-data/release.ts').filter((f) => !f.startsWith('gateway/patient-data/'))).toEqual(['gateway/http/dispatch.ts']);
    expect(
      files.filter((f) => f.startsWith('gateway/') && readFileSync(path.join(ROOT, f), 'utf8').match(/\brelease\(/) && !f.startsWith('gateway/patient-data/')),
    ).toEqual([]);
    // The federation and the patient index that ask hospitals are built by the composition root
    // and used by the guarded patient data; no route or operation imports them.
    for (const f of [...holders('gateway/federation/federation.ts'), ...holders('gateway/patient-index/patient-index.ts')]) {
      expect(['gateway/app.ts', 'gateway/patient-data/patient-data.ts']).toContain(f);
    }
    // Adapters are made by the composition root and held by their HospitalCaller alone.
    expect(holders('adapters/factory.ts')).toEqual(['gateway/app.ts']);
    // The hospitals' PACS (DICOMweb) likewise: made by the composition root, given to the guarded patient data only.
    expect(holders('gateway/dicomweb/pacs-client.ts')).toEqual(['gateway/app.ts']);
    expect(files.filter((f) => /PacsClient\b/.test(readFileSync(path.join(ROOT, f), 'utf8'))).filter((f) => !/^gateway\/(dicomweb|patient-data)\//.test(f) && f !== 'gateway/app.ts')).toEqual([]);
    const routesAndOps = files.filter((f) => f.startsWith('gateway/http/') || /recognition\/.*-operation\.ts$/.test(f));
    for (const f of routesAndOps) {
      const src = readFileSync(path.join(ROOT, f), 'utf8');
      expect([f, /\bHospitalCaller\b(?!Error)|\.adapter\b|fetchResults|findPatient\(nationalId/.test(src.replace(/import type \{ HospitalHealth \}[^\n]*/g, ''))]).toEqual([f, false]);
    }
  });
});
