/**
 * Code systems and identifier systems the adapters write (API.md §4 "Every result the gateway
 * returns"). Local systems are URNs under `urn:xzq:` qualified by the hospital id, so two hospitals'
 * local codes never collide.
 */
export const LOINC = 'http://loinc.org';
export const UCUM = 'http://unitsofmeasure.org';
export const SNOMED = 'http://snomed.info/sct';
export const DICOM_DCM = 'http://dicom.nema.org/resources/ontology/DCM';
export const V2_0074 = 'http://terminology.hl7.org/CodeSystem/v2-0074';
export const V2_0203 = 'http://terminology.hl7.org/CodeSystem/v2-0203';
export const OBSERVATION_CATEGORY = 'http://terminology.hl7.org/CodeSystem/observation-category';
export const OBSERVATION_INTERPRETATION = 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation';
/** GB 11643 resident identity card number (WS/T 500 OID 2.16.156.10011.1.3) */
export const NATIONAL_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.3';
export const DICOM_UID_SYSTEM = 'urn:dicom:uid';

/** The hospital's own item/analyte/exam codes: `urn:xzq:local-code:<hospital id>`. */
export const localCodeSystem = (hospitalId: string) => `urn:xzq:local-code:${hospitalId}`;
/** Report (filler order) numbers: `urn:xzq:report-no:<hospital id>`. */
export const reportNumberSystem = (hospitalId: string) => `urn:xzq:report-no:${hospitalId}`;
/** Imaging accession numbers: `urn:xzq:accession-no:<hospital id>`. */
export const accessionNumberSystem = (hospitalId: string) => `urn:xzq:accession-no:${hospitalId}`;
/** Medical record numbers: `urn:xzq:mrn:<hospital id>`. */
export const mrnSystem = (hospitalId: string) => `urn:xzq:mrn:${hospitalId}`;
