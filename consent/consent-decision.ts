import type { CodeableConcept, Coding, Consent, ConsentProvision } from '@medplum/fhirtypes';
import type { ResultFacts } from './contract';
import { isBreakGlass, type Requester } from '../gateway/context';
import {
  CONFIDENTIALITY_CODES,
  NORMAL_CONFIDENTIALITY,
  RECIPIENT_ROLE,
  RESOURCE_TYPES_SYSTEM,
  SENSITIVE_LABELS,
  recognitionItemSystem,
} from './consent-codes';
import { parseFhirInstant } from './fhir-time';

/**
 * The consent decision of API.md §5 as pure functions: a patient's active Consents, the requester
 * and the gateway's default in; a verdict on the access and on each result out. No I/O, no clock:
 * `now` is an argument, so the same inputs always give the same answer (and the tables in
 * test/unit/consent read like the rule).
 *
 * The model, in short (docs/consent.md explains it to a registrar):
 * - a Consent applies to a request when it is active, its root provision's `period` covers now,
 *   its root `actor`s (role IRCP) name the requesting hospital, or name none (= every member
 *   hospital), and its `purpose`s (if any) include the purpose of use;
 * - a provision covers a result when the result matches every criterion the provision has: `class`
 *   (resource type), `code` (recognition item), `dataPeriod` (result date), `securityLabel`;
 * - nested provisions refine their parent: the deepest matching provision decides, a matching deny
 *   among siblings wins over a matching permit, and a permit nested in a deny re-permits;
 * - across consents an explicit deny wins over a permit;
 * - a sensitive label (v3-Confidentiality R/V, v3-ActCode HIV, PSY, …) is released only by a permit
 *   provision on the deciding path that names that label, never by a default or break-glass;
 * - default `permit` (opt-out) and break-glass permit what no consent covers, except sensitive
 *   results and results any in-force consent explicitly denies (its deny provisions are then read
 *   as if its root covered every hospital and result).
 */

export type ConsentDefault = 'deny' | 'permit';

/** The gateway-wide settings the decision needs (config.consent.default, config.canonicalBase). */
export interface ConsentPolicy {
  default: ConsentDefault;
  canonicalBase: string;
}

export type DecisionRequester = Pick<Requester, 'hospitalId' | 'roles' | 'purposeOfUse'>;

export type AccessReason =
  /** an active consent in force names (or does not limit) the requesting hospital */
  | 'consent'
  /** no consent applies, the gateway runs opt-out */
  | 'default-permit'
  /** no consent applies; emergency purpose of use by a clinician */
  | 'break-glass'
  /** no consent applies and the gateway runs opt-in */
  | 'no-consent'
  /** the requester belongs to no hospital, so no consent can name it as recipient */
  | 'no-hospital';

export interface AccessDecision {
  permit: boolean;
  /** true when only break-glass lets the requester in */
  breakGlassOnly: boolean;
  reason: AccessReason;
  /** ids of the consents that apply to this requester (for audit and tests) */
  consentIds: string[];
}

export type ResultReason =
  | 'consent-permit'
  | 'consent-deny'
  | 'explicit-deny'
  | 'sensitive-label'
  | 'default-permit'
  | 'break-glass'
  | 'not-covered'
  | 'no-access';

/** The verdict on one result. The reason is for tests and audit; the caller never sees it. */
export interface ResultDecision {
  permit: boolean;
  reason: ResultReason;
  /** the consent whose provision decided, when one did */
  consentId?: string;
  /** FHIRPath-like location of the deciding provision, e.g. `provision.provision[1]` */
  provision?: string;
  /** this result is let through by break-glass alone */
  breakGlass: boolean;
}

// ---- compiled form: parsed once per judgement, so each result costs only set look-ups ----

interface CompiledProvision {
  type: 'permit' | 'deny';
  path: string;
  /** ms since epoch, inclusive; ±Infinity when open */
  start: number;
  end: number;
  /** hospital ids named as recipients; null = no actor criterion */
  actors: Set<string> | null;
  /** v3-ActReason purposes of use; null = any purpose */
  purposes: Set<string> | null;
  classes: Set<string> | null;
  codes: Set<string> | null;
  data: { start: number; end: number } | null;
  labels: Set<string> | null;
  children: CompiledProvision[];
}

export interface CompiledConsent {
  id?: string;
  root: CompiledProvision;
}

/** Parse the active consents once (drops anything not `active` or without a provision). */
export function compileConsents(consents: readonly Consent[], canonicalBase: string): CompiledConsent[] {
  const itemSystem = recognitionItemSystem(canonicalBase);
  return consents
    .filter((c) => c.status === 'active' && c.provision)
    .map((c) => ({ id: c.id, root: compileProvision(c.provision!, 'provision', itemSystem) }));
}

function compileProvision(p: ConsentProvision, path: string, itemSystem: string): CompiledProvision {
  const period = bounds(p.period?.start, p.period?.end);
  const actors = p.actor?.length
    ? new Set(
        p.actor
          .filter((a) => hasCode(a.role, RECIPIENT_ROLE))
          .map((a) => organizationId(a.reference?.reference))
          .filter((id): id is string => Boolean(id)),
      )
    : null;
  const purposes = p.purpose?.length ? new Set(p.purpose.map((c) => c.code ?? '')) : null;
  const classes = p.class?.length
    ? new Set(p.class.filter((c) => !c.system || c.system === RESOURCE_TYPES_SYSTEM).map((c) => c.code ?? ''))
    : null;
  const codes = p.code?.length
    ? new Set(p.code.flatMap((cc) => (cc.coding ?? []).filter((c) => c.system === itemSystem).map((c) => c.code ?? '')))
    : null;
  const data = p.dataPeriod ? bounds(p.dataPeriod.start, p.dataPeriod.end) : null;
  const labels = p.securityLabel?.length ? new Set(p.securityLabel.map((c) => c.code ?? '')) : null;
  return {
    // anything but an explicit permit is read as deny: the safe side for a malformed stored record
    type: p.type === 'permit' ? 'permit' : 'deny',
    path,
    start: period.start,
    end: period.end,
    actors,
    purposes,
    classes,
    codes,
    data,
    labels,
    children: (p.provision ?? []).map((c, i) => compileProvision(c, `${path}.provision[${i}]`, itemSystem)),
  };
}

function bounds(start: string | undefined, end: string | undefined): { start: number; end: number } {
  return {
    start: start ? parseFhirInstant(start, 'start') : -Infinity,
    end: end ? parseFhirInstant(end, 'end') : Infinity,
  };
}

function hasCode(cc: CodeableConcept | undefined, code: string): boolean {
  return Boolean(cc?.coding?.some((c: Coding) => c.code === code));
}

/** `Organization/xm-zsh` or `http://…/Organization/xm-zsh` → `xm-zsh` */
export function organizationId(reference: string | undefined): string | undefined {
  const m = reference?.match(/(?:^|\/)Organization\/([^/]+)$/);
  return m?.[1];
}

// ---- the judgement ----

interface Facts {
  raw: ResultFacts;
  date: number | undefined;
  /** labels as matched: the result's own, plus `N` when it has no confidentiality label */
  labels: readonly string[];
  sensitive: readonly string[];
}

/** Does any provision of the tree have a data period (only then is a result's date read)? */
function readsDates(p: CompiledProvision): boolean {
  return p.data !== null || p.children.some(readsDates);
}

/** The labels of a result with none (most results): judged for every result, so shared. */
const UNLABELLED: readonly string[] = Object.freeze([NORMAL_CONFIDENTIALITY]);
const NONE: readonly string[] = Object.freeze([]);

function factsOf(f: ResultFacts, readDate: boolean): Facts {
  let date: number | undefined;
  if (readDate && f.date) {
    const d = parseFhirInstant(f.date, 'start');
    if (Number.isFinite(d)) date = d;
  }
  if (!f.securityLabels.length) return { raw: f, date, labels: UNLABELLED, sensitive: NONE };
  const labels = [...f.securityLabels];
  if (!labels.some((l) => CONFIDENTIALITY_CODES.has(l))) labels.push(NORMAL_CONFIDENTIALITY);
  return { raw: f, date, labels, sensitive: f.securityLabels.filter((l) => SENSITIVE_LABELS.has(l)) };
}

/** What a consent's root releases before any provision has named a label: never added to. */
const RELEASED_NOTHING: ReadonlySet<string> = new Set();

interface Outcome {
  type: 'permit' | 'deny';
  provision: CompiledProvision;
  /** labels named by the permit provisions on the path to the deciding provision */
  released: ReadonlySet<string>;
}

function inForce(p: CompiledProvision, now: number): boolean {
  return p.start <= now && now <= p.end;
}

/** Who asks and why, as the provisions' actor and purpose criteria read it. */
interface Asker {
  hospitalId: string | undefined;
  purpose: string;
}

function askerMatches(p: CompiledProvision, who: Asker): boolean {
  if (p.actors !== null && !(who.hospitalId !== undefined && p.actors.has(who.hospitalId))) return false;
  return p.purposes === null || p.purposes.has(who.purpose);
}

/** Does the provision's own criteria cover this requester and result? */
function covers(p: CompiledProvision, f: Facts, who: Asker, now: number): boolean {
  if (!inForce(p, now)) return false;
  if (!askerMatches(p, who)) return false;
  if (p.classes && !p.classes.has(f.raw.resourceType)) return false;
  if (p.codes && !(f.raw.catalogItem !== undefined && p.codes.has(f.raw.catalogItem))) return false;
  if (p.data) {
    // An undated result cannot be shown to fall inside a permitted data period, and is not let
    // out of a denied one either: unknown facts always fall on the refusing side.
    if (f.date === undefined) return p.type === 'deny';
    if (f.date < p.data.start || f.date > p.data.end) return false;
  }
  if (p.labels && !f.labels.some((l) => p.labels!.has(l))) return false;
  return true;
}

/**
 * The deepest matching provision under `p` (general nesting). `relaxRoot` skips every criterion of
 * `p` but its period: used to find explicit denies wherever a consent's root would not apply.
 */
function evaluate(
  p: CompiledProvision,
  f: Facts,
  who: Asker,
  now: number,
  releasedAbove: ReadonlySet<string>,
  relaxRoot = false,
): Outcome | undefined {
  if (relaxRoot ? !inForce(p, now) : !covers(p, f, who, now)) return undefined;
  let released = releasedAbove;
  if (p.type === 'permit' && p.labels) released = new Set([...releasedAbove, ...p.labels]);
  let permit: Outcome | undefined;
  for (const child of p.children) {
    const o = evaluate(child, f, who, now, released);
    if (!o) continue;
    if (o.type === 'deny') return o; // a matching deny wins over matching sibling permits
    permit = permit ? { ...permit, released: new Set([...permit.released, ...o.released]) } : o;
  }
  return permit ?? { type: p.type, provision: p, released };
}

/** A judged access: the verdict on the access, and a function judging each result. */
export interface ConsentJudgement {
  access: AccessDecision;
  judge(facts: ResultFacts): ResultDecision;
}

export interface DecisionInput {
  /** the patient's active consents (anything else is ignored), raw or compiled */
  consents: readonly Consent[] | readonly CompiledConsent[];
  requester: DecisionRequester;
  policy: ConsentPolicy;
  now: Date;
}

/** May this requester use break-glass? Emergency purpose of use and the clinician role (API.md §5). */
export function breakGlassEligible(r: DecisionRequester): boolean {
  return isBreakGlass(r) && r.roles.includes('clinician');
}

function isCompiled(c: readonly Consent[] | readonly CompiledConsent[]): c is readonly CompiledConsent[] {
  return c.length > 0 && 'root' in (c[0] as object);
}

/** Judge a requester's access to one patient (API.md §5). Pure. */
export function judgeConsent(input: DecisionInput): ConsentJudgement {
  const { requester, policy } = input;
  const now = input.now.getTime();
  const consents = isCompiled(input.consents)
    ? input.consents
    : compileConsents(input.consents as readonly Consent[], policy.canonicalBase);
  const hospitalId = requester.hospitalId;
  const who: Asker = { hospitalId, purpose: requester.purposeOfUse };
  const applicable = consents.filter((c) => inForce(c.root, now) && askerMatches(c.root, who));
  const canBreakGlass = breakGlassEligible(requester);
  // Parsing every result's date costs more than the rest of the judgement; most consents have no data period.
  const readDate = consents.some((c) => readsDates(c.root));

  let access: AccessDecision;
  const consentIds = applicable.map((c) => c.id ?? '');
  if (!hospitalId) access = { permit: false, breakGlassOnly: false, reason: 'no-hospital', consentIds: [] };
  else if (applicable.length) access = { permit: true, breakGlassOnly: false, reason: 'consent', consentIds };
  else if (policy.default === 'permit') access = { permit: true, breakGlassOnly: false, reason: 'default-permit', consentIds };
  else if (canBreakGlass) access = { permit: true, breakGlassOnly: true, reason: 'break-glass', consentIds };
  else access = { permit: false, breakGlassOnly: false, reason: 'no-consent', consentIds };

  // What permits a result no consent covers: the opt-out default, else break-glass (if eligible).
  const fallback: ResultReason | undefined =
    policy.default === 'permit' ? 'default-permit' : canBreakGlass ? 'break-glass' : undefined;

  const judge = (raw: ResultFacts): ResultDecision => {
    if (!access.permit) return { permit: false, reason: 'no-access', breakGlass: false };
    const f = factsOf(raw, readDate);
    let permitted: { consent: CompiledConsent; outcome: Outcome } | undefined;
    let sensitiveUnreleased = false;
    for (const consent of applicable) {
      const o = evaluate(consent.root, f, who, now, RELEASED_NOTHING);
      if (!o) continue;
      if (o.type === 'deny') {
        return { permit: false, reason: 'consent-deny', consentId: consent.id, provision: o.provision.path, breakGlass: false };
      }
      if (f.sensitive.every((l) => o.released.has(l))) permitted ??= { consent, outcome: o };
      else sensitiveUnreleased = true;
    }
    if (permitted) {
      return {
        permit: true,
        reason: 'consent-permit',
        consentId: permitted.consent.id,
        provision: permitted.outcome.provision.path,
        breakGlass: false,
      };
    }
    if (f.sensitive.length || sensitiveUnreleased) return { permit: false, reason: 'sensitive-label', breakGlass: false };
    if (!fallback) return { permit: false, reason: 'not-covered', breakGlass: false };
    for (const consent of consents) {
      const o = evaluate(consent.root, f, who, now, RELEASED_NOTHING, true);
      if (o?.type === 'deny') {
        return { permit: false, reason: 'explicit-deny', consentId: consent.id, provision: o.provision.path, breakGlass: false };
      }
    }
    return { permit: true, reason: fallback, breakGlass: fallback === 'break-glass' };
  };

  return { access, judge };
}

/** The whole decision at once, for tests and tools: the access and each result's verdict. */
export function decideConsent(
  input: DecisionInput,
  results: readonly ResultFacts[],
): { access: AccessDecision; results: ResultDecision[] } {
  const j = judgeConsent(input);
  return { access: j.access, results: results.map((r) => j.judge(r)) };
}

/**
 * One judgement for identities merged into one resident (docs/consent.md §13): each identity's
 * consents are judged on their own, and where they differ the stricter holds. An identity with any
 * active consent takes a position — also when none of its consents names this asker: "my city's
 * hospitals only" is a position on every other hospital. One without abstains (a duplicate record
 * made in error usually has none, and the policy default is not the resident's word). The access
 * is permitted when every identity taking a position permits it, and each result is released only
 * when every one of them releases it; when none takes a position, the survivor's judgement (the
 * default, or break-glass) stands alone. Pure; the first entry is the survivor's.
 */
export function combineJudgements(identities: ReadonlyArray<{ judgement: ConsentJudgement; hasConsents: boolean }>): ConsentJudgement {
  const positioned = identities.filter((i) => i.hasConsents).map((i) => i.judgement);
  if (positioned.length === 0) return identities[0]!.judgement;
  if (positioned.length === 1) return positioned[0]!;
  const refusing = positioned.find((j) => !j.access.permit);
  const access: AccessDecision = refusing
    ? { ...refusing.access, consentIds: positioned.flatMap((j) => j.access.consentIds) }
    : {
        permit: true,
        breakGlassOnly: positioned.some((j) => j.access.breakGlassOnly),
        reason: positioned.find((j) => j.access.reason !== 'consent')?.access.reason ?? 'consent',
        consentIds: positioned.flatMap((j) => j.access.consentIds),
      };
  return {
    access,
    judge(facts) {
      let first: ResultDecision | undefined;
      for (const j of positioned) {
        const d = j.judge(facts);
        if (!d.permit) return d;
        if (d.breakGlass) first = d;
        else first ??= d;
      }
      return first!;
    },
  };
}
