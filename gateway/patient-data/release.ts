import type { Resource } from '@medplum/fhirtypes';

/**
 * Released patient data: every Patient and result object the guarded path (patient-data.ts) hands
 * out carries a mark only this module can set, and the HTTP layer sends a patient-data resource
 * only if it has it. A route that reached a hospital, the index or an adapter some other way would
 * have its answer refused, so the guarded path is the only path by construction, not by convention.
 *
 * The mark is a property under a symbol no other module holds: not enumerable (JSON, spread and
 * Object.assign leave it behind, so a copy is not released), not writable, not configurable (it
 * cannot be removed), and only an object's own mark counts (an object made with a released one as
 * its prototype is not released). It was a WeakSet: every released object an entry
 * of one ephemeron table, ~100 per search, which each young collection and each full marking had
 * to walk; measured in CPU profiles of the bench, release() and the table's upkeep were ~0.25 ms of
 * main-thread time per search, the mark ~0.08.
 */
const RELEASED: unique symbol = Symbol('xzq.released');

/** The resource types that are patient data for this rule (Consent and AuditEvent have their own owners and roles). */
export const PATIENT_DATA_TYPES: ReadonlySet<string> = new Set(['Patient', 'DiagnosticReport', 'Observation', 'ImagingStudy']);

export function release<T extends object>(resource: T): T {
  if (!isReleased(resource)) Object.defineProperty(resource, RELEASED, { value: true });
  return resource;
}

/** Whether this very object was released (its own mark: a copy, or an object inheriting from it, is not). */
export function isReleased(resource: object): boolean {
  return Object.hasOwn(resource, RELEASED);
}

/** The first patient-data resource in an answer that was not released, or undefined when there is none. */
export function unreleasedIn(body: unknown): string | undefined {
  const seen = (r: unknown): string | undefined => {
    if (!r || typeof r !== 'object') return undefined;
    const type = (r as Resource).resourceType;
    if (typeof type !== 'string') return undefined;
    if (PATIENT_DATA_TYPES.has(type)) return isReleased(r) ? undefined : type;
    if (type === 'Bundle') {
      for (const e of (r as { entry?: Array<{ resource?: unknown }> }).entry ?? []) {
        const u = seen(e?.resource);
        if (u) return u;
      }
    } else if (type === 'Parameters') {
      return inParameters((r as { parameter?: unknown[] }).parameter);
    }
    return undefined;
  };
  const inParameters = (list: unknown[] | undefined): string | undefined => {
    for (const p of list ?? []) {
      const q = p as { resource?: unknown; part?: unknown[] };
      const u = seen(q?.resource) ?? inParameters(q?.part);
      if (u) return u;
    }
    return undefined;
  };
  return seen(body);
}
