import { z } from 'zod';

/**
 * The `adapter` block of a hospital's configuration (API.md §2 "Adapters"): one form per kind of
 * hospital system. The gateway's configuration embeds it; adapters need nothing else of the gateway's.
 */

/** the canonical base of the gateway's own definitions when the configuration names none */
export const DEFAULT_CANONICAL_BASE = 'https://hie.xzq.example/fhir';

export const knexConfig = z
  .object({ client: z.enum(['sqlite3', 'pg']) })
  .catchall(z.unknown())
  .describe('a knex configuration');

const fhirAdapter = z.strictObject({
  type: z.literal('fhir'),
  baseUrl: z.url(),
  codeMap: z.string().optional(),
});
/** An MLLP listener beside the inbox (docs/adapters.md "MLLP"): received ORU^R01 messages are stored in the inbox before the ACK. */
const mllpListener = z.strictObject({
  host: z.string().min(1).default('0.0.0.0'),
  port: z.number().int().min(0).max(65535),
  /** TLS with client certificates: PEM files; without it the listener speaks plain TCP */
  tls: z
    .strictObject({ key: z.string().min(1), cert: z.string().min(1), ca: z.string().min(1).optional(), requireClientCertificate: z.boolean().default(true) })
    .optional(),
  /** MSH-4 sending facilities allowed to send; absent or empty = any */
  allowedFacilities: z.array(z.string().min(1)).default([]),
  maxMessageBytes: z.number().int().min(1024).max(64 * 1024 * 1024).default(1024 * 1024),
  idleTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
  maxConnections: z.number().int().min(1).max(1024).default(32),
});
const hl7v2Adapter = z.strictObject({
  type: z.literal('hl7v2'),
  inbox: z.string().min(1),
  codeMap: z.string().optional(),
  /** How often the inbox is scanned for new files (ms); fs.watch is not reliable on every file system. */
  pollMs: z.number().int().min(50).max(60_000).optional(),
  mllp: mllpListener.optional(),
});
const sqlAdapter = z.strictObject({
  type: z.literal('sql'),
  connection: knexConfig,
  labView: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).optional(),
  imagingView: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).optional(),
  codeMap: z.string().optional(),
});
/** WS/T 500 shared documents (CDA R2 lab and exam reports) in a folder (docs/adapters.md "cda"). */
const cdaAdapter = z.strictObject({
  type: z.literal('cda'),
  documents: z.string().min(1),
  codeMap: z.string().optional(),
  /** How often the folder is scanned for new documents (ms). */
  pollMs: z.number().int().min(50).max(60_000).optional(),
  /** documents larger than this are skipped (bytes) */
  maxDocumentBytes: z.number().int().min(1024).max(64 * 1024 * 1024).optional(),
});
export const adapterConfigSchema = z.discriminatedUnion('type', [fhirAdapter, hl7v2Adapter, sqlAdapter, cdaAdapter]);

export type AdapterConfig = z.output<typeof adapterConfigSchema>;
