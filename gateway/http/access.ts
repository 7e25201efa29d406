import type { Access } from '../patient-data/contract';
import { unauthorized } from '../fhir/outcomes';
import type { FhirRequest } from './route';

/** The access context of an authenticated request, for the guarded patient data. */
export function accessOf(req: FhirRequest): Access {
  if (!req.requester) throw unauthorized();
  return { requester: req.requester, record: req.record };
}
