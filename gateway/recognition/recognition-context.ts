import type { Observation, Parameters, ParametersParameter } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../config';
import type { ResultResource } from '../../adapters/adapter';
import type { Clock } from '../context';
import type { FoundResult, PatientData } from '../patient-data/contract';
import type { CatalogItem } from './contract';
import type { Db } from '../storage/db';
import type { Annotate } from './annotate';
import type { ItemMatcher } from './item-matcher';
import type { RecognitionHospital } from './recognition-status';

/** What the recognition operations share: built once by createRecognitionOperations. */
export interface RecognitionContext {
  config: GatewayConfig;
  db: Db;
  clock: Clock;
  catalog: readonly CatalogItem[];
  byCode: ReadonlyMap<string, CatalogItem>;
  matcher: ItemMatcher;
  annotate: Annotate;
  hospitals: ReadonlyMap<string, RecognitionHospital>;
  /** the only way to the patient's results: consent, labels and the access record included */
  patientData: PatientData;
}

export const parameters = (parameter: ParametersParameter[]): Parameters => ({ resourceType: 'Parameters', parameter });

/** Every value of a repeatable query parameter, commas splitting values too, blanks dropped. */
export function queryValues(query: Record<string, string[]>, name: string): string[] {
  return (query[name] ?? []).flatMap((v) => v.split(',')).map((v) => v.trim()).filter(Boolean);
}

/**
 * The catalogue item of a found result: the one the results service matched, else matched here
 * (a report through the Observations found beside it).
 */
export function itemOf(ctx: RecognitionContext, found: FoundResult, observationsById: ReadonlyMap<string, Observation>): CatalogItem | undefined {
  if (found.item) return found.item;
  const r = found.resource;
  return ctx.matcher(r, r.resourceType === 'DiagnosticReport' ? membersOf(r, observationsById) : undefined);
}

/** A report's member Observations among those found (by `Observation/<id>`), in the report's order; none for other results. */
export function membersOf(resource: ResultResource, observationsById: ReadonlyMap<string, Observation>): Observation[] {
  if (resource.resourceType !== 'DiagnosticReport') return [];
  return (resource.result ?? []).map((ref) => observationsById.get(ref.reference ?? '')).filter((o): o is Observation => Boolean(o));
}

/** Found Observations by `Observation/<id>`, for matching reports through their members. */
export function observationsById(found: readonly FoundResult[]): Map<string, Observation> {
  const map = new Map<string, Observation>();
  for (const f of found) if (f.resource.resourceType === 'Observation' && f.resource.id) map.set(`Observation/${f.resource.id}`, f.resource);
  return map;
}
