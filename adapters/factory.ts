import type { Logger } from 'pino';
import type { AdapterMetrics, HospitalAdapter } from './adapter';
import { type AdapterConfig, DEFAULT_CANONICAL_BASE } from './adapter-config';
import { CdaAdapter } from './cda/cda-adapter';
import { FhirAdapter } from './fhir/fhir-adapter';
import { Hl7v2Adapter } from './hl7v2/hl7v2-adapter';
import { SqlAdapter } from './sql/sql-adapter';

/**
 * The one place that turns a hospital's `adapter` configuration (API.md §2 "Adapters") into its
 * {@link HospitalAdapter}. Nothing is opened here: call `start()` before use, `close()` at the end.
 */
export function createAdapter(
  hospital: { id: string; adapter: AdapterConfig },
  deps: { log: Logger; metrics?: AdapterMetrics; /** base of the gateway's StructureDefinitions (cda: the source-document extension) */ canonicalBase?: string },
): HospitalAdapter {
  const a = hospital.adapter;
  const log = deps.log.child({ hospital: hospital.id, adapter: a.type });
  switch (a.type) {
    case 'fhir':
      return new FhirAdapter({ hospitalId: hospital.id, baseUrl: a.baseUrl, codeMap: a.codeMap, log });
    case 'hl7v2':
      return new Hl7v2Adapter({ hospitalId: hospital.id, inbox: a.inbox, codeMap: a.codeMap, pollMs: a.pollMs, mllp: a.mllp, log, metrics: deps.metrics });
    case 'sql':
      return new SqlAdapter({ hospitalId: hospital.id, config: a, log });
    case 'cda':
      return new CdaAdapter({
        hospitalId: hospital.id,
        documents: a.documents,
        codeMap: a.codeMap,
        pollMs: a.pollMs,
        maxDocumentBytes: a.maxDocumentBytes,
        canonicalBase: deps.canonicalBase ?? DEFAULT_CANONICAL_BASE,
        log,
        metrics: deps.metrics,
      });
    default: {
      const never: never = a;
      throw new Error(`unknown adapter type ${(never as { type?: string }).type}`);
    }
  }
}
