import type { Logger } from 'pino';
import type { AdapterMetrics, HospitalAdapter } from './adapter';
import type { AdapterConfig } from './adapter-config';
import { FhirAdapter } from './fhir/fhir-adapter';
import { Hl7v2Adapter } from './hl7v2/hl7v2-adapter';
import { SqlAdapter } from './sql/sql-adapter';

/**
 * The one place that turns a hospital's `adapter` configuration (API.md §2 "Adapters") into its
 * {@link HospitalAdapter}. Nothing is opened here: call `start()` before use, `close()` at the end.
 */
export function createAdapter(hospital: { id: string; adapter: AdapterConfig }, deps: { log: Logger; metrics?: AdapterMetrics }): HospitalAdapter {
  const a = hospital.adapter;
  const log = deps.log.child({ hospital: hospital.id, adapter: a.type });
  switch (a.type) {
    case 'fhir':
      return new FhirAdapter({ hospitalId: hospital.id, baseUrl: a.baseUrl, codeMap: a.codeMap, log });
    case 'hl7v2':
      return new Hl7v2Adapter({ hospitalId: hospital.id, inbox: a.inbox, codeMap: a.codeMap, pollMs: a.pollMs, log, metrics: deps.metrics });
    case 'sql':
      return new SqlAdapter({ hospitalId: hospital.id, config: a, log });
    default: {
      const never: never = a;
      throw new Error(`unknown adapter type ${(never as { type?: string }).type}`);
    }
  }
}
