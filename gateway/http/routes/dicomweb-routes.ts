import type { WadoRequest } from '../../dicomweb/contract';
import { isDicomUid, parseFrames } from '../../dicomweb/wado-path';
import { badRequest } from '../../fhir/outcomes';
import { NATIONAL_ID_SYSTEM } from '../../patient-index/national-id';
import type { PatientData, Subject } from '../../patient-data/contract';
import { accessOf } from '../access';
import type { FhirRequest, FhirResponse, Route } from '../route';

/**
 * Images through the gateway (docs/adapters.md "DICOMweb", DICOM PS3.18): QIDO-RS
 * `GET /dicomweb/studies?PatientID=<regional id | national id>` answered from every hospital's
 * PACS and merged; WADO-RS below each ImagingStudy's own base, `/dicomweb/<ImagingStudy id>/studies/
 * <Study UID>[/series/<UID>[/instances/<UID>[/frames/<n,…>]]][/metadata|/rendered]` — the base
 * `ImagingStudy.endpoint` names — streamed from the study's PACS. Thin: every path and UID checked
 * here (400 `invalid-dicom-uid`), consent, labels and the PACS behind the guarded patient data.
 * Audited like every route: one AuditEvent per request (subtype `qido-rs` / `wado-rs`).
 */
const FHIR_ID = /^[A-Za-z0-9.-]{1,64}$/;
const QIDO_PARAMS = new Set(['PatientID', '00100020', 'StudyInstanceUID', '0020000D', 'ModalitiesInStudy', '00080061', 'limit', 'offset', 'includefield', 'fuzzymatching']);

const one = (req: FhirRequest, ...names: string[]): string | undefined => {
  const values = names.flatMap((n) => req.query[n] ?? []);
  if (values.length > 1) throw badRequest(`${names[0]} may be given once`, names[0], 'duplicate-parameter');
  return values[0];
};

/** A QIDO list value: `a,b` or `a\b` (PS3.18 §8.3.4.1). */
const list = (v: string | undefined) => (v === undefined ? undefined : v.split(/[,\\]/).map((s) => s.trim()).filter(Boolean));

function qidoSubject(req: FhirRequest): Subject {
  const id = one(req, 'PatientID', '00100020');
  if (!id) throw badRequest('PatientID (the regional patient id, or the national id) is required', 'PatientID', 'patient-required');
  if (/^\d{17}[\dXx]$/.test(id)) return { identifier: { system: NATIONAL_ID_SYSTEM, value: id.toUpperCase() }, param: 'PatientID' };
  if (!FHIR_ID.test(id)) throw badRequest('PatientID is not a patient id', 'PatientID');
  return { patientId: id };
}

const int = (req: FhirRequest, name: string, max: number): number | undefined => {
  const v = one(req, name);
  if (v === undefined) return undefined;
  if (!/^\d{1,6}$/.test(v) || Number(v) > max) throw badRequest(`${name} must be a whole number from 0 to ${max}`, name);
  return Number(v);
};

export function dicomwebRoutes(deps: { patientData: PatientData }): Route[] {
  const { patientData } = deps;

  const qido = async (req: FhirRequest): Promise<FhirResponse> => {
    const unknown = Object.keys(req.query).filter((k) => !QIDO_PARAMS.has(k));
    if (unknown.length) throw badRequest(`Unsupported QIDO-RS parameter ${unknown[0].slice(0, 64)}`, unknown[0].slice(0, 64));
    const subject = qidoSubject(req);
    const studyUids = list(one(req, 'StudyInstanceUID', '0020000D'));
    if (studyUids?.some((u) => !isDicomUid(u))) throw badRequest('StudyInstanceUID is not a DICOM UID', 'StudyInstanceUID', 'invalid-dicom-uid');
    const modalities = list(one(req, 'ModalitiesInStudy', '00080061'));
    const limit = int(req, 'limit', 1000);
    const offset = int(req, 'offset', 100_000) ?? 0;
    const found = await patientData.imagingStudies(accessOf(req), subject, { studyUids, modalities });
    const all = found?.datasets ?? [];
    const page = all.slice(offset, limit === undefined ? undefined : offset + limit);
    const headers: Record<string, string> = {};
    // PS3.18 §8.3.4.4: a Warning header when results are left out
    if (found?.failedHospitals.length) headers.Warning = `299 xzq-gateway "PACS did not answer: ${found.failedHospitals.join(', ')}"`;
    return { status: 200, body: JSON.stringify(page), contentType: 'application/dicom+json', headers };
  };

  const wado = (kind: WadoRequest['kind'], level: 'study' | 'series' | 'instance' | 'frames') => async (req: FhirRequest): Promise<FhirResponse> => {
    const p = req.params;
    if (!FHIR_ID.test(p.id ?? '')) throw badRequest('Not an ImagingStudy id', 'id', 'invalid-dicom-uid');
    const w: WadoRequest = { study: p.study, kind };
    if (level !== 'study') w.series = p.series;
    if (level === 'instance' || level === 'frames') w.instance = p.instance;
    if (level === 'frames') {
      const frames = parseFrames(p.frames);
      if (!frames) throw badRequest('Not a frame list (1, or 1,2,3)', 'frames', 'invalid-dicom-uid');
      w.frames = frames;
    }
    for (const uid of [w.study, w.series, w.instance]) {
      if (uid !== undefined && !isDicomUid(uid)) throw badRequest('Not a DICOM UID', 'uid', 'invalid-dicom-uid');
    }
    if (Object.keys(req.query).length) throw badRequest('WADO-RS takes no parameters here', Object.keys(req.query)[0].slice(0, 64));
    if (req.headers.accept) w.accept = req.headers.accept;
    const answer = await patientData.retrieveImages(accessOf(req), p.id, w);
    const headers: Record<string, string> = {};
    if (answer.contentLength) headers['Content-Length'] = answer.contentLength;
    return { status: answer.status, body: { stream: answer.body }, contentType: answer.contentType, headers };
  };

  const access = { kind: 'token' as const, resource: 'ImagingStudy', permission: 'r' as const };
  const route = (path: string, handler: (req: FhirRequest) => Promise<FhirResponse>): Route => ({
    method: 'GET',
    path,
    interaction: 'wado-rs',
    resourceType: 'ImagingStudy',
    access,
    audited: true,
    body: 'none',
    handler,
  });
  const study = '/dicomweb/:id/studies/:study';
  const series = `${study}/series/:series`;
  const instance = `${series}/instances/:instance`;
  const frames = `${instance}/frames/:frames`;
  return [
    {
      method: 'GET',
      path: '/dicomweb/studies',
      interaction: 'qido-rs',
      resourceType: 'ImagingStudy',
      access: { kind: 'token', resource: 'ImagingStudy', permission: 's' },
      audited: true,
      body: 'none',
      handler: qido,
    },
    route(study, wado('instances', 'study')),
    route(`${study}/metadata`, wado('metadata', 'study')),
    route(`${study}/rendered`, wado('rendered', 'study')),
    route(series, wado('instances', 'series')),
    route(`${series}/metadata`, wado('metadata', 'series')),
    route(`${series}/rendered`, wado('rendered', 'series')),
    route(instance, wado('instances', 'instance')),
    route(`${instance}/metadata`, wado('metadata', 'instance')),
    route(`${instance}/rendered`, wado('rendered', 'instance')),
    route(frames, wado('instances', 'frames')),
    route(`${frames}/rendered`, wado('rendered', 'frames')),
  ];
}
