import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PURPOSE_OF_USE_SYSTEM } from '../auth/client-assertion';
import { importPrivateJwk, signJws } from '../auth/jws';
import { CLIENT_ASSERTION_TYPE, TOKEN_ENDPOINT_PATH } from '../auth/smart-configuration';

/**
 * `npm run token -- --client ID [--user-id ID] [--user-name NAME] [--purpose TREAT|ETREAT] [--scope "…"]`
 * `npm run token -- --client ID --cds SERVICE_ID`: instead, a CDS Hooks client JWT for that CDS
 * service (iss = client id, aud = the service URL; docs/cds-hooks.md), signed locally.
 * (API.md §1, demo network only): signs a SMART Backend Services client assertion with the fixture
 * client's private key, carrying the person under IHE IUA's names (API.md §3), asks the running
 * gateway for a token and prints the access token alone, so `TOKEN=$(npm run -s token -- …)` works.
 * Also the reference for a HIS integrator (docs/auth.md walks through the same steps).
 */

const ROOT = path.resolve(__dirname, '..', '..');
export const DEMO_CONFIG_FILE = path.join(ROOT, 'fixtures', 'demo-config.json');
export const DEMO_KEYS_DIR = path.join(ROOT, 'fixtures', 'clients');

export interface TokenCliArgs {
  client: string;
  userId?: string;
  userName?: string;
  purpose?: string;
  scope?: string;
  /** a CDS service id: print a CDS Hooks client JWT for it instead of asking for an access token */
  cds?: string;
}

export class UsageError extends Error {}

export const USAGE =
  'usage: npm run token -- --client ID [--user-id ID] [--user-name NAME] [--purpose TREAT|ETREAT|BTG] [--scope "system/Patient.rs …"] | --client ID --cds SERVICE_ID';

const FLAGS: Record<string, keyof TokenCliArgs> = {
  '--client': 'client',
  '--user-id': 'userId',
  '--user-name': 'userName',
  '--purpose': 'purpose',
  '--scope': 'scope',
  '--cds': 'cds',
};

/** Parse the command line (`--flag value` or `--flag=value`). Throws UsageError. */
export function parseTokenArgs(argv: readonly string[]): TokenCliArgs {
  const out: Partial<TokenCliArgs> = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const name = FLAGS[flag];
    if (!name) throw new UsageError(`unknown argument ${arg}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined || (eq < 0 && value.startsWith('--'))) throw new UsageError(`${flag} needs a value`);
    out[name] = value;
  }
  if (!out.client) throw new UsageError('--client is required');
  if (out.purpose !== undefined && !/^[A-Z]{2,12}$/.test(out.purpose)) throw new UsageError('--purpose must be a v3-ActReason code such as TREAT or ETREAT');
  return out as TokenCliArgs;
}

interface DemoClient {
  id: string;
  hospital?: string;
  roles: string[];
}

/** The person a demo client acts for unless told otherwise: a clinician of its hospital, or an auditor. */
export function defaultUser(client: DemoClient): { id: string; name: string; role?: { system: string; code: string; display: string } } | undefined {
  if (client.roles.includes('clinician') || client.roles.includes('registrar')) {
    return {
      id: 'D1029',
      name: '林医生',
      role: { system: 'http://terminology.hl7.org/CodeSystem/practitioner-role', code: 'doctor', display: 'Doctor' },
    };
  }
  if (client.roles.includes('auditor')) return { id: 'A0001', name: '王审计' };
  return undefined; // a monitor reads /metrics; no person
}

/**
 * A client assertion (API.md §3): iss = sub = client id, aud = the token endpoint, exp in 60 s,
 * a fresh jti, and the person under `extensions.ihe_iua`.
 */
export function buildClientAssertion(opts: {
  clientId: string;
  privateJwk: Record<string, unknown>;
  tokenEndpoint: string;
  user?: { id: string; name?: string; role?: { system: string; code: string; display?: string } };
  purposeOfUse?: string;
  nowSeconds?: number;
}): string {
  const key = importPrivateJwk(opts.privateJwk);
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  const iua: Record<string, unknown> = {};
  if (opts.user) {
    iua.subject_id = opts.user.id;
    if (opts.user.name) iua.subject_name = opts.user.name;
    if (opts.user.role) iua.subject_role = [opts.user.role];
  }
  iua.purpose_of_use = [{ system: PURPOSE_OF_USE_SYSTEM, code: opts.purposeOfUse ?? 'TREAT' }];
  const claims = {
    iss: opts.clientId,
    sub: opts.clientId,
    aud: opts.tokenEndpoint,
    iat: now,
    exp: now + 60,
    jti: randomUUID(),
    extensions: { ihe_iua: iua },
  };
  return signJws(claims, key, { typ: 'JWT' });
}

export interface RequestTokenOptions extends TokenCliArgs {
  /** the gateway to ask (env GATEWAY_URL); default: the config's publicBaseUrl */
  gatewayUrl?: string;
  /** env PORT, as the demo gateway applies it to publicBaseUrl, when no gatewayUrl is given */
  port?: string;
  configFile?: string;
  keysDir?: string;
}

const readJson = (file: string, what: string): unknown => {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new UsageError(`${what} not found: ${file}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new UsageError(`${what} is not valid JSON: ${file}`);
  }
};

/**
 * The core of `npm run token`: reads the demo config and the client's private JWK, discovers the
 * token endpoint from `/.well-known/smart-configuration` (its URL is the assertion's `aud`), asks
 * for a token and returns it. Throws with the gateway's OAuth error on refusal.
 */
export async function requestAccessToken(opts: RequestTokenOptions): Promise<string> {
  const config = readJson(opts.configFile ?? DEMO_CONFIG_FILE, 'configuration') as { publicBaseUrl?: string; clients?: DemoClient[] };
  const client = (config.clients ?? []).find((c) => c.id === opts.client);
  if (!client) {
    throw new UsageError(`unknown client ${opts.client}; configured: ${(config.clients ?? []).map((c) => c.id).join(', ')}`);
  }
  if (!/^[A-Za-z0-9._-]{2,64}$/.test(client.id)) throw new UsageError('bad client id');
  const privateJwk = readJson(path.join(opts.keysDir ?? DEMO_KEYS_DIR, `${client.id}.private.jwk.json`), 'private key') as Record<string, unknown>;
  const base = gatewayBase(opts.gatewayUrl, config.publicBaseUrl, opts.port);

  const discovery = await call(`${base}/.well-known/smart-configuration`, { headers: { accept: 'application/json' } });
  const tokenEndpoint = (discovery as { token_endpoint?: unknown }).token_endpoint;
  if (typeof tokenEndpoint !== 'string') throw new Error(`${base} did not name a token_endpoint`);

  const fallback = defaultUser(client);
  const user =
    opts.userId !== undefined
      ? { id: opts.userId, ...(opts.userName ? { name: opts.userName } : {}) }
      : fallback && { ...fallback, ...(opts.userName ? { name: opts.userName } : {}) };
  const assertion = buildClientAssertion({ clientId: client.id, privateJwk, tokenEndpoint, user, purposeOfUse: opts.purpose });
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_assertion_type: CLIENT_ASSERTION_TYPE,
    client_assertion: assertion,
    ...(opts.scope ? { scope: opts.scope } : {}),
  });
  // POST to the gateway we were pointed at; the assertion's aud stays the gateway's own URL
  const body = (await call(`${base}${TOKEN_ENDPOINT_PATH}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: form.toString(),
  })) as { access_token?: unknown };
  if (typeof body.access_token !== 'string') throw new Error('the gateway answered without an access_token');
  return body.access_token;
}

function gatewayBase(gatewayUrl: string | undefined, publicBaseUrl: string | undefined, port: string | undefined): string {
  let url: URL;
  try {
    url = new URL(gatewayUrl ?? publicBaseUrl ?? '');
  } catch {
    throw new UsageError('no usable gateway URL (set GATEWAY_URL, or publicBaseUrl in the configuration)');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError('the gateway URL must be http(s)');
  if (!gatewayUrl && port && /^\d{1,5}$/.test(port)) url.port = port;
  return url.toString().replace(/\/+$/, '');
}

async function call(url: string, init: RequestInit): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new Error(`cannot reach ${url} (${(e as Error).cause ? String(((e as Error).cause as Error).message ?? (e as Error).cause) : (e as Error).message}); is the gateway running (npm start)?`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Error(`${url} answered ${res.status} with a body that is not JSON`);
  }
  if (!res.ok) {
    const oauth = body as { error?: unknown; error_description?: unknown };
    throw new Error(`${url} answered ${res.status}: ${oauth.error ?? 'error'}${oauth.error_description ? ` (${oauth.error_description})` : ''}`);
  }
  return body;
}

/**
 * A CDS Hooks client JWT (CDS Hooks 2.0 "Trusting CDS Clients"): iss = the client id, aud = the CDS
 * service's URL, exp in 60 s, a fresh jti, kid in the header. Used once: the gateway refuses a replay.
 */
export function buildCdsClientJwt(opts: { clientId: string; privateJwk: Record<string, unknown>; serviceUrl: string; nowSeconds?: number }): string {
  const key = importPrivateJwk(opts.privateJwk);
  const now = opts.nowSeconds ?? Math.floor(Date.now() / 1000);
  return signJws({ iss: opts.clientId, aud: opts.serviceUrl, iat: now, exp: now + 60, jti: randomUUID() }, key, { typ: 'JWT' });
}

function cdsJwt(opts: RequestTokenOptions & { cds: string }): string {
  const config = readJson(opts.configFile ?? DEMO_CONFIG_FILE, 'configuration') as { publicBaseUrl?: string; clients?: DemoClient[] };
  const client = (config.clients ?? []).find((c) => c.id === opts.client);
  if (!client || !/^[A-Za-z0-9._-]{2,64}$/.test(client.id)) throw new UsageError(`unknown client ${opts.client}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.cds)) throw new UsageError('--cds must be a CDS service id (GET /cds-services lists them)');
  const privateJwk = readJson(path.join(opts.keysDir ?? DEMO_KEYS_DIR, `${client.id}.private.jwk.json`), 'private key') as Record<string, unknown>;
  // The aud is the gateway's own public URL for the service, as discovery names it.
  const base = gatewayBase(undefined, config.publicBaseUrl, opts.port);
  return buildCdsClientJwt({ clientId: client.id, privateJwk, serviceUrl: `${base}/cds-services/${opts.cds}` });
}

/** Run the command; returns the exit code. Only the token goes to stdout. */
export async function runTokenCli(
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  try {
    const args = parseTokenArgs(argv);
    const options = { ...args, gatewayUrl: env.GATEWAY_URL || undefined, port: env.PORT || undefined };
    const token = args.cds ? cdsJwt({ ...options, cds: args.cds }) : await requestAccessToken(options);
    io.stdout.write(`${token}\n`);
    return 0;
  } catch (e) {
    io.stderr.write(`token: ${(e as Error).message}\n`);
    if (e instanceof UsageError) io.stderr.write(`${USAGE}\n`);
    return 1;
  }
}

if (require.main === module) {
  // npm passes a lone `--` through when the user writes `npm run token -- --client …` via some shells
  const argv = process.argv.slice(2).filter((a, i) => !(i === 0 && a === '--'));
  void runTokenCli(argv, process.env, { stdout: process.stdout, stderr: process.stderr }).then((code) => {
    process.exitCode = code;
  });
}
