import { randomUUID } from 'node:crypto';
import type { Bundle, Patient, ServiceRequest } from '@medplum/fhirtypes';
import type { Express } from 'express';
import request from 'supertest';
import { NATIONAL_ID_SYSTEM } from '../../gateway/patient-index/national-id';
import { signClientAssertion, type TestClient } from './auth';
import type { FeedbackEntry } from './cds-hooks-schema';

/**
 * A CDS Client as a hospital HIS would be one (CDS Hooks 2.0): it discovers the services, signs a
 * JWT per call with its own key (§Trusting CDS Clients), and builds `order-select` / `order-sign`
 * requests from the specification's examples, adapted to lab and imaging orders: the patient is
 * prefetched with the national id (or a record number of the HIS's hospital), the draft orders are
 * a `collection` Bundle of draft ServiceRequests coded in LOINC, the hospital's local code or the
 * recognition catalogue.
 *
 *   const cds = cdsClient({ app: net.app, client: demoClient(net.raw, 'xm-zsh-his'), publicBaseUrl, now });
 *   const res = await cds.call('recognition-order-select', orderSelect({ patient, orders: [cbc] }));
 */

export const LOINC = 'http://loinc.org';
export const ORDER_SELECT = 'recognition-order-select';
export const ORDER_SIGN = 'recognition-order-sign';
export const recognitionItemSystem = (canonicalBase: string) => `${canonicalBase}/CodeSystem/recognition-item`;
export const retestReasonSystem = (canonicalBase: string) => `${canonicalBase}/CodeSystem/retest-reason`;
/** A hospital's own item codes, as its adapters write them (adapters/common/systems.ts) */
export const localCodeSystem = (hospitalId: string) => `urn:xzq:local-code:${hospitalId}`;
/** A hospital's medical record numbers, as the regional index names them */
export const mrnSystem = (canonicalBase: string, hospitalId: string) => `${canonicalBase}/sid/mrn/${hospitalId}`;

export interface OrderCode {
  system: string;
  code: string;
  display?: string;
}

/** Codes a HIS would put on its draft orders. */
export const CODES = {
  cbc: { system: LOINC, code: '58410-2', display: 'CBC panel - Blood by Automated count' },
  glucose: { system: LOINC, code: '14749-6', display: 'Glucose [Moles/volume] in Serum or Plasma' },
  urinalysis: { system: LOINC, code: '24356-8', display: 'Urinalysis complete panel - Urine' },
  renal: { system: LOINC, code: '24362-6', display: 'Renal function 2000 panel - Serum or Plasma' },
  hba1c: { system: LOINC, code: '4548-4', display: 'Hemoglobin A1c/Hemoglobin.total in Blood' },
  /** a well-formed LOINC code that is no catalogue item (Hemoglobin A2) */
  notAnItem: { system: LOINC, code: '4551-8', display: 'Hemoglobin A2/Hemoglobin.total in Blood' },
} satisfies Record<string, OrderCode>;

export interface DraftOrderSpec {
  id: string;
  code: OrderCode;
  /** the order's text, as the HIS shows it */
  text?: string;
}

/** A draft ServiceRequest (R4: status, intent, code, subject, requester). */
export function draftOrder(spec: DraftOrderSpec, ctx: { patientId: string; userId: string; authoredOn?: string }): ServiceRequest {
  return {
    resourceType: 'ServiceRequest',
    id: spec.id,
    status: 'draft',
    intent: 'order',
    code: { coding: [{ ...spec.code }], ...(spec.text ? { text: spec.text } : {}) },
    subject: { reference: `Patient/${ctx.patientId}` },
    requester: { reference: ctx.userId },
    ...(ctx.authoredOn ? { authoredOn: ctx.authoredOn } : {}),
  };
}

/** `context.draftOrders`: a `collection` Bundle of the draft orders. */
export function draftOrdersBundle(orders: ServiceRequest[]): Bundle {
  return { resourceType: 'Bundle', type: 'collection', entry: orders.map((resource) => ({ resource })) };
}

export interface PatientSpec {
  /** the HIS's own patient id (context.patientId, the prefetched Patient's id) */
  id: string;
  nationalId?: string;
  mrn?: { system: string; value: string };
  name?: string;
}

/** The `patient` prefetch (`Patient/{{context.patientId}}`) as the HIS's FHIR server would answer it. */
export function patientPrefetch(p: PatientSpec): Patient {
  const identifier = [
    ...(p.nationalId ? [{ system: NATIONAL_ID_SYSTEM, value: p.nationalId }] : []),
    ...(p.mrn ? [{ system: p.mrn.system, value: p.mrn.value }] : []),
  ];
  return { resourceType: 'Patient', id: p.id, identifier, ...(p.name ? { name: [{ text: p.name }] } : {}) };
}

export interface HookRequestSpec {
  patient: PatientSpec;
  orders: DraftOrderSpec[];
  /** `Practitioner/<staff id>` */
  userId?: string;
  encounterId?: string;
  /** order-select: which orders were just selected (default: all of them) */
  selections?: string[];
  fhirServer?: string;
  hookInstance?: string;
}

export const DEFAULT_USER = 'Practitioner/D1029';

function hookBody(hook: 'order-select' | 'order-sign', s: HookRequestSpec) {
  const userId = s.userId ?? DEFAULT_USER;
  const orders = s.orders.map((o) => draftOrder(o, { patientId: s.patient.id, userId }));
  const context: Record<string, unknown> = {
    userId,
    patientId: s.patient.id,
    ...(s.encounterId ? { encounterId: s.encounterId } : {}),
    ...(hook === 'order-select' ? { selections: s.selections ?? orders.map((o) => `ServiceRequest/${o.id}`) } : {}),
    draftOrders: draftOrdersBundle(orders),
  };
  return {
    hook,
    hookInstance: s.hookInstance ?? randomUUID(),
    ...(s.fhirServer ? { fhirServer: s.fhirServer } : {}),
    context,
    prefetch: { patient: patientPrefetch(s.patient) },
  };
}

/** An `order-select` request (the hook's example, a ServiceRequest in place of the MedicationRequest). */
export const orderSelect = (s: HookRequestSpec) => hookBody('order-select', s);
/** An `order-sign` request. */
export const orderSign = (s: HookRequestSpec) => hookBody('order-sign', s);

/** A feedback entry for a card the user accepted, with the suggestion taken (§Feedback). */
export function accepted(card: { uuid?: string; suggestions?: Array<{ uuid?: string }> }, at: Date): FeedbackEntry {
  const suggestion = card.suggestions?.find((s) => s.uuid)?.uuid;
  if (!card.uuid || !suggestion) throw new Error('a card without uuid or suggestion uuid cannot be accepted in feedback');
  return { card: card.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: suggestion }], outcomeTimestamp: at.toISOString() };
}

/** A feedback entry for a card the user overrode, with one of its override reasons and a comment. */
export function overridden(card: { uuid?: string }, at: Date, reason?: { code: string; system: string }, userComment?: string): FeedbackEntry {
  if (!card.uuid) throw new Error('a card without uuid cannot be overridden in feedback');
  return {
    card: card.uuid,
    outcome: 'overridden',
    ...(reason || userComment !== undefined ? { overrideReason: { ...(reason ? { reason } : {}), ...(userComment !== undefined ? { userComment } : {}) } } : {}),
    outcomeTimestamp: at.toISOString(),
  };
}

export interface JwtOptions {
  /** `aud`; default the service's URL */
  aud?: string | string[];
  jti?: string;
  /** seconds from iat; default 60 */
  expiresIn?: number;
  /** seconds; default the gateway clock's now */
  iat?: number;
  /** sign with another client's key (the header still names this client's kid) */
  key?: TestClient['privateKey'];
  kid?: string;
  alg?: string;
  /** merged last; `undefined` removes a claim */
  claims?: Record<string, unknown>;
}

export interface CdsClient {
  readonly clientId: string;
  readonly publicBaseUrl: string;
  serviceUrl(serviceId: string): string;
  /** a JWT for one call to `serviceId` (CDS Hooks 2.0 §Trusting CDS Clients): iss, aud, exp, iat, jti; no sub */
  jwt(serviceId: string, o?: JwtOptions): string;
  discovery(): request.Test;
  /** POST /cds-services/{id}; `jwt: null` sends no Authorization, a string sends that one */
  call(serviceId: string, body: unknown, o?: { jwt?: string | null; raw?: boolean }): request.Test;
  feedback(serviceId: string, body: unknown, o?: { jwt?: string | null }): request.Test;
}

export function cdsClient(opts: { app: Express; client: TestClient; publicBaseUrl: string; now: () => Date }): CdsClient {
  const base = opts.publicBaseUrl.replace(/\/+$/, '');
  const serviceUrl = (id: string) => `${base}/cds-services/${encodeURIComponent(id)}`;
  const jwt = (serviceId: string, o: JwtOptions = {}) =>
    signClientAssertion(opts.client, {
      aud: serviceUrl(serviceId),
      user: undefined, // the person rides in context.userId, not in the JWT
      iat: o.iat ?? Math.floor(opts.now().getTime() / 1000),
      expiresIn: o.expiresIn ?? 60,
      jti: o.jti ?? randomUUID(),
      ...(o.key ? { key: o.key } : {}),
      ...(o.kid ? { kid: o.kid } : {}),
      ...(o.alg ? { alg: o.alg } : {}),
      claims: { sub: undefined, ...(o.aud !== undefined ? { aud: o.aud } : {}), ...o.claims },
    });
  const authorize = (t: request.Test, serviceId: string, given: string | null | undefined) => {
    const token = given === undefined ? jwt(serviceId) : given;
    return token === null ? t : t.set('Authorization', `Bearer ${token}`);
  };
  return {
    clientId: opts.client.id,
    publicBaseUrl: base,
    serviceUrl,
    jwt,
    discovery: () => request(opts.app).get('/cds-services').set('Accept', 'application/json'),
    call: (serviceId, body, o = {}) => {
      const t = request(opts.app).post(`/cds-services/${encodeURIComponent(serviceId)}`).set('Content-Type', 'application/json').set('Accept', 'application/json');
      return authorize(t, serviceId, o.jwt).send(typeof body === 'string' ? body : JSON.stringify(body));
    },
    feedback: (serviceId, body, o = {}) => {
      const t = request(opts.app).post(`/cds-services/${encodeURIComponent(serviceId)}/feedback`).set('Content-Type', 'application/json').set('Accept', 'application/json');
      return authorize(t, serviceId, o.jwt).send(typeof body === 'string' ? body : JSON.stringify(body));
    },
  };
}
