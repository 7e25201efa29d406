import { z } from 'zod';

/**
 * The `adapter` block of a hospital's configuration (API.md §2 "Adapters"): one form per kind of
 * hospital system. The gateway's configuration embeds it; adapters need nothing else of the gateway's.
 */

export const knexConfig = z
  .object({ client: z.enum(['sqlite3', 'pg']) })
  .catchall(z.unknown())
  .describe('a knex configuration');

const fhirAdapter = z.strictObject({
  type: z.literal('fhir'),
  baseUrl: z.url(),
  codeMap: z.string().optional(),
});
const hl7v2Adapter = z.strictObject({
  type: z.literal('hl7v2'),
  inbox: z.string().min(1),
  codeMap: z.string().optional(),
  /** How often the inbox is scanned for new files (ms); fs.watch is not reliable on every file system. */
  pollMs: z.number().int().min(50).max(60_000).optional(),
});
const sqlAdapter = z.strictObject({
  type: z.literal('sql'),
  connection: knexConfig,
  labView: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).optional(),
  imagingView: z.string().regex(/^[A-Za-z_][A-Za-z0-9_.]*$/).optional(),
  codeMap: z.string().optional(),
});
export const adapterConfigSchema = z.discriminatedUnion('type', [fhirAdapter, hl7v2Adapter, sqlAdapter]);

export type AdapterConfig = z.output<typeof adapterConfigSchema>;
