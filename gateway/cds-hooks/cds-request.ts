import type { Patient, ServiceRequest } from '@medplum/fhirtypes';
import { z } from 'zod';
import { badRequest } from '../fhir/outcomes';

/**
 * The parts of a CDS Hooks 2.0 request the service reads (https://cds-hooks.hl7.org/2.0/ §HTTP
 * Request; order-select and order-sign hook contexts), checked before anything is asked. Anything
 * else in the request is ignored, as the specification lets a service do.
 */
const reference = z.string().min(1).max(200);
const resource = z.looseObject({ resourceType: z.string() });
const bundle = z.looseObject({
  resourceType: z.literal('Bundle'),
  entry: z.array(z.looseObject({ resource: resource.optional() })).max(100).optional(),
});

const hookRequest = z.looseObject({
  hook: z.string().min(1).max(64),
  hookInstance: z.string().min(1).max(128),
  fhirServer: z.string().max(500).optional(),
  context: z.looseObject({
    userId: reference,
    patientId: z.string().min(1).max(128),
    encounterId: z.string().max(128).optional(),
    selections: z.array(reference).max(100).optional(),
    draftOrders: bundle,
  }),
  prefetch: z.looseObject({ patient: resource.nullable().optional() }).optional(),
});

const feedbackRequest = z.looseObject({
  feedback: z
    .array(
      z.looseObject({
        card: z.string().min(1).max(64),
        outcome: z.enum(['accepted', 'overridden']),
        acceptedSuggestions: z.array(z.looseObject({ id: z.string().min(1).max(64) })).max(10).optional(),
        overrideReason: z
          .looseObject({ reason: z.looseObject({ code: z.string().min(1).max(64), system: z.string().max(200).optional() }).optional(), userComment: z.string().max(2000).optional() })
          .optional(),
        outcomeTimestamp: z.string().max(40),
      }),
    )
    .min(1)
    .max(50),
});

export interface HookRequest {
  hook: string;
  hookInstance: string;
  /** `Practitioner/<id>` (or PractitionerRole): the person ordering */
  userId: string;
  /** the HIS's own patient id (what the prefetch template names) */
  patientId: string;
  draftOrders: ServiceRequest[];
  /** the HIS's Patient, with identifiers the index knows (national id or record number) */
  patient?: Patient;
}

export type FeedbackItem = z.infer<typeof feedbackRequest>['feedback'][number];

const problem = (e: z.ZodError): { text: string; expression: string } => {
  const issue = e.issues[0]!;
  const path = issue.path.map(String).join('.');
  return { text: `${path || 'request'}: ${issue.message}`, expression: path || 'request' };
};

/** A hook call's body → what the service reads; 400 naming the first problem. */
export function parseHookRequest(body: unknown): HookRequest {
  const r = hookRequest.safeParse(body);
  if (!r.success) {
    const p = problem(r.error);
    throw badRequest(`Not a CDS Hooks request: ${p.text}`, p.expression, 'invalid-body');
  }
  const d = r.data;
  const orders = (d.context.draftOrders.entry ?? [])
    .map((e) => e.resource)
    .filter((x) => x?.resourceType === 'ServiceRequest') as unknown as ServiceRequest[];
  const patient = d.prefetch?.patient && d.prefetch.patient.resourceType === 'Patient' ? (d.prefetch.patient as unknown as Patient) : undefined;
  return { hook: d.hook, hookInstance: d.hookInstance, userId: d.context.userId, patientId: d.context.patientId, draftOrders: orders, patient };
}

export function parseFeedback(body: unknown): FeedbackItem[] {
  const r = feedbackRequest.safeParse(body);
  if (!r.success) {
    const p = problem(r.error);
    throw badRequest(`Not a CDS Hooks feedback request: ${p.text}`, p.expression, 'invalid-body');
  }
  return r.data.feedback;
}
