import { z } from 'zod';

/**
 * The shapes of CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/), written from the specification and
 * not from gateway/cds-hooks/, so the tests check the gateway against the standard rather than
 * against itself. Section names below are the specification's headings; "REQUIRED", "OPTIONAL",
 * "CONDITIONAL" are its words.
 *
 * Objects are strict: a member the specification does not define fails, except `extension`
 * (§Extensions: "any object … MAY contain an `extension` member"), so a misspelt member
 * (`resourceIds`, `override_reasons`) is caught instead of silently ignored by a CDS Client.
 *
 *   parseOrThrow(cdsResponse, res.body)   // throws with every problem, by path
 */

/** §Extensions: an `extension` member, an object whose keys the extension defines. */
const extension = z.record(z.string(), z.unknown()).optional();

/** Unicode characters, not UTF-16 units: 血常规 is three. */
const chars = (s: string) => [...s].length;

/** An absolute http(s) URL (the specification's "URL" members are absolute where it says so). */
const absoluteUrl = z.url({ protocol: /^https?$/ });

/** FHIR `Coding` as the specification uses it (§Card Attributes `overrideReasons`, §Source `topic`). */
export const coding = z.strictObject({
  system: z.string().min(1),
  code: z.string().min(1),
  display: z.string().optional(),
  version: z.string().optional(),
  userSelected: z.boolean().optional(),
});

/** A FHIR resource as JSON: only that it names its type is checked here (the tests run expectValidFhir on it). */
const fhirResource = z.looseObject({ resourceType: z.string().regex(/^[A-Z][A-Za-z]+$/) });

/** A relative reference `<Type>/<id>` (§Action `resourceId`). */
const relativeReference = z.string().regex(/^[A-Z][A-Za-z]+\/[A-Za-z0-9\-.]{1,64}$/, 'a relative reference <Type>/<id>');

// ---------------------------------------------------------------------------------------------
// §Discovery — GET {baseUrl}/cds-services → { services: [...] }
// ---------------------------------------------------------------------------------------------

/**
 * §Discovery, "Response": each service has `hook` (REQUIRED), `title` (RECOMMENDED), `description`
 * (REQUIRED), `id` (REQUIRED, the `{id}` of `{baseUrl}/cds-services/{id}`), `prefetch` (OPTIONAL,
 * key → prefetch template, §Prefetch Template) and `usageRequirements` (OPTIONAL).
 */
export const cdsService = z.strictObject({
  hook: z.string().min(1),
  title: z.string().min(1).optional(),
  description: z.string().min(1),
  id: z.string().regex(/^[A-Za-z0-9\-._~]+$/, 'an id usable as a URL path segment'),
  prefetch: z.record(z.string().regex(/^[A-Za-z0-9_-]+$/), z.string().min(1)).optional(),
  usageRequirements: z.string().optional(),
  extension,
});

export const discoveryResponse = z.strictObject({ services: z.array(cdsService), extension });

// ---------------------------------------------------------------------------------------------
// §Calling a CDS Service — POST {baseUrl}/cds-services/{id}
// ---------------------------------------------------------------------------------------------

/** §Calling a CDS Service, `fhirAuthorization` (OPTIONAL): an OAuth 2.0 bearer token for `fhirServer`. */
const fhirAuthorization = z.strictObject({
  access_token: z.string().min(1),
  token_type: z.literal('Bearer'),
  expires_in: z.number().int().positive(),
  scope: z.string().min(1),
  subject: z.string().min(1),
  patient: z.string().optional(),
});

/** FHIR Bundle as a hook context carries it (draftOrders): resources are checked by expectValidFhir. */
const bundle = z.looseObject({
  resourceType: z.literal('Bundle'),
  type: z.string(),
  entry: z.array(z.looseObject({ resource: fhirResource.optional() })).optional(),
});

/** `Practitioner/<id>` or `PractitionerRole/<id>` (order-select / order-sign `userId`). */
const userReference = z.string().regex(/^(Practitioner|PractitionerRole)\/[A-Za-z0-9\-.]{1,64}$/);

/**
 * The `order-select` hook's context (hook definition `order-select`, version 1.0, published with 2.0):
 * `userId` REQUIRED, `patientId` REQUIRED, `encounterId` OPTIONAL, `selections` REQUIRED (the ids of
 * the newly selected orders, `<Type>/<id>`), `draftOrders` REQUIRED (a Bundle of the draft orders).
 */
export const orderSelectContext = z.strictObject({
  userId: userReference,
  patientId: z.string().min(1),
  encounterId: z.string().min(1).optional(),
  selections: z.array(relativeReference).min(1),
  draftOrders: bundle,
});

/**
 * The `order-sign` hook's context (hook definition `order-sign`, version 1.0): `userId`, `patientId`,
 * `draftOrders` REQUIRED, `encounterId` OPTIONAL; no `selections`.
 */
export const orderSignContext = z.strictObject({
  userId: userReference,
  patientId: z.string().min(1),
  encounterId: z.string().min(1).optional(),
  draftOrders: bundle,
});

/**
 * §Calling a CDS Service, "HTTP Request": `hook` REQUIRED, `hookInstance` REQUIRED (a UUID for this
 * call), `fhirServer` CONDITIONAL (URL), `fhirAuthorization` OPTIONAL (and only with fhirServer),
 * `context` REQUIRED (hook-specific), `prefetch` OPTIONAL (key → the resource, or null).
 */
const hookRequestBase = {
  hookInstance: z.uuid(),
  fhirServer: absoluteUrl.optional(),
  fhirAuthorization: fhirAuthorization.optional(),
  prefetch: z.record(z.string(), fhirResource.nullable()).optional(),
  extension,
};
export const hookRequest = z
  .discriminatedUnion('hook', [
    z.strictObject({ hook: z.literal('order-select'), context: orderSelectContext, ...hookRequestBase }),
    z.strictObject({ hook: z.literal('order-sign'), context: orderSignContext, ...hookRequestBase }),
  ])
  .refine((r) => !r.fhirAuthorization || r.fhirServer, { message: 'fhirAuthorization needs fhirServer', path: ['fhirAuthorization'] });

// ---------------------------------------------------------------------------------------------
// §CDS Service Response — { cards, systemActions? }
// ---------------------------------------------------------------------------------------------

/**
 * §Action: `type` REQUIRED (create | update | delete), `description` REQUIRED, `resource`
 * CONDITIONAL (create: the new resource; update: the whole updated resource), `resourceId`
 * CONDITIONAL (an array of relative references; SHOULD be given for delete). Using `resource` to
 * carry a delete's id as a string is DEPRECATED in 2.0: tolerated beside `resourceId`, never instead.
 */
export const action = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('create'), description: z.string().min(1), resource: fhirResource, extension }),
  z.strictObject({ type: z.literal('update'), description: z.string().min(1), resource: fhirResource, extension }),
  z.strictObject({
    type: z.literal('delete'),
    description: z.string().min(1),
    resourceId: z.array(relativeReference).min(1),
    /** DEPRECATED (2.0): the id as a string */
    resource: z.string().optional(),
    extension,
  }),
]);

/**
 * §Suggestion: `label` REQUIRED, `uuid` OPTIONAL (but needed to report it in feedback),
 * `isRecommended` OPTIONAL, `actions` OPTIONAL (all apply together).
 */
export const suggestion = z.strictObject({
  label: z.string().min(1),
  uuid: z.uuid().optional(),
  isRecommended: z.boolean().optional(),
  actions: z.array(action).optional(),
  extension,
});

/**
 * §Source: `label` REQUIRED, `url` OPTIONAL (absolute), `icon` OPTIONAL (absolute URL of a 100×100
 * PNG), `topic` OPTIONAL (Coding).
 */
export const source = z.strictObject({
  label: z.string().min(1),
  url: absoluteUrl.optional(),
  icon: absoluteUrl.optional(),
  topic: coding.optional(),
  extension,
});

/**
 * §Link: `label` REQUIRED, `url` REQUIRED, `type` REQUIRED (absolute | smart), `appContext`
 * OPTIONAL and only for `smart` links, `autolaunchable` OPTIONAL.
 */
export const link = z
  .strictObject({
    label: z.string().min(1),
    url: absoluteUrl,
    type: z.enum(['absolute', 'smart']),
    appContext: z.string().optional(),
    autolaunchable: z.boolean().optional(),
    extension,
  })
  .refine((l) => l.type === 'smart' || l.appContext === undefined, { message: 'appContext is only for smart links', path: ['appContext'] });

/**
 * §Card Attributes: `uuid` OPTIONAL (SHALL be sent back in feedback), `summary` REQUIRED
 * ("one-sentence, <140-character summary"; checked as at most 140 characters), `detail` OPTIONAL
 * (GitHub-flavoured Markdown), `indicator` REQUIRED (info | warning | critical), `source` REQUIRED,
 * `suggestions` OPTIONAL, `selectionBehavior` CONDITIONAL (SHALL be given when there are
 * suggestions: at-most-one | any), `overrideReasons` OPTIONAL (Codings; the service MUST give each
 * a display), `links` OPTIONAL.
 */
export const card = z
  .strictObject({
    uuid: z.uuid().optional(),
    summary: z.string().min(1).refine((s) => chars(s) <= 140, { message: 'summary is longer than 140 characters' }),
    detail: z.string().min(1).optional(),
    indicator: z.enum(['info', 'warning', 'critical']),
    source,
    suggestions: z.array(suggestion).optional(),
    selectionBehavior: z.enum(['at-most-one', 'any']).optional(),
    overrideReasons: z.array(coding.extend({ display: z.string().min(1) })).optional(),
    links: z.array(link).optional(),
    extension,
  })
  .refine((c) => !c.suggestions?.length || c.selectionBehavior !== undefined, {
    message: 'selectionBehavior is required when the card has suggestions',
    path: ['selectionBehavior'],
  })
  .refine((c) => c.selectionBehavior !== 'at-most-one' || (c.suggestions ?? []).filter((s) => s.isRecommended).length <= 1, {
    message: 'at-most-one: no more than one suggestion may be recommended',
    path: ['suggestions'],
  })
  .refine((c) => new Set((c.suggestions ?? []).map((s) => s.uuid).filter(Boolean)).size === (c.suggestions ?? []).filter((s) => s.uuid).length, {
    message: 'suggestion uuids must be unique',
    path: ['suggestions'],
  });

/** §CDS Service Response: `cards` REQUIRED (an array, possibly empty), `systemActions` OPTIONAL. */
export const cdsResponse = z
  .strictObject({ cards: z.array(card), systemActions: z.array(action).optional(), extension })
  .refine((r) => new Set(r.cards.map((c) => c.uuid).filter(Boolean)).size === r.cards.filter((c) => c.uuid).length, {
    message: 'card uuids must be unique',
    path: ['cards'],
  });

// ---------------------------------------------------------------------------------------------
// §Feedback — POST {baseUrl}/cds-services/{id}/feedback
// ---------------------------------------------------------------------------------------------

/**
 * §Feedback: `feedback` is an array; each entry has `card` REQUIRED (the card's uuid), `outcome`
 * REQUIRED (accepted | overridden), `acceptedSuggestions` CONDITIONAL (required for accepted: `[{id}]`,
 * the suggestions' uuids), `overrideReason` OPTIONAL (only for overridden: `reason` a Coding from the
 * card's overrideReasons, `userComment` free text), `outcomeTimestamp` REQUIRED (an ISO 8601 instant).
 */
export const feedbackEntry = z
  .strictObject({
    card: z.uuid(),
    outcome: z.enum(['accepted', 'overridden']),
    acceptedSuggestions: z.array(z.strictObject({ id: z.uuid() })).min(1).optional(),
    overrideReason: z
      .strictObject({ reason: coding.partial({ display: true }).optional(), userComment: z.string().optional() })
      .optional(),
    outcomeTimestamp: z.iso.datetime({ offset: true }),
    extension,
  })
  .refine((f) => f.outcome !== 'accepted' || f.acceptedSuggestions !== undefined, {
    message: 'acceptedSuggestions is required for an accepted outcome',
    path: ['acceptedSuggestions'],
  })
  .refine((f) => f.outcome !== 'accepted' || f.overrideReason === undefined, {
    message: 'overrideReason is only for an overridden outcome',
    path: ['overrideReason'],
  });

export const feedbackRequest = z.strictObject({ feedback: z.array(feedbackEntry).min(1), extension });

// ---------------------------------------------------------------------------------------------
// §Trusting CDS Clients — the JWT a CDS Client sends as `Authorization: Bearer`
// ---------------------------------------------------------------------------------------------

/**
 * §Trusting CDS Clients: header `alg`, `kid`, `typ` (`JWT`), `jku` OPTIONAL; claims `iss` REQUIRED
 * (the client), `aud` REQUIRED (the CDS service's endpoint URL), `exp` REQUIRED (≤ 5 minutes ahead),
 * `iat` REQUIRED, `jti` REQUIRED (unique), `tenant` OPTIONAL. (`sub` is not part of 2.0's list; the
 * gateway's SMART assertions need it, its CDS clients may leave it out.)
 */
export const clientJwtHeader = z.looseObject({ alg: z.enum(['RS384', 'ES384']), kid: z.string().min(1), typ: z.literal('JWT'), jku: absoluteUrl.optional() });
export const clientJwtClaims = z
  .looseObject({
    iss: z.string().min(1),
    aud: z.union([absoluteUrl, z.array(absoluteUrl).min(1)]),
    exp: z.number().int(),
    iat: z.number().int(),
    jti: z.string().min(1),
    tenant: z.string().optional(),
  })
  .refine((c) => c.exp > c.iat && c.exp - c.iat <= 300, { message: 'exp must be after iat and at most 5 minutes ahead', path: ['exp'] });

export type CdsService = z.infer<typeof cdsService>;
export type DiscoveryResponse = z.infer<typeof discoveryResponse>;
export type HookRequest = z.infer<typeof hookRequest>;
export type Card = z.infer<typeof card>;
export type CdsAction = z.infer<typeof action>;
export type CdsResponse = z.infer<typeof cdsResponse>;
export type FeedbackEntry = z.infer<typeof feedbackEntry>;
export type FeedbackRequest = z.infer<typeof feedbackRequest>;

/** Parses `value` with `schema`, or throws naming every problem by path (what a failed test prints). */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what = 'value'): z.infer<S> {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('\n');
  throw new Error(`${what} does not conform to CDS Hooks 2.0:\n${problems}\n${JSON.stringify(value, null, 1).slice(0, 2000)}`);
}
