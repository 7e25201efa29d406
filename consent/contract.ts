import type { ResultType } from '../adapters/adapter';
import type { Requester } from '../gateway/context';

/** What consent looks at in one result. */
export interface ResultFacts {
  resourceType: ResultType;
  hospitalId: string;
  /** the clinically relevant time (gateway/fhir/result-time.ts), ISO 8601 */
  date?: string;
  catalogItem?: string;
  /** security label codes on the result (`R`, `HIV`, …), from meta.security */
  securityLabels: readonly string[];
}

export interface ConsentGate {
  /** true when only break-glass lets this requester in (no consent permits) */
  readonly breakGlass: boolean;
  permits(facts: ResultFacts): boolean;
}

export interface ConsentService {
  /** judge a requester's access to one patient; throws a 403 OperationOutcomeError when nothing permits */
  gateFor(patientId: string, requester: Requester): Promise<ConsentGate>;
  /** the same judgement without the refusal: null when nothing permits (identity answers, API.md §4) */
  gateIfPermitted(patientId: string, requester: Requester): Promise<ConsentGate | null>;
}
