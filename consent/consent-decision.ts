import type { Coding, Consent, ConsentProvision, Period } from '@medplum/fhirtypes';
import type { Role } from '../gateway/config';
import type { ResultFacts } from '../gateway/services';

/**
 * The consent decision (API.md §5, PIPL Art. 28–29) as pure functions: the patient's consents,
 * who asks and why, and each result's facts in; permit or deny, and why, out. Nothing here reads
 * a database or a clock.
 *
 * A consent's root provision permits; it applies when its period covers now, its recipients (actor
 * role IRCP; none = every member hospital) include the requesting hospital and its purposes (if
 * any) include the purpose of use. Inside, a provision covers a result when its class, code,
 * dataPeriod and securityLabel match; nested provisions carve out exceptions, to any depth, the
 * deepest matching one deciding (a deny among siblings wins). Results with a sensitive label need a
 * permit whose provision path names that label. Break-glass (ETREAT/BTG, clinician) passes where no
 * consent covers a result, never past an explicit deny or a sensitive label.
 */

export const IRCP = 'IRCP';
export const RESOURCE_TYPES_SYSTEM = 'http://hl7.org/fhir/resource-types';
export const BREAK_GLASS = new Set(['ETREAT', 'BTG']);
/** Labels that mark a result as sensitive: confidentiality R/V and v3-ActCode sensitivity codes. */
export const SENSITIVE_LABELS = new Set(['R', 'V', 'HIV', 'ETH', 'PSY', 'SDV', 'SEX', 'STD', 'SUD', 'BH', 'GDIS']);

export type Policy = 'deny' | 'permit';

export interface AccessContext {
  hospitalId?: string;
  roles: readonly Role[];
  purposeOfUse: string;
  now: Date;
  /** system of catalog item codes in provision.code */
  itemSystem?: string;
}

export type AccessBasis = 'consent' | 'default-permit' | 'break-glass';
export type AccessJudgement = { access: 'permit'; basis: AccessBasis; consents: Consent[] } | { access: 'deny'; reason: string };

export interface ResultJudgement {
  permit: boolean;
  reason:
    | 'consent-permit'
    | 'consent-deny'
    | 'sensitive-unnamed'
    | 'not-covered'
    | 'default-permit'
    | 'break-glass';
}

export const isBreakGlassRequest = (ctx: Pick<AccessContext, 'roles' | 'purposeOfUse'>) =>
  BREAK_GLASS.has(ctx.purposeOfUse) && ctx.roles.includes('clinician');

function inPeriod(t: number, p: Period | undefined): boolean {
  if (!p) return true;
  if (p.start && t < Date.parse(periodStart(p.start))) return false;
  if (p.end && t >= Date.parse(periodEnd(p.end))) return false;
  return true;
}

/** A date-only bound covers its whole day (China time). */
const periodStart = (s: string) => (s.length === 10 ? `${s}T00:00:00+08:00` : s);
const periodEnd = (s: string) => (s.length === 10 ? new Date(Date.parse(`${s}T00:00:00+08:00`) + 86_400_000).toISOString() : s);

function recipients(p: ConsentProvision): string[] | undefined {
  const rs = (p.actor ?? []).filter((a) => !a.role?.coding?.length || a.role.coding.some((c) => c.code === IRCP));
  if (!rs.length) return undefined;
  return rs.map((a) => a.reference?.reference?.replace(/^Organization\//, '') ?? '');
}

/** Does a provision's own who/when/why match the request (not yet the result)? */
function matchesRequest(p: ConsentProvision, ctx: AccessContext): boolean {
  if (!inPeriod(ctx.now.getTime(), p.period)) return false;
  const r = recipients(p);
  if (r && (!ctx.hospitalId || !r.includes(ctx.hospitalId))) return false;
  if (p.purpose?.length && !p.purpose.some((c) => c.code === ctx.purposeOfUse)) return false;
  return true;
}

const codes = (cs: Coding[] | undefined) => new Set((cs ?? []).map((c) => c.code).filter((c): c is string => Boolean(c)));

function matchesResult(p: ConsentProvision, facts: ResultFacts, ctx: AccessContext): boolean {
  if (p.class?.length && !p.class.some((c) => c.code === facts.resourceType && (!c.system || c.system === RESOURCE_TYPES_SYSTEM))) return false;
  if (p.code?.length) {
    const item = facts.catalogItem;
    if (!item) return false;
    if (!p.code.some((cc) => (cc.coding ?? []).some((c) => c.code === item && (!c.system || !ctx.itemSystem || c.system === ctx.itemSystem)))) return false;
  }
  if (p.dataPeriod) {
    const t = Date.parse(facts.date ?? '');
    if (Number.isNaN(t) || !inPeriod(t, p.dataPeriod)) return false;
  }
  if (p.securityLabel?.length) {
    const labels = codes(p.securityLabel);
    if (!facts.securityLabels.some((l) => labels.has(l))) return false;
  }
  return true;
}

interface Evaluation {
  decision: 'permit' | 'deny';
  /** security labels named on the path to the deciding provision */
  named: Set<string>;
}

/** The decision of one provision tree for one result, or undefined when it does not cover it. */
export function evaluateProvision(p: ConsentProvision, facts: ResultFacts, ctx: AccessContext, inherited = new Set<string>()): Evaluation | undefined {
  if (!matchesRequest(p, ctx) || !matchesResult(p, facts, ctx)) return undefined;
  const named = new Set([...inherited, ...codes(p.securityLabel)]);
  const own: Evaluation = { decision: p.type ?? 'permit', named };
  const nested = (p.provision ?? []).map((c) => evaluateProvision(c, facts, ctx, named)).filter((e): e is Evaluation => Boolean(e));
  return nested.find((e) => e.decision === 'deny') ?? nested.find((e) => e.decision === 'permit') ?? own;
}

const activeNow = (c: Consent, ctx: AccessContext) => c.status === 'active' && c.provision !== undefined && matchesRequest(c.provision, ctx);

/** May this requester see anything of the patient at all? (403 when not.) */
export function judgeAccess(consents: readonly Consent[], ctx: AccessContext, policy: Policy): AccessJudgement {
  const applicable = consents.filter((c) => activeNow(c, ctx) && (c.provision?.type ?? 'permit') === 'permit');
  if (applicable.length) return { access: 'permit', basis: 'consent', consents: applicable };
  if (policy === 'permit') return { access: 'permit', basis: 'default-permit', consents: [] };
  if (isBreakGlassRequest(ctx)) return { access: 'permit', basis: 'break-glass', consents: [] };
  return { access: 'deny', reason: 'no active consent permits this hospital and purpose' };
}

/** May this result be shown? Consents are the patient's active ones (all of them, not only applicable). */
export function judgeResult(consents: readonly Consent[], ctx: AccessContext, policy: Policy, facts: ResultFacts): ResultJudgement {
  const sensitive = facts.securityLabels.filter((l) => SENSITIVE_LABELS.has(l));
  const evaluations = consents
    .filter((c) => c.status === 'active' && c.provision)
    .map((c) => evaluateProvision(c.provision!, facts, ctx))
    .filter((e): e is Evaluation => Boolean(e));
  if (evaluations.some((e) => e.decision === 'deny')) return { permit: false, reason: 'consent-deny' };
  const permits = evaluations.filter((e) => e.decision === 'permit');
  if (permits.some((e) => sensitive.every((l) => e.named.has(l)))) return { permit: true, reason: 'consent-permit' };
  if (sensitive.length) return { permit: false, reason: 'sensitive-unnamed' };
  if (permits.length) return { permit: true, reason: 'consent-permit' };
  if (policy === 'permit') return { permit: true, reason: 'default-permit' };
  if (isBreakGlassRequest(ctx)) return { permit: true, reason: 'break-glass' };
  return { permit: false, reason: 'not-covered' };
}
