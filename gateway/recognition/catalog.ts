import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { ConfigError } from '../config';
import type { CatalogItem } from './contract';
import { loincProblem } from './loinc';

/**
 * The recognition item catalogue (API.md §6): which lab and imaging items hospitals recognise,
 * how a result is matched to one, how long a result stays valid and what a repeat test costs.
 * Loaded once at start-up; an invalid file stops the gateway with every problem named by item
 * index and field (`catalog[3].loinc[1]: …`).
 */

/** The built-in catalogue, used when the configuration names none. */
export const DEFAULT_CATALOG_FILE = path.resolve(__dirname, '../../fixtures/catalog.json');

/** DICOM modalities an imaging item may name (DXA is accepted for bone densitometry, beside BMD). */
export const IMAGING_MODALITIES = ['CT', 'MR', 'DX', 'CR', 'DR', 'RX', 'US', 'PT', 'NM', 'DXA', 'BMD', 'MG', 'XA', 'RF', 'OT'] as const;

const loincCode = z.string().superRefine((code, ctx) => {
  const problem = loincProblem(code);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const itemSchema = z
  .strictObject({
    code: z.string().regex(/^[A-Z0-9][A-Z0-9-]{0,39}$/, 'must be upper-case letters, digits and "-" (at most 40)'),
    display: z.string().min(1),
    category: z.enum(['lab', 'imaging']),
    loinc: z.array(loincCode),
    modality: z.enum(IMAGING_MODALITIES).optional(),
    studyCodes: z.array(z.string().min(1)).optional(),
    bodySite: z.array(z.string().min(1)).optional(),
    validityDays: z.number().int().min(1).max(3650),
    sensitive: z.boolean().optional(),
    priceCny: z.number().min(0).max(1_000_000).optional(),
  })
  .superRefine((item, ctx) => {
    const dup = (list: string[] | undefined, field: string, norm: (s: string) => string = (s) => s) => {
      const seen = new Set<string>();
      list?.forEach((v, i) => {
        if (seen.has(norm(v))) ctx.addIssue({ code: 'custom', path: [field, i], message: `"${v}" is listed twice` });
        seen.add(norm(v));
      });
    };
    dup(item.loinc, 'loinc');
    dup(item.studyCodes, 'studyCodes', (s) => s.toUpperCase());
    if (item.category === 'lab') {
      if (item.loinc.length === 0) ctx.addIssue({ code: 'custom', path: ['loinc'], message: 'a lab item needs at least one LOINC code' });
      for (const f of ['modality', 'studyCodes', 'bodySite'] as const) {
        if (item[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only imaging items have this field' });
      }
    } else {
      if (!item.modality) ctx.addIssue({ code: 'custom', path: ['modality'], message: 'an imaging item needs its DICOM modality' });
      if (item.loinc.length === 0 && !item.studyCodes?.length && !item.bodySite?.length) {
        ctx.addIssue({ code: 'custom', path: ['studyCodes'], message: 'an imaging item needs LOINC codes, study codes or body site words to be matched' });
      }
    }
  });

const catalogSchema = z.array(itemSchema).superRefine((items, ctx) => {
  const codes = new Map<string, number>();
  items.forEach((item, i) => {
    const first = codes.get(item.code);
    if (first !== undefined) ctx.addIssue({ code: 'custom', path: [i, 'code'], message: `duplicate item code ${item.code} (also catalog[${first}])` });
    else codes.set(item.code, i);
  });
});

function formatPath(p: readonly PropertyKey[]): string {
  let out = 'catalog';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : `.${String(seg)}`;
  return out;
}

/**
 * Validate a parsed catalogue. Throws a {@link ConfigError} whose problems each name the item index
 * and field. The returned items are frozen.
 */
export function parseCatalog(raw: unknown, source = 'catalog'): CatalogItem[] {
  const result = catalogSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(
      result.error.issues.map((i) => {
        const code = typeof i.path[0] === 'number' ? (raw as Array<{ code?: unknown }>)[i.path[0]]?.code : undefined;
        return `${source}: ${formatPath(i.path)}${typeof code === 'string' ? ` (${code})` : ''}: ${i.message}`;
      }),
    );
  }
  return result.data.map((item) => deepFreeze(item as CatalogItem));
}

/**
 * Load and validate the catalogue file (API.md §2 `catalog`); the built-in
 * {@link DEFAULT_CATALOG_FILE} when no file is given.
 */
export function loadCatalog(file?: string): CatalogItem[] {
  const target = file ?? DEFAULT_CATALOG_FILE;
  let text: string;
  try {
    text = readFileSync(target, 'utf8');
  } catch (e) {
    throw new ConfigError([`${target}: the catalog cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`${target}: the catalog is not valid JSON (${(e as Error).message})`]);
  }
  return parseCatalog(raw, target);
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
