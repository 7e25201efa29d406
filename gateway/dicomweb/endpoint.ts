import type { Endpoint, ImagingStudy } from '@medplum/fhirtypes';
import { DICOM_UID_SYSTEM } from '../../adapters/common/systems';

/**
 * Where a released ImagingStudy's images are (API.md §4 as extended in docs/adapters.md
 * "DICOMweb"): the gateway's own WADO-RS base for that study, `<publicBaseUrl>/dicomweb/<ImagingStudy
 * id>`, as a contained R4 Endpoint (`connectionType` dicom-wado-rs) that `ImagingStudy.endpoint`
 * references. A client appends `/studies/<Study Instance UID>…` to `address`, as to any WADO-RS base.
 */
export const ENDPOINT_CONNECTION_TYPE = 'http://terminology.hl7.org/CodeSystem/endpoint-connection-type';

/** The per-study WADO-RS base of an ImagingStudy (gateway id). */
export const studyDicomwebBase = (publicBaseUrl: string, imagingStudyId: string) => `${publicBaseUrl}/dicomweb/${imagingStudyId}`;

/** The Study Instance UID an ImagingStudy names (`urn:dicom:uid` identifier, `urn:oid:` value). */
export function studyUidOf(study: ImagingStudy): string | undefined {
  const v = study.identifier?.find((i) => i.system === DICOM_UID_SYSTEM)?.value;
  return v?.replace(/^urn:oid:/, '') || undefined;
}

/** Point a study in gateway form (id set) at the gateway's DICOMweb, in place; a study without a UID gets none. */
export function attachDicomwebEndpoint(study: ImagingStudy, publicBaseUrl: string): void {
  if (!studyUidOf(study) || !study.id) return;
  const endpoint: Endpoint = {
    resourceType: 'Endpoint',
    id: 'dicomweb',
    status: 'active',
    connectionType: { system: ENDPOINT_CONNECTION_TYPE, code: 'dicom-wado-rs', display: 'DICOM WADO-RS' },
    payloadType: [{ text: 'DICOM' }],
    payloadMimeType: ['application/dicom', 'application/dicom+json', 'image/jpeg'],
    address: studyDicomwebBase(publicBaseUrl, study.id),
  };
  study.contained = [...(study.contained ?? []).filter((r) => r.id !== 'dicomweb'), endpoint];
  study.endpoint = [{ reference: '#dicomweb' }];
}
