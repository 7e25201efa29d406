/**
 * The code systems and codes the consent model reads (API.md §5). One place, so the decision, the
 * validation and the docs cannot drift apart.
 */

export const CONSENT_SCOPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/consentscope';
export const CONSENT_SCOPE_PRIVACY = 'patient-privacy';
export const LOINC_SYSTEM = 'http://loinc.org';
/** LOINC "Patient Consent" */
export const CONSENT_CATEGORY_LOINC = '59284-0';
export const PARTICIPATION_TYPE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
/** information recipient: the hospital that may receive the results */
export const RECIPIENT_ROLE = 'IRCP';
export const RESOURCE_TYPES_SYSTEM = 'http://hl7.org/fhir/resource-types';
export const CONFIDENTIALITY_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-Confidentiality';
export const ACT_CODE_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-ActCode';
export const NATIONAL_ID_SYSTEM = 'urn:oid:2.16.156.10011.1.3';

/** the recognition item code system under the canonical base (API.md §6) */
export const recognitionItemSystem = (canonicalBase: string) => `${canonicalBase}/CodeSystem/recognition-item`;

/** The result types a consent can name in `provision.class`. */
export const CONSENT_RESULT_TYPES = ['DiagnosticReport', 'Observation', 'ImagingStudy'] as const;

/** v3-Confidentiality codes: a result labelled with none of them is read as `N` (normal). */
export const CONFIDENTIALITY_CODES = new Set(['U', 'L', 'M', 'N', 'R', 'V']);
export const NORMAL_CONFIDENTIALITY = 'N';

/**
 * Labels that make a result sensitive: only a permit provision that names the label releases it,
 * and neither the opt-out default nor break-glass ever does. `R`/`V` are v3-Confidentiality; the
 * rest are v3-ActCode sensitivity codes (HIV, ethnicity, psychiatry, sexually transmitted disease,
 * substance use, sexuality and reproductive health, sickle cell, behavioural health).
 */
export const SENSITIVE_LABELS = new Set(['R', 'V', 'HIV', 'ETH', 'PSY', 'STD', 'SDV', 'SEX', 'SICKLE', 'BH']);

export const CONSENT_STATUSES = ['draft', 'proposed', 'active', 'rejected', 'inactive', 'entered-in-error'] as const;
export const PROVISION_TYPES = ['deny', 'permit'] as const;
