import type { ConsentGate, ConsentService, ResultFacts } from './contract';
import type { PatientDirectory } from '../gateway/patient-index/contract';
import type { ServiceDeps } from '../gateway/service-deps';
import type { Requester } from '../gateway/context';
import { forbidden } from '../gateway/fhir/outcomes';
import { breakGlassEligible, combineJudgements, compileConsents, judgeConsent, type ConsentPolicy, type ResultDecision } from './consent-decision';
import { createConsentRegistry, type ConsentRegistry } from './consent-registry';
import { createConsentStore, type ConsentStore } from './consent-store';
import { createConsentCache } from './consent-cache';
import { consentEpochReader } from './consent-epoch';

/** The consent service with what the demo loader and tools need beside the contract. */
export interface GatewayConsentService extends ConsentService {
  readonly store: ConsentStore;
  readonly registry: ConsentRegistry;
}

/**
 * A gate that also tells why (tests, audit). `breakGlass` is true when an emergency requester
 * (ETREAT/BTG, clinician) is judged under opt-in — whether no consent applies at all or break-glass
 * may release what the applicable consents leave out — and turns true if a result was released by
 * break-glass alone.
 */
export interface ExplainingConsentGate extends ConsentGate {
  explain(facts: ResultFacts): ResultDecision;
}

/**
 * Consent on every access (API.md §5). `gateFor` judges the patient's active consents with the pure
 * functions of consent-decision.ts, the consents read through an epoch-checked cache
 * (consent-cache.ts: one shared primary-key read per request when nothing changed; a withdrawal
 * stored by any gateway instance holds from the next request on). Refusal of the whole access is a 403 `forbidden` OperationOutcome.
 */
export function createConsentService(deps: ServiceDeps & { patientIndex: PatientDirectory }): GatewayConsentService {
  const { config, db, reader, clock, patientIndex } = deps;
  const store = createConsentStore(db, clock, reader);
  const registry = createConsentRegistry({ config, store, patientIndex, clock });
  const policy: ConsentPolicy = { default: config.consent.default, canonicalBase: config.canonicalBase };

  // Merged identities answer together, and each one's consents count (combineJudgements). The group
  // and the consents are read through the cache, checked against the consent epoch on every
  // judgement, so a consent change or an unmerge by any instance holds at the next request.
  const cache = createConsentCache({
    readEpoch: consentEpochReader(reader),
    load: async (patientId) => {
      const group = await patientIndex.identityGroup(patientId);
      const consents = await Promise.all(group.map(async (id) => compileConsents(await store.activeFor(id), policy.canonicalBase)));
      return { group, consents };
    },
    onLookup: (result) => deps.metrics.consentCache.inc({ result }),
  });

  async function judged(patientId: string, requester: Requester) {
    const { consents } = await cache.inputsFor(patientId);
    const now = clock.now();
    return combineJudgements(
      consents.map((c) => ({ judgement: judgeConsent({ consents: c, requester, policy, now }), hasConsents: c.length > 0 })),
    );
  }

  async function gateFor(patientId: string, requester: Requester): Promise<ExplainingConsentGate> {
    const judgement = await judged(patientId, requester);
    const { access } = judgement;
    if (!access.permit) {
      throw forbidden(
        access.reason === 'no-hospital'
          ? 'Results are released to member hospitals only'
          : 'No consent of the patient permits this hospital to see their results',
        'consent-required',
      );
    }
    return gateOf(judgement, requester);
  }

  function gateOf(judgement: ReturnType<typeof judgeConsent>, requester: Requester): ExplainingConsentGate {
    const { access } = judgement;
    // Marked up front, not only once a result needed it: callers may copy `breakGlass` into the
    // audit record before judging results, and every access that invokes break-glass where it can
    // release something (opt-in) must be marked (API.md §5). `explain` tells per result.
    let breakGlass = access.breakGlassOnly || (access.permit && breakGlassEligible(requester) && policy.default === 'deny');
    const explain = (facts: ResultFacts): ResultDecision => {
      const d = judgement.judge(facts);
      if (d.breakGlass) breakGlass = true;
      return d;
    };
    return {
      get breakGlass() {
        return breakGlass;
      },
      explain,
      permits: (facts) => explain(facts).permit,
    };
  }

  return {
    store,
    registry,
    gateFor,
    async gateIfPermitted(patientId, requester) {
      const judgement = await judged(patientId, requester);
      return judgement.access.permit ? gateOf(judgement, requester) : null;
    },
  };
}
