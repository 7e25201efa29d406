// PLACEHOLDER: replaced by the consent implementation.
import type { ConsentService, PatientIndex } from '../gateway/services';
import type { ServiceDeps } from '../gateway/service-deps';
export function createConsentService(_deps: ServiceDeps & { patientIndex: PatientIndex }): ConsentService {
  throw new Error('not implemented');
}
