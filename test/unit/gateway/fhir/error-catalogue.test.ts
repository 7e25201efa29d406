import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { OperationOutcome, OperationOutcomeIssue } from '@medplum/fhirtypes';
import { forbiddenField } from '../../../../consent/consent-validation';
import {
  ERROR_CODES,
  ERRORS,
  errorEntry,
  isErrorCode,
  statusesOf,
  type CodeWithStatus,
  type ErrorCode,
  type ErrorEntry,
} from '../../../../gateway/fhir/error-catalogue';
import {
  badGateway,
  badRequest,
  forbidden,
  hospitalFailureOutcome,
  methodNotAllowed,
  notAcceptable,
  notFound,
  OperationOutcomeError,
  payloadTooLarge,
  serverError,
  serviceUnavailable,
  suppressedOutcome,
  tooManyRequests,
  unauthorized,
  unprocessable,
  unsupportedMediaType,
} from '../../../../gateway/fhir/outcomes';
import { invalidResource } from '../../../../gateway/fhir/validator';

/**
 * One catalogue of error codes (gateway/fhir/error-catalogue.ts): every code the source passes to an
 * outcome builder is in it, with the status of the builder; docs/errors.md lists exactly the
 * catalogue; each entry is self-consistent; and each builder answers with what the catalogue says.
 */

const ROOT = path.resolve(__dirname, '..', '..', '..', '..');
const SOURCE_DIRS = ['gateway', 'consent', 'adapters'];
const CATALOGUE_FILE = path.join('gateway', 'fhir', 'error-catalogue.ts');
const CODE_FORM = /^[a-z]+(-[a-z]+)*$/;

// ---------------------------------------------------------------------------------------------
// Reading the source: the calls of the builders and the error codes they are given.

/** The builders that take an error code: their status (undefined: the first argument) and the code's argument position. */
const BUILDERS: Record<string, { status?: number; arg: number }> = {
  badRequest: { status: 400, arg: 2 },
  forbidden: { status: 403, arg: 1 },
  conflict: { status: 409, arg: 1 },
  notFound: { status: 404, arg: 1 },
  unprocessable: { status: 422, arg: 2 },
  serviceUnavailable: { status: 503, arg: 1 },
  badGateway: { status: 502, arg: 1 },
  invalidResource: { status: 422, arg: 1 },
  forbiddenField: { status: 403, arg: 2 },
  err: { arg: 1 }, // outcomes.ts: err(status, errorCode, …)
};

interface CodeUse {
  /** a code, or a template such as `hospital-${e.kind}` */
  code: string;
  template: boolean;
  /** the status the use implies, when it does */
  status?: number;
  where: string;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((d) => {
    const rel = path.join(dir, d.name);
    if (d.isDirectory()) return d.name === 'node_modules' ? [] : sourceFiles(rel);
    return d.name.endsWith('.ts') && !d.name.endsWith('.test.ts') && !d.name.endsWith('.d.ts') ? [rel] : [];
  });
}

/** Index just past the string or template literal starting at `i`. */
function skipLiteral(src: string, i: number): number {
  const quote = src[i];
  let j = i + 1;
  while (j < src.length && src[j] !== quote) {
    if (src[j] === '\\') j += 2;
    else if (quote === '`' && src.startsWith('${', j)) j = skipBalanced(src, j + 1);
    else j++;
  }
  return j + 1;
}

/** Index just past the bracket that closes the one at `i` (skipping literals and comments). */
function skipBalanced(src: string, i: number): number {
  let depth = 0;
  let j = i;
  while (j < src.length) {
    const c = src[j];
    if (c === "'" || c === '"' || c === '`') {
      j = skipLiteral(src, j);
      continue;
    }
    if (src.startsWith('//', j)) {
      j = src.indexOf('\n', j);
      if (j < 0) return src.length;
      continue;
    }
    if (src.startsWith('/*', j)) {
      j = src.indexOf('*/', j) + 2;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if (c === ')' || c === ']' || c === '}') {
      depth--;
      if (depth === 0) return j + 1;
    }
    j++;
  }
  return j;
}

/** The top-level arguments of the call whose `(` is at `open`, as source text. */
function callArguments(src: string, open: number): string[] {
  const end = skipBalanced(src, open) - 1;
  const args: string[] = [];
  let start = open + 1;
  let j = start;
  while (j < end) {
    const c = src[j];
    if (c === "'" || c === '"' || c === '`') j = skipLiteral(src, j);
    else if (c === '(' || c === '[' || c === '{') j = skipBalanced(src, j);
    else if (c === ',') {
      args.push(src.slice(start, j).trim());
      start = ++j;
    } else j++;
  }
  const last = src.slice(start, end).trim();
  if (last) args.push(last);
  return args;
}

/** A string or template literal's text, or undefined when `expr` is not one literal. */
function literal(expr: string): { text: string; template: boolean } | undefined {
  const m = /^'([^'\\]*)'$|^"([^"\\]*)"$|^`([^`\\]*)`$/.exec(expr.trim());
  if (!m) return undefined;
  if (m[3] !== undefined) return { text: m[3], template: m[3].includes('${') };
  return { text: m[1] ?? m[2], template: false };
}

const lineOf = (src: string, i: number) => src.slice(0, i).split('\n').length;

function codeUses(): CodeUse[] {
  const uses: CodeUse[] = [];
  const add = (expr: string | undefined, where: string, status?: number) => {
    const lit = expr === undefined ? undefined : literal(expr);
    if (lit) uses.push({ code: lit.text, template: lit.template, status, where });
  };
  for (const file of SOURCE_DIRS.flatMap(sourceFiles)) {
    if (file === CATALOGUE_FILE) continue;
    const src = readFileSync(path.join(ROOT, file), 'utf8');
    // builder calls: the literal at the error code's position
    for (const m of src.matchAll(/\b([A-Za-z]+)\s*\(/g)) {
      const builder = BUILDERS[m[1]];
      if (!builder || /\bfunction\s+$/.test(src.slice(Math.max(0, m.index - 10), m.index))) continue;
      const args = callArguments(src, m.index + m[0].length - 1);
      const status = builder.status ?? (args[0] && /^\d{3}$/.test(args[0]) ? Number(args[0]) : undefined);
      add(args[builder.arg], `${file}:${lineOf(src, m.index)} ${m[1]}`, status);
    }
    // `errorCode: '…'` (outcome options, validation problems) and `errorCode… = '…'` (defaults)
    for (const m of src.matchAll(/\berrorCode\s*(?::\s*([`'"][^`'"\n]*[`'"])|(?::[^=,)\n]*)?=\s*([`'"][^`'"\n]*[`'"]))/g)) {
      add(m[1] ?? m[2], `${file}:${lineOf(src, m.index)} errorCode`);
    }
    // the catalogue looked up by code
    for (const m of src.matchAll(/\berrorEntry\(\s*('[^']*')\s*\)/g)) add(m[1], `${file}:${lineOf(src, m.index)} errorEntry`);
  }
  return uses;
}

/** A template such as `hospital-${e.kind}` as a pattern over codes. */
const templatePattern = (t: string) =>
  new RegExp(`^${t.split(/\$\{[^}]*\}/).map((s) => s.replace(/[.*+?^$()|[\]\\]/g, '\\$&')).join('[a-z0-9-]+')}$`);

const uses = codeUses();

describe('every error code the source uses is catalogued', () => {
  test('the scan finds the builders (it is not vacuous)', () => {
    expect(uses.length).toBeGreaterThan(60);
    const found = new Set(uses.map((u) => u.code));
    for (const c of ['bad-request', 'invalid-date', 'consent-required', 'not-found', 'audit-unavailable', 'foreign-organization', 'unknown-actor', 'version-conflict', 'internal-error', 'consent-suppressed']) {
      expect(found).toContain(c);
    }
    expect(uses.some((u) => u.template && u.code.startsWith('hospital-'))).toBe(true);
    expect(uses.some((u) => u.template && u.code.startsWith('national-id-'))).toBe(true);
  });

  test('each literal code is in ERRORS, with the status of its builder', () => {
    const problems = uses
      .filter((u) => !u.template)
      .flatMap((u) => {
        if (!isErrorCode(u.code)) return [`${u.where}: '${u.code}' is not catalogued`];
        if (u.status !== undefined && !statusesOf(u.code).includes(u.status)) {
          return [`${u.where}: '${u.code}' is catalogued as ${statusesOf(u.code).join('/')}, used as ${u.status}`];
        }
        return [];
      });
    expect(problems).toEqual([]);
  });

  // Which values a template takes is the compiler's to check (the builders take only catalogued
  // codes of their status); here, that it stands for catalogued codes of the builder's status.
  const expansions = (u: CodeUse) =>
    ERROR_CODES.filter((c) => templatePattern(u.code).test(c) && (u.status === undefined || statusesOf(c).includes(u.status)));

  test('each templated code stands for catalogued codes of its builder status', () => {
    const problems = uses.filter((u) => u.template && !expansions(u).length).map((u) => `${u.where}: \`${u.code}\` matches no catalogued code`);
    expect(problems).toEqual([]);
  });

  test('bad-date is gone: invalid-date is the one code for a malformed date parameter', () => {
    expect(isErrorCode('bad-date')).toBe(false);
    expect(uses.filter((u) => u.code === 'bad-date')).toEqual([]);
  });

  test('every catalogued code is used somewhere (the catalogue holds no dead codes)', () => {
    const literals = new Set(uses.filter((u) => !u.template).map((u) => u.code));
    const templated = new Set(uses.filter((u) => u.template).flatMap(expansions));
    const unused = ERROR_CODES.filter((c) => !literals.has(c) && !templated.has(c));
    expect(unused).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// docs/errors.md

describe('docs/errors.md lists exactly the catalogue', () => {
  const doc = readFileSync(path.join(ROOT, 'docs', 'errors.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| `([^`]+)` \|([^|]*)\|([^|]*)\|([^|]*)\|\s*$/gm)].map((m) => ({
    code: m[1],
    status: m[2].trim(),
    issue: m[3].trim(),
    meaning: m[4].trim(),
  }));

  test('every catalogued code has a row, and every row a catalogued code, once', () => {
    const documented = rows.map((r) => r.code);
    expect([...documented].sort()).toEqual([...ERROR_CODES].sort());
  });

  test.each(rows.map((r) => [r.code, r] as const))('%s: the row gives the catalogued status and issue type', (code, row) => {
    if (!isErrorCode(code)) throw new Error(`${code} is not catalogued`);
    const entry: ErrorEntry = errorEntry(code);
    const statuses = [...row.status.matchAll(/\b\d{3}\b/g)].map((m) => Number(m[0]));
    expect(statuses).toEqual([...statusesOf(code), ...(entry.partial ? [200] : [])]);
    expect(row.issue).toBe(`\`${entry.issue}\``);
    expect(row.meaning).not.toBe('');
  });

  test('the README links it', () => {
    expect(readFileSync(path.join(ROOT, 'README.md'), 'utf8')).toContain('(docs/errors.md)');
  });
});

// ---------------------------------------------------------------------------------------------
// The catalogue itself

/** The FHIR issue types that fit each status. */
const ISSUE_TYPES_BY_STATUS: Record<number, readonly OperationOutcomeIssue['code'][]> = {
  200: ['suppressed', 'informational'],
  400: ['invalid', 'structure', 'required', 'value', 'invariant', 'code-invalid'],
  401: ['login', 'expired', 'unknown'],
  403: ['forbidden', 'security', 'suppressed'],
  404: ['not-found'],
  405: ['not-supported'],
  406: ['not-supported'],
  409: ['conflict', 'duplicate'],
  412: ['conflict'],
  413: ['too-long'],
  415: ['not-supported'],
  422: ['processing', 'business-rule', 'invalid', 'structure', 'required', 'value', 'invariant', 'code-invalid'],
  429: ['throttled'],
  500: ['exception'],
  502: ['transient', 'timeout', 'exception'],
  503: ['transient', 'timeout', 'exception', 'throttled'],
};

describe.each(ERROR_CODES.map((c) => [c, errorEntry(c)] as const))('%s', (code, entry) => {
  test('is a lower-case hyphenated code with a description', () => {
    expect(code).toMatch(CODE_FORM);
    expect(entry.text.length).toBeGreaterThan(10);
  });

  test('severity fits the status: error for a refusal, warning or information beside a 200 answer', () => {
    if (entry.status >= 400) expect(entry.severity).toBe('error');
    else {
      expect(entry.status).toBe(200);
      expect(['warning', 'information']).toContain(entry.severity);
      expect(entry.partial).toBeUndefined();
    }
  });

  test('the FHIR issue type fits every status the code is used with', () => {
    for (const s of statusesOf(code)) {
      expect(ISSUE_TYPES_BY_STATUS[s]).toBeDefined();
      expect(ISSUE_TYPES_BY_STATUS[s]).toContain(entry.issue);
    }
  });

  test('a code also reported beside a 200 answer is a 5xx whose issue type is the failure kind', () => {
    if (!entry.partial) return;
    expect(entry.status).toBeGreaterThanOrEqual(500);
    expect(entry.partial).toBe('warning');
    expect(code).toBe(`hospital-${entry.issue}`);
  });
});

// ---------------------------------------------------------------------------------------------
// The builders answer as catalogued

function issueOf(o: OperationOutcome): OperationOutcomeIssue {
  expect(o.resourceType).toBe('OperationOutcome');
  expect(o.issue).toHaveLength(1);
  return o.issue[0];
}

function expectCatalogued(e: OperationOutcomeError, code: ErrorCode, status: number): void {
  expect(e).toBeInstanceOf(OperationOutcomeError);
  expect(e.status).toBe(status);
  expect(statusesOf(code)).toContain(status);
  for (const issue of e.outcome.issue) {
    expect(issue.severity).toBe(ERRORS[code].severity);
    expect(issue.code).toBe(ERRORS[code].issue);
    expect(issue.details?.coding?.[0]?.code).toBe(code);
  }
}

const codesWithStatus = <S extends number>(s: S) => ERROR_CODES.filter((c) => statusesOf(c).includes(s)) as CodeWithStatus<S>[];

describe('each builder answers with the status, issue type and code of its catalogue entry', () => {
  test.each<[string, () => OperationOutcomeError, ErrorCode, number]>([
    ['badRequest()', () => badRequest('no'), 'bad-request', 400],
    ['unauthorized()', () => unauthorized(), 'unauthorized', 401],
    ['forbidden()', () => forbidden(), 'forbidden', 403],
    ['notFound()', () => notFound(), 'not-found', 404],
    ['methodNotAllowed()', () => methodNotAllowed('GET only'), 'method-not-allowed', 405],
    ['notAcceptable()', () => notAcceptable('JSON only'), 'not-acceptable', 406],
    ['payloadTooLarge()', () => payloadTooLarge('1 MiB'), 'payload-too-large', 413],
    ['unsupportedMediaType()', () => unsupportedMediaType('JSON only'), 'unsupported-media-type', 415],
    ['unprocessable()', () => unprocessable('no'), 'invalid-resource', 422],
    ['invalidResource()', () => invalidResource([{ text: 'no', expression: 'Consent' }]), 'invalid-resource', 422],
    ['tooManyRequests()', () => tooManyRequests(3), 'too-many-requests', 429],
    ['serverError()', () => serverError(), 'internal-error', 500],
    ['serviceUnavailable()', () => serviceUnavailable('later'), 'unavailable', 503],
    ['badGateway()', () => badGateway('PACS down'), 'pacs-unavailable', 502],
  ])('%s, its default code', (_name, build, code, status) => expectCatalogued(build(), code, status));

  test.each(codesWithStatus(400))('badRequest(…, %s)', (code) => {
    const e = badRequest('no', 'p', code);
    expectCatalogued(e, code, 400);
    expect(e.outcome.issue[0].expression).toEqual(['p']);
  });
  test.each(codesWithStatus(403))('forbidden(…, %s)', (code) => expectCatalogued(forbidden('no', code), code, 403));
  test.each(codesWithStatus(403))('forbiddenField(…, %s)', (code) => {
    const e = forbiddenField('no', 'Consent.organization', code);
    expectCatalogued(e, code, 403);
    expect(e.outcome.issue[0].expression).toEqual(['Consent.organization']);
  });
  test.each(codesWithStatus(404))('notFound(…, %s)', (code) => expectCatalogued(notFound('no', code), code, 404));
  test.each(codesWithStatus(422))('unprocessable(…, %s)', (code) => expectCatalogued(unprocessable('no', 'x', code), code, 422));
  test.each(codesWithStatus(422))('invalidResource(…, %s)', (code) => expectCatalogued(invalidResource([{ text: 'no', expression: 'x' }], code), code, 422));
  test.each(codesWithStatus(503))('serviceUnavailable(…, %s)', (code) => expectCatalogued(serviceUnavailable('no', code), code, 503));

  test('invalidResource: a problem may name its own code and a more specific issue type', () => {
    const e = invalidResource(
      [
        { text: 'a', expression: 'Consent.provision.type', code: 'value', errorCode: 'root-not-permit' },
        { text: 'b', expression: 'Consent.status' },
      ],
      'invalid-consent',
    );
    expect(e.status).toBe(422);
    expect(e.outcome.issue.map((i) => [i.severity, i.code, i.details?.coding?.[0]?.code])).toEqual([
      ['error', 'value', 'root-not-permit'],
      ['error', ERRORS['invalid-consent'].issue, 'invalid-consent'],
    ]);
  });

  test('the headers that go with 401 and 429', () => {
    expect(unauthorized().headers['WWW-Authenticate']).toMatch(/^Bearer /);
    expect(tooManyRequests(7).headers['Retry-After']).toBe('7');
  });

  test.each(['timeout', 'transient', 'exception'] as const)('hospitalFailureOutcome(…, %s): a warning whose issue type is the kind', (kind) => {
    const code = `hospital-${kind}` as const;
    const issue = issueOf(hospitalFailureOutcome('xm-zsh', kind, 'no answer'));
    expect(issue).toMatchObject({ severity: ERRORS[code].partial, code: kind, diagnostics: 'xm-zsh' });
    expect(issue.code).toBe(ERRORS[code].issue);
    expect(issue.details?.coding?.[0]?.code).toBe(code);
  });

  test('suppressedOutcome(): information, suppressed, consent-suppressed', () => {
    const issue = issueOf(suppressedOutcome());
    expect(issue).toMatchObject({ severity: ERRORS['consent-suppressed'].severity, code: ERRORS['consent-suppressed'].issue });
    expect(issue.details?.coding?.[0]?.code).toBe('consent-suppressed');
  });
});
