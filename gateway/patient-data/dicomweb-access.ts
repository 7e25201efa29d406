import type { ImagingStudy } from '@medplum/fhirtypes';
import type { DicomJsonDataset, ImagingStudyFilter, ImagingStudySearch, PacsAnswer, PacsClient, WadoRequest } from '../dicomweb/contract';
import { studyDicomwebBase, studyUidOf } from '../dicomweb/endpoint';
import { isDicomUid } from '../dicomweb/wado-path';
import { badGateway, badRequest, isOperationOutcomeError, notFound } from '../fhir/outcomes';
import type { Access, PatientData, Subject } from './contract';

/**
 * Images through the gateway (docs/adapters.md "DICOMweb"), on the guarded path: a PACS is asked
 * only about a study whose ImagingStudy this requester was just released — by the same
 * `results`/`readResult` as any ImagingStudy, so consent, security labels, break-glass and the
 * access record (the audit event's patient, hospital and ImagingStudy) are exactly theirs.
 */

const tag = (vr: string, value: unknown): { vr: string; Value: unknown[] } => ({ vr, Value: [value] });

/**
 * QIDO-RS: the PACS's descriptions of the patient's released ImagingStudies that match the filter,
 * in gateway form; null when no hospital knows the patient, 502 when nothing was found because
 * PACS failed (with some found, `failedHospitals` names the ones missing).
 */
export async function findImagingStudies(
  data: Pick<PatientData, 'results'>,
  pacs: PacsClient | undefined,
  publicBaseUrl: string,
  access: Access,
  subject: Subject,
  filter: ImagingStudyFilter,
): Promise<ImagingStudySearch | null> {
  const found = await data.results(access, subject, ['ImagingStudy']);
  if (!found) return null;
  const wanted = found.results.flatMap((f) => {
    const study = f.resource as ImagingStudy;
    const uid = f.resource.resourceType === 'ImagingStudy' ? studyUidOf(study) : undefined;
    if (!uid || !study.id || !pacs?.has(f.hospitalId)) return [];
    if (filter.studyUids?.length && !filter.studyUids.includes(uid)) return [];
    if (filter.modalities?.length) {
      const modalities = [...(study.modality ?? []), ...(study.series ?? []).map((s) => s.modality)].map((m) => m?.code);
      if (!filter.modalities.some((m) => modalities.includes(m))) return [];
    }
    return [{ uid, study, hospitalId: f.hospitalId }];
  });
  const failed = new Set<string>();
  const answers = await Promise.all(
    wanted.map(async (w) => {
      try {
        const sets = await pacs!.findStudy(w.hospitalId, w.uid);
        // only the study asked for, whatever else the PACS answers
        return sets.filter((d) => d['0020000D']?.Value?.[0] === w.uid).slice(0, 1).map((d) => ({ d, w }));
      } catch (e) {
        if (!isOperationOutcomeError(e)) throw e;
        failed.add(w.hospitalId);
        return [];
      }
    }),
  );
  const hits = answers.flat();
  const datasets = hits.map(({ d, w }) => {
    const out: DicomJsonDataset = { ...d };
    out['00081190'] = tag('UR', `${studyDicomwebBase(publicBaseUrl, w.study.id!)}/studies/${w.uid}`);
    out['00100020'] = tag('LO', found.patientId);
    delete out['00100021']; // the PACS's issuer of patient id: the id is the region's now
    return out;
  });
  // the audit trail names the hospitals whose images' descriptions were returned
  access.record.hospitalsReturned.clear();
  for (const { w } of hits) access.record.hospitalsReturned.add(w.hospitalId);
  // nothing found, and PACS failed: the search failed (beside any answer the caller says who is missing)
  if (!hits.length && failed.size) throw badGateway(`The PACS of ${[...failed].join(', ')} did not answer`);
  return { patientId: found.patientId, datasets, failedHospitals: [...failed] };
}

/**
 * One WADO-RS retrieval of the study an ImagingStudy (gateway id) describes: 404 when the study
 * UID asked is not that study's (a UID of another resident's study included), 403 when consent or a
 * label withholds the ImagingStudy, 502 when the PACS fails; otherwise the PACS's answer, started.
 */
export async function retrieveStudyImages(
  data: Pick<PatientData, 'readResult'>,
  pacs: PacsClient | undefined,
  publicBaseUrl: string,
  access: Access,
  imagingStudyId: string,
  req: WadoRequest,
): Promise<PacsAnswer> {
  for (const uid of [req.study, req.series, req.instance]) {
    if (uid !== undefined && !isDicomUid(uid)) throw badRequest('Not a DICOM UID', 'uid', 'invalid-dicom-uid');
  }
  const found = await data.readResult(access, 'ImagingStudy', imagingStudyId);
  const study = found.resource as ImagingStudy;
  if (studyUidOf(study) !== req.study) throw notFound('No such study for this ImagingStudy');
  if (study.status === 'cancelled' || study.status === 'entered-in-error') throw notFound('The study was cancelled');
  if (!pacs?.has(found.hospitalId)) throw notFound(`Hospital ${found.hospitalId} has no PACS connected to the gateway`);
  return pacs.retrieve(found.hospitalId, req, studyDicomwebBase(publicBaseUrl, study.id!));
}
