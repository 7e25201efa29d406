import type { Observation } from '@medplum/fhirtypes';
import type { ResultResource } from '../../adapters/adapter';

/** One item of the mutual-recognition catalogue (API.md §6; fixtures/catalog.json). */
export interface CatalogItem {
  code: string;
  display: string;
  category: 'lab' | 'imaging';
  /** LOINC codes: the panel's and its member analytes' */
  loinc: string[];
  /** imaging: DICOM modality (CT, MR, DX, US, …) */
  modality?: string;
  /** imaging: local or national study codes that identify the item (with the modality) */
  studyCodes?: string[];
  /** imaging: body part words/codes that tell one CT item from another */
  bodySite?: string[];
  validityDays: number;
  sensitive?: boolean;
  priceCny?: number;
}

/** What the rest of the gateway asks of recognition: which item a result is, and how it is judged. */
export interface RecognitionRules {
  readonly catalog: readonly CatalogItem[];
  itemByCode(code: string): CatalogItem | undefined;
  /** which catalog item a result is; a report may match through its member observations */
  matchItem(resource: ResultResource, members?: Observation[]): CatalogItem | undefined;
  /** adds the recognition extension, as judged for the requesting hospital, to `resource` */
  annotate(resource: ResultResource, item: CatalogItem | undefined, sourceHospitalId: string, requesterHospitalId: string | undefined, now: Date): void;
}
