import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { adapterConfigSchema, DEFAULT_CANONICAL_BASE, knexConfig, type AdapterConfig } from '../adapters/adapter-config';

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
  /** the hospital's PACS, whose images the gateway's DICOMweb proxy serves (docs/adapters.md "DICOMweb") */
  pacs: z
    .strictObject({
      /** the PACS's DICOMweb base (QIDO-RS and WADO-RS below it: `<base>/studies`) */
      dicomweb: z.url(),
      /** deadline for the PACS to start answering, ms (default: the hospital's timeout) */
      timeoutMs: z.number().int().min(50).max(120_000).optional(),
    })
    .optional(),
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

/**
 * A SMART app people sign in to (SMART App Launch: a public client with PKCE). The console
 * (`xzq-console`, redirect `<publicBaseUrl>/console/`) is registered always; more may be named here.
 * Redirect URIs are compared exactly (no prefix, no normalisation): nothing else is ever redirected to.
 */
const appSchema = z.strictObject({
  id: z.string().regex(/^[A-Za-z0-9._-]{2,64}$/, 'must match [A-Za-z0-9._-]{2,64}'),
  name: z.string().min(1),
  redirectUris: z.array(z.url()).min(1),
});

/** The key source (gateway/auth/key-source.ts): private key files a KMS or HSM source could replace. */
const keysSchema = z.strictObject({
  /** the access-token signing keys, one `<kid>.private.jwk.json` each (mode 0600); the newest signs */
  directory: z.string().min(1),
  /** the audit checkpoint key, Ed25519 PKCS#8 PEM (mode 0600); default `<directory>/audit-checkpoint.private.pem` */
  auditKey: z.string().min(1).optional(),
  /** public PEMs of earlier checkpoint keys, so the checkpoints they signed still verify */
  auditVerifyKeys: z.array(z.string().min(1)).default([]),
  /** a key file or folder group or others may access: refuse to start (default) or only warn */
  loosePermissions: z.enum(['refuse', 'warn']).default('refuse'),
});

const checkpointsSchema = z.strictObject({
  /** one checkpoint per slot of this length (and one at shutdown) */
  intervalSeconds: z.number().int().min(1).max(86_400).default(300),
  /** the write-once copy outside the database: an append-only JSON-lines file */
  anchor: z.discriminatedUnion('type', [z.strictObject({ type: z.literal('file'), path: z.string().min(1) })]),
});

/** the canonical base of the gateway's own definitions when the configuration names none (defined beside the adapter schema, which needs it too) */
export { DEFAULT_CANONICAL_BASE };

/** The console's client id: a public SMART app the gateway registers itself. */
export const CONSOLE_APP_ID = 'xzq-console';

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
      })
      .default({ tokenLifetimeSeconds: 300 }),
    /** where the gateway's private keys are (docs/auth.md §9): files, never the database; required to start */
    keys: keysSchema.optional(),
    audit: z
      .strictObject({
        /** how long events are kept before they may be archived (never deleted through the API) */
        retentionDays: z.number().int().min(1095).default(1095),
        /** signed checkpoints of the chain head, anchored outside the database (docs/audit.md §3); required to start */
        checkpoints: checkpointsSchema.optional(),
      })
      .default({ retentionDays: 1095 }),
    /** registered SMART apps for people, beside the built-in console (docs/users.md) */
    apps: z.array(appSchema).default([]),
    /** user sign-in (docs/users.md): lock-out and session lifetimes */
    signIn: z
      .strictObject({
        /** consecutive failed passwords that lock an account */
        maxFailures: z.number().int().min(3).max(20).default(5),
        lockMinutes: z.number().int().min(1).max(1440).default(15),
        /** a session without a token refresh for this long has ended */
        sessionIdleMinutes: z.number().int().min(5).max(240).default(30),
        /** a session ends this long after sign-in, whatever its use */
        sessionMaxHours: z.number().int().min(1).max(24).default(8),
        /** failed sign-ins from one address per 15 minutes before it is refused for a while (per instance) */
        maxFailuresPerAddress: z.number().int().min(5).max(1000).default(30),
      })
      .default({ maxFailures: 5, lockMinutes: 15, sessionIdleMinutes: 30, sessionMaxHours: 8, maxFailuresPerAddress: 30 }),
    /** per-client request rate limit (429 with Retry-After beyond it); absent = no limit */
    rateLimit: z
      .strictObject({ requestsPerSecond: z.number().positive(), burst: z.number().int().min(1) })
      .optional(),
    /**
     * how many audited requests one process works on at once (gateway/http/admission.ts; metrics and
     * the OAuth endpoints never wait): the limit moves between min and max with the event loop's
     * load; beyond maxQueue waiting, 503 at once
     */
    admission: z
      .strictObject({
        minConcurrency: z.number().int().min(1).max(10_000).default(4),
        maxConcurrency: z.number().int().min(1).max(10_000).default(512),
        maxQueue: z.number().int().min(0).max(1_000_000).default(2048),
      })
      .refine((a) => a.minConcurrency <= a.maxConcurrency, { message: 'minConcurrency must not exceed maxConcurrency', path: ['minConcurrency'] })
      .default({ minConcurrency: 4, maxConcurrency: 512, maxQueue: 2048 }),
    /** default per-hospital timeout, ms */
    hospitalTimeoutMs: z.number().int().min(50).max(120_000).default(3000),
  })
  .superRefine((cfg, ctx) => {
    const ids = new Set<string>();
    cfg.hospitals.forEach((h, i) => {
      if (ids.has(h.id)) ctx.addIssue({ code: 'custom', path: ['hospitals', i, 'id'], message: `duplicate hospital id ${h.id}` });
      ids.add(h.id);
    });
    const clientIds = new Set<string>([CONSOLE_APP_ID]);
    cfg.apps.forEach((a, i) => {
      if (clientIds.has(a.id)) ctx.addIssue({ code: 'custom', path: ['apps', i, 'id'], message: `duplicate client id ${a.id}` });
      clientIds.add(a.id);
    });
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
export type AppConfig = GatewayConfig['apps'][number];
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
        ? { ...a, inbox: abs(a.inbox), codeMap, ...(a.mllp?.tls ? { mllp: { ...a.mllp, tls: { ...a.mllp.tls, key: abs(a.mllp.tls.key), cert: abs(a.mllp.tls.cert), ca: a.mllp.tls.ca && abs(a.mllp.tls.ca) } } } : {}) }
        : a.type === 'sql'
          ? { ...a, connection: resolveDb(a.connection) as typeof a.connection, codeMap }
          : a.type === 'cda'
            ? { ...a, documents: abs(a.documents), codeMap }
            : { ...a, codeMap };
    return { ...h, adapter };
  });
  const out = {
    ...cfg,
    database: database as GatewayConfig['database'],
    catalog: cfg.catalog ? abs(cfg.catalog) : undefined,
    hospitals,
    keys: cfg.keys && {
      ...cfg.keys,
      directory: abs(cfg.keys.directory),
      auditKey: abs(cfg.keys.auditKey ?? path.join(cfg.keys.directory, 'audit-checkpoint.private.pem')),
      auditVerifyKeys: cfg.keys.auditVerifyKeys.map(abs),
    },
    audit: {
      ...cfg.audit,
      checkpoints: cfg.audit.checkpoints && { ...cfg.audit.checkpoints, anchor: { ...cfg.audit.checkpoints.anchor, path: abs(cfg.audit.checkpoints.anchor.path) } },
    },
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
