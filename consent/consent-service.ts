import type { ConsentGate, ConsentService, PatientIndex, ResultFacts } from '../gateway/services';
import type { ServiceDeps } from '../gateway/service-deps';
import { forbidden } from '../gateway/fhir/outcomes';
import { isBreakGlassRequest, judgeAccess, judgeResult, type AccessContext } from './consent-decision';
import { consentRoutes } from './consent-routes';
import { createConsentStore, type ConsentStore } from './consent-store';

/**
 * Consent on every access (API.md §5): the patient's active consents are read from the database
 * for each request (one indexed query, so a withdrawal holds at once everywhere) and judged by the
 * pure functions of consent-decision.ts.
 */
export function createConsentService(deps: ServiceDeps & { patientIndex: PatientIndex }): ConsentService & { store: ConsentStore } {
  const { config, db, clock, patientIndex } = deps;
  const store = createConsentStore(db, clock);
  const policy = config.consent.default;
  const itemSystem = `${config.canonicalBase}/CodeSystem/recognition-item`;

  return {
    store,
    async gateFor(patientId, requester): Promise<ConsentGate> {
      const consents = await store.activeFor(patientId);
      const ctx: AccessContext = { hospitalId: requester.hospitalId, roles: requester.roles, purposeOfUse: requester.purposeOfUse, now: clock.now(), itemSystem };
      const access = judgeAccess(consents, ctx, policy);
      if (access.access === 'deny') {
        throw forbidden('The patient\'s consent does not permit access to their results for this hospital and purpose', 'consent-required');
      }
      return {
        breakGlass: isBreakGlassRequest(ctx),
        permits: (facts: ResultFacts) => judgeResult(consents, ctx, policy, facts).permit,
      };
    },
    routes: () => consentRoutes({ config, store, patientIndex }),
  };
}
