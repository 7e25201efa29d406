import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { adapterConfigSchema, knexConfig, type AdapterConfig } from '../adapters/adapter-config';

/**
 * The configuration file of API.md §2: validated once, frozen, the only place that reads
 * `process.env`. Errors name every bad field by its path (`hospitals[2].grade: …`).
 */

const hospitalId = z.string().regex(/^[a-z0-9-]{2,40}$/, 'must match [a-z0-9-]{2,40}');
export const GRADES = ['3A', '3B', '3C', '2A', '2B', '2C', '1A', '1B', '1C'] as const;
export const CITIES = { '350200': 'Xiamen', '350600': 'Zhangzhou', '350500': 'Quanzhou' } as const;
/** The same cities as clinicians read them. */
export const CITY_NAMES_ZH: Readonly<Record<string, string>> = { '350200': '厦门市', '350600': '漳州市', '350500': '泉州市' };

const recognitionMark = z.strictObject({
  /** province | city | alliance */
  scope: z.enum(['national', 'province', 'city', 'alliance']),
  /** division code of the region, or the alliance's identifier */
  region: z.string().min(1),
  /** the mark as printed on reports, e.g. 闽HR */
  text: z.string().min(1),
});

const hospitalSchema = z.strictObject({
  id: hospitalId,
  name: z.string().min(1),
  city: z.enum(Object.keys(CITIES) as [keyof typeof CITIES, ...(keyof typeof CITIES)[]]),
  grade: z.enum(GRADES),
  recognizedItems: z.array(z.string().min(1)).default([]),
  recognitionMark: recognitionMark.optional(),
  /** unified social credit code or legacy institution code (WS 218) */
  institutionCode: z.string().optional(),
  timeoutMs: z.number().int().min(50).max(120_000).optional(),
  adapter: adapterConfigSchema,
});

const jwk = z.object({ kty: z.string(), kid: z.string().optional() }).catchall(z.unknown());
export const ROLES = ['clinician', 'registrar', 'auditor', 'monitor'] as const;
const clientSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{2,64}$/, 'must match [A-Za-z0-9._-]{2,64}'),
  name: z.string().optional(),
  hospital: hospitalId.optional(),
  roles: z.array(z.enum(ROLES)).min(1),
  jwks: z.strictObject({ keys: z.array(jwk).min(1) }),
});

/** the canonical base of the gateway's own definitions when the configuration names none */
export const DEFAULT_CANONICAL_BASE = 'https://hie.xzq.example/fhir';

export const configSchema = z
  .strictObject({
    publicBaseUrl: z.url().transform((u) => u.replace(/\/+$/, '')),
    canonicalBase: z
      .url()
      .default(DEFAULT_CANONICAL_BASE)
      .transform((u) => u.replace(/\/+$/, '')),
    database: knexConfig.default({ client: 'sqlite3', connection: { filename: 'data/gateway.sqlite' } }),
    consent: z.strictObject({ default: z.enum(['deny', 'permit']).default('deny') }).default({ default: 'deny' }),
    catalog: z.string().optional(),
    hospitals: z.array(hospitalSchema).min(1),
    clients: z.array(clientSchema).default([]),
    auth: z
      .strictObject({
        /** lifetime of access tokens, seconds (API.md §3: at most 300) */
        tokenLifetimeSeconds: z.number().int().min(30).max(300).default(300),
        /** the gateway's signing key as a private JWK; generated and kept in the database when absent */
        signingKey: jwk.optional(),
      })
      .default({ tokenLifetimeSeconds: 300 }),
    audit: z
      .strictObject({
        /** how long events are kept before they may be archived (never deleted through the API) */
        retentionDays: z.number().int().min(1095).default(1095),
      })
      .default({ retentionDays: 1095 }),
    /** per-client request rate limit (429 with Retry-After beyond it); absent = no limit */
    rateLimit: z
      .strictObject({ requestsPerSecond: z.number().positive(), burst: z.number().int().min(1) })
      .optional(),
    /** default per-hospital timeout, ms */
    hospitalTimeoutMs: z.number().int().min(50).max(120_000).default(3000),
  })
  .superRefine((cfg, ctx) => {
    const ids = new Set<string>();
    cfg.hospitals.forEach((h, i) => {
      if (ids.has(h.id)) ctx.addIssue({ code: 'custom', path: ['hospitals', i, 'id'], message: `duplicate hospital id ${h.id}` });
      ids.add(h.id);
    });
    const clientIds = new Set<string>();
    cfg.clients.forEach((c, i) => {
      if (clientIds.has(c.id)) ctx.addIssue({ code: 'custom', path: ['clients', i, 'id'], message: `duplicate client id ${c.id}` });
      clientIds.add(c.id);
      if (c.hospital && !ids.has(c.hospital)) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'hospital'], message: `unknown hospital ${c.hospital}` });
      }
      if ((c.roles.includes('clinician') || c.roles.includes('registrar')) && !c.hospital) {
        ctx.addIssue({ code: 'custom', path: ['clients', i, 'hospital'], message: 'clinician and registrar clients belong to a hospital' });
      }
    });
  });

export type GatewayConfig = Readonly<z.output<typeof configSchema>>;
export type HospitalConfig = GatewayConfig['hospitals'][number];
export type ClientConfig = GatewayConfig['clients'][number];
export type { AdapterConfig };
export type Role = (typeof ROLES)[number];
export type Grade = (typeof GRADES)[number];

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

function formatPath(p: readonly PropertyKey[]): string {
  let out = '';
  for (const seg of p) out += typeof seg === 'number' ? `[${seg}]` : out ? `.${String(seg)}` : String(seg);
  return out || '(root)';
}

/** Parse a DATABASE_URL (`postgres://…` or `sqlite:PATH`) into a knex configuration. */
export function databaseFromUrl(url: string): { client: 'sqlite3' | 'pg'; connection: unknown } {
  if (/^postgres(ql)?:\/\//.test(url)) return { client: 'pg', connection: url };
  if (url.startsWith('sqlite:')) return { client: 'sqlite3', connection: { filename: url.slice('sqlite:'.length) } };
  throw new ConfigError([`DATABASE_URL: must start with postgres:// or sqlite: (got a ${url.split(':')[0]}: URL)`]);
}

/**
 * Validate a configuration object. Relative file paths (codeMap, inbox, catalog, SQLite files) are
 * resolved against `baseDir` (the config file's folder). `env` overrides: PORT, DATABASE_URL.
 */
export function parseConfig(raw: unknown, opts: { baseDir?: string; env?: NodeJS.ProcessEnv } = {}): GatewayConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new ConfigError(result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`));
  }
  const cfg = result.data;
  const baseDir = opts.baseDir ?? process.cwd();
  const env = opts.env ?? {};
  const abs = (p: string) => (path.isAbsolute(p) ? p : path.resolve(baseDir, p));
  const resolveDb = (db: { client: string; [k: string]: unknown }) => {
    const conn = db.connection as { filename?: string } | undefined;
    if (db.client === 'sqlite3' && conn && typeof conn.filename === 'string' && conn.filename !== ':memory:') {
      return { ...db, connection: { ...conn, filename: abs(conn.filename) } };
    }
    return db;
  };
  const database = env.DATABASE_URL ? databaseFromUrl(env.DATABASE_URL) : resolveDb(cfg.database);
  const hospitals = cfg.hospitals.map((h) => {
    const a = h.adapter;
    const codeMap = a.codeMap ? abs(a.codeMap) : undefined;
    const adapter =
      a.type === 'hl7v2'
        ? { ...a, inbox: abs(a.inbox), codeMap }
        : a.type === 'sql'
          ? { ...a, connection: resolveDb(a.connection) as typeof a.connection, codeMap }
          : { ...a, codeMap };
    return { ...h, adapter };
  });
  const out = {
    ...cfg,
    database: database as GatewayConfig['database'],
    catalog: cfg.catalog ? abs(cfg.catalog) : undefined,
    hospitals,
  };
  return deepFreeze(out) as GatewayConfig;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ConfigError([`${file}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`]);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new ConfigError([`${file}: not valid JSON (${(e as Error).message})`]);
  }
  return parseConfig(raw, { baseDir: path.dirname(path.resolve(file)), env });
}

/** The listening port: env PORT, else 8080. */
export function portFromEnv(env: NodeJS.ProcessEnv = process.env, fallback = 8080): number {
  if (!env.PORT) return fallback;
  const port = Number(env.PORT);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError([`PORT: not a port number`]);
  return port;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o as object)) deepFreeze(v);
  }
  return o;
}
