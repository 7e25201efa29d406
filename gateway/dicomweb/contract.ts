import type { Readable } from 'node:stream';

/**
 * The DICOMweb domain (docs/adapters.md "DICOMweb"): the hospitals' PACS, reached only through the
 * guarded patient data (gateway/patient-data), which judges consent and labels on the study's
 * ImagingStudy before a PACS is asked for a byte. Nothing here knows HTTP routes or express.
 */

/** One WADO-RS retrieval: which resource of a study, and in which form. */
export interface WadoRequest {
  study: string;
  series?: string;
  instance?: string;
  /** frame numbers (1-based), instances only */
  frames?: number[];
  /** `instances`: the DICOM objects (multipart/related); `metadata`: DICOM JSON; `rendered`: a consumer image */
  kind: 'instances' | 'metadata' | 'rendered';
  /** the client's Accept header, narrowed to what the kind allows */
  accept?: string;
}

/** A PACS's answer, passed through: status, the headers worth passing and the body as it arrives. */
export interface PacsAnswer {
  status: number;
  contentType: string;
  contentLength?: string;
  body: Readable;
}

/** DICOM JSON (PS3.18 F.2): one dataset, attributes by tag. */
export type DicomJsonDataset = Record<string, { vr: string; Value?: unknown[]; BulkDataURI?: string; InlineBinary?: string }>;

export interface PacsClient {
  /** does the hospital have a PACS connected? */
  has(hospitalId: string): boolean;
  /** QIDO-RS: the study-level datasets the PACS has for one Study Instance UID ([] when none) */
  findStudy(hospitalId: string, studyUid: string): Promise<DicomJsonDataset[]>;
  /**
   * WADO-RS: the PACS's answer to one retrieval, started (headers received) within the PACS's
   * timeout; JSON answers have the PACS's URLs rewritten to `rewriteTo`. Throws 502 when the PACS
   * refuses, fails or does not answer in time.
   */
  retrieve(hospitalId: string, req: WadoRequest, rewriteTo: string): Promise<PacsAnswer>;
  /** the PACS base a JSON answer's URLs start with (to rewrite QIDO answers) */
  baseOf(hospitalId: string): string | undefined;
}

/** What a QIDO-RS search of one patient found (gateway/patient-data/dicomweb-access.ts). */
export interface ImagingStudySearch {
  patientId: string;
  /** study-level DICOM JSON, one per study, `RetrieveURL` the gateway's and `PatientID` the regional id */
  datasets: DicomJsonDataset[];
  /** hospitals whose PACS did not answer (their studies are left out) */
  failedHospitals: string[];
}

/** QIDO-RS matching the gateway applies to the released ImagingStudies before any PACS is asked. */
export interface ImagingStudyFilter {
  studyUids?: readonly string[];
  modalities?: readonly string[];
}
