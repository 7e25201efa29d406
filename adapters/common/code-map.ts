import { readFile } from 'node:fs/promises';
import path from 'node:path';

/**
 * A hospital's code map (API.md §2 `codeMap`): local item, analyte or exam code →
 * `{loinc, display, unit?}`. Parsed once when the adapter starts; lookups are a Map get.
 */
export interface CodeMapEntry {
  loinc: string;
  display: string;
  /** the UCUM code to report when the hospital's own unit text is not valid UCUM */
  unit?: string;
}

export type CodeMap = ReadonlyMap<string, CodeMapEntry>;

export const EMPTY_CODE_MAP: CodeMap = new Map();

const LOINC_CODE = /^\d{1,7}-\d$/;

export class CodeMapError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CodeMapError';
  }
}

/** Validate a parsed code map object; errors name the offending key, never guess. */
export function parseCodeMap(raw: unknown, source = 'codeMap'): CodeMap {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CodeMapError(`${source}: must be a JSON object`);
  const out = new Map<string, CodeMapEntry>();
  for (const [code, value] of Object.entries(raw as Record<string, unknown>)) {
    const where = `${source}[${JSON.stringify(code)}]`;
    if (!value || typeof value !== 'object') throw new CodeMapError(`${where}: must be an object {loinc, display, unit?}`);
    const v = value as Record<string, unknown>;
    if (typeof v.loinc !== 'string' || !LOINC_CODE.test(v.loinc)) throw new CodeMapError(`${where}.loinc: must be a LOINC code like 718-7`);
    if (typeof v.display !== 'string' || !v.display.trim()) throw new CodeMapError(`${where}.display: must be a non-empty string`);
    if (v.unit !== undefined && (typeof v.unit !== 'string' || !v.unit.trim())) throw new CodeMapError(`${where}.unit: must be a UCUM code`);
    for (const k of Object.keys(v)) {
      if (!['loinc', 'display', 'unit'].includes(k)) throw new CodeMapError(`${where}.${k}: unknown key`);
    }
    out.set(code.trim(), { loinc: v.loinc, display: v.display, ...(v.unit ? { unit: (v.unit as string).trim() } : {}) });
  }
  return out;
}

/** Read and validate a code map file (async: called from `start()`, never on the request path). */
export async function loadCodeMap(file: string | undefined): Promise<CodeMap> {
  if (!file) return EMPTY_CODE_MAP;
  const name = path.basename(file);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new CodeMapError(`codeMap ${name}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new CodeMapError(`codeMap ${name}: not valid JSON`);
  }
  return parseCodeMap(raw, `codeMap ${name}`);
}
