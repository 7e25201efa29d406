import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { Logger } from 'pino';
import { badGateway, notAcceptable, notFound } from '../fhir/outcomes';
import type { DicomJsonDataset, PacsAnswer, PacsClient, WadoRequest } from './contract';
import { acceptFor, ReplaceStream, wadoPath } from './wado-path';

/**
 * The hospitals' PACS over DICOMweb (PS3.18): QIDO-RS for a study's attributes, WADO-RS passed
 * through as a stream. Each PACS has a deadline for its answer to start (its `timeoutMs`, else the
 * hospital's): a PACS that refuses, fails (5xx) or does not start answering in time is a 502
 * `pacs-unavailable`, never a hang. Once an answer streams, a PACS that stalls for longer than the
 * body idle time is cut off. Held by the guarded patient data alone (docs/patient-data.md).
 */
export interface PacsConfig {
  hospitalId: string;
  /** the DICOMweb base, e.g. `http://10.1.2.5:8042/dicom-web` */
  dicomweb: string;
  timeoutMs: number;
}

/** How long a started answer may stall before it is cut (a slow client pauses the PACS's socket too). */
const BODY_IDLE_MS = 60_000;
const MAX_QIDO_BYTES = 4 * 1024 * 1024;

/** A PACS as the client holds it: its base without a trailing slash, and how it is reached. */
interface Pacs extends PacsConfig {
  request: typeof http.request;
  agent: http.Agent;
}

export function createPacsClient(deps: { pacs: readonly PacsConfig[]; log: Logger }): PacsClient & { close(): void } {
  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 32 }), https: new https.Agent({ keepAlive: true, maxSockets: 32 }) };
  // the client library and connection pool of each PACS, chosen once by its base's scheme
  const byHospital = new Map(
    deps.pacs.map((p): [string, Pacs] => {
      const tls = /^https:/i.test(p.dicomweb);
      return [p.hospitalId, { ...p, dicomweb: p.dicomweb.replace(/\/+$/, ''), request: tls ? https.request : http.request, agent: tls ? agents.https : agents.http }];
    }),
  );
  const log = deps.log;

  /** GET one URL of a PACS; resolves with the answer once its headers are in, within the deadline. */
  function get(p: Pacs, path: string, accept: string): Promise<IncomingMessage> {
    const url = new URL(p.dicomweb + path);
    return new Promise<IncomingMessage>((resolve, reject) => {
      let settled = false;
      const fail = (reason: string, kind: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req.destroy();
        log.warn({ hospital: p.hospitalId, kind }, 'pacs call failed');
        reject(badGateway(`The PACS of hospital ${p.hospitalId} ${reason}`));
      };
      const req = p.request(url, { method: 'GET', headers: { Accept: accept }, agent: p.agent }, (res) => {
        if (settled) return void res.destroy();
        settled = true;
        clearTimeout(deadline);
        res.socket?.setTimeout(BODY_IDLE_MS, () => res.destroy(new Error('the PACS stalled')));
        resolve(res);
      });
      const deadline = setTimeout(() => fail(`did not answer within ${p.timeoutMs} ms`, 'timeout'), p.timeoutMs);
      req.on('error', (e) => fail(`could not be reached (${(e as NodeJS.ErrnoException).code ?? 'error'})`, 'transient'));
      req.end();
    });
  }

  /** Drain and drop an answer the gateway does not pass on. */
  const discard = (res: IncomingMessage) => {
    res.resume();
    res.on('error', () => undefined);
  };

  function pacsOf(hospitalId: string): Pacs {
    const p = byHospital.get(hospitalId);
    if (!p) throw notFound(`Hospital ${hospitalId} has no PACS connected to the gateway`);
    return p;
  }

  return {
    has: (hospitalId) => byHospital.has(hospitalId),
    baseOf: (hospitalId) => byHospital.get(hospitalId)?.dicomweb,

    async findStudy(hospitalId, studyUid) {
      const p = pacsOf(hospitalId);
      const res = await get(p, `/studies?StudyInstanceUID=${encodeURIComponent(studyUid)}`, 'application/dicom+json');
      if (res.statusCode === 204 || res.statusCode === 404) {
        discard(res);
        return [];
      }
      if (res.statusCode !== 200) {
        discard(res);
        throw badGateway(`The PACS of hospital ${hospitalId} answered ${res.statusCode}`);
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const c of res) {
        size += (c as Buffer).length;
        if (size > MAX_QIDO_BYTES) {
          res.destroy();
          throw badGateway(`The PACS of hospital ${hospitalId} answered a search with more than ${MAX_QIDO_BYTES} bytes`);
        }
        chunks.push(c as Buffer);
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(Buffer.concat(chunks).toString('utf8') || '[]');
      } catch {
        throw badGateway(`The PACS of hospital ${hospitalId} answered a search with something that is not DICOM JSON`);
      }
      if (!Array.isArray(parsed)) throw badGateway(`The PACS of hospital ${hospitalId} answered a search with something that is not DICOM JSON`);
      return parsed as DicomJsonDataset[];
    },

    async retrieve(hospitalId, req: WadoRequest, rewriteTo) {
      const p = pacsOf(hospitalId);
      const res = await get(p, wadoPath(req), acceptFor(req));
      const status = res.statusCode ?? 502;
      if (status === 404) {
        discard(res);
        throw notFound('The PACS has no such study, series, instance or frame');
      }
      if (status === 406) {
        discard(res);
        throw notAcceptable('The PACS cannot give this retrieval in the media type asked');
      }
      if (status !== 200 && status !== 206) {
        discard(res);
        throw badGateway(`The PACS of hospital ${hospitalId} answered ${status}`);
      }
      const contentType = String(res.headers['content-type'] ?? 'application/octet-stream');
      if (/json/i.test(contentType)) {
        // DICOM JSON names the PACS (BulkDataURI, RetrieveURL): rewritten, so no PACS address leaves the gateway
        const rewritten = res.pipe(new ReplaceStream(`${p.dicomweb}/studies/`, `${rewriteTo}/studies/`));
        res.on('error', (e) => rewritten.destroy(e));
        return { status, contentType, body: rewritten } satisfies PacsAnswer;
      }
      const answer: PacsAnswer = { status, contentType, body: res };
      if (res.headers['content-length']) answer.contentLength = String(res.headers['content-length']);
      return answer;
    },

    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}
