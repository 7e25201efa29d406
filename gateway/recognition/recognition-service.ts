// PLACEHOLDER: replaced by the recognition implementation.
import type { CatalogItem, PatientIndex, RecognitionService, ResultsService } from '../services';
import type { ServiceDeps } from '../service-deps';
export function createRecognitionService(
  _deps: ServiceDeps & { catalog: CatalogItem[]; results: ResultsService; patientIndex: PatientIndex },
): RecognitionService {
  throw new Error('not implemented');
}
