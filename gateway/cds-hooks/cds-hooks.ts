import { randomUUID } from 'node:crypto';
import type { Identifier } from '@medplum/fhirtypes';
import type { CodeMap } from '../../adapters/common/code-map';
import type { GatewayConfig } from '../config';
import type { Clock, Requester } from '../context';
import { isZonedDateTime } from '../fhir/fhir-date';
import { badRequest, isOperationOutcomeError, notFound } from '../fhir/outcomes';
import type { Access, Subject } from '../patient-data/contract';
import { NATIONAL_ID_SYSTEM } from '../patient-index/national-id';
import { mrnSystem } from '../patient-index/patient-resource';
import type { CatalogItem } from '../recognition/contract';
import { decisionRow, RETEST_REASONS, type DecisionRow, type RetestReason } from '../recognition/decision-store';
import type { Recognition, RecognitionOperations } from '../recognition/recognition-service';
import type { Db } from '../storage/db';
import { recognitionCard, type Card } from './cards';
import { parseFeedback, parseHookRequest } from './cds-request';
import { orderItem } from './order-items';

/**
 * Recognition at the moment of ordering (CDS Hooks 2.0; issue #16): the HIS calls `order-select`
 * (and `order-sign`, the same check as a last chance) with its draft orders; the answer is one card
 * per order for which a result the ordering hospital may recognise already exists. The results
 * are read through the recognition operations and so through the guarded patient data: consent,
 * labels and the access record apply exactly as for a search. Feedback on a card is recorded as a
 * recognition decision, so `$recognition-stats` counts what clinicians did in the order screen.
 */

export interface CdsService {
  hook: 'order-select' | 'order-sign';
  id: string;
  title: string;
  description: string;
  prefetch: Record<string, string>;
}

export const CDS_SERVICES: readonly CdsService[] = [
  {
    hook: 'order-select',
    id: 'recognition-order-select',
    title: '检查检验结果互认（开单时）',
    description: 'While a lab or imaging order is drafted: results of the same test from another hospital in Xiamen, Zhangzhou or Quanzhou that this hospital may recognise instead of repeating it.',
    prefetch: { patient: 'Patient/{{context.patientId}}' },
  },
  {
    hook: 'order-sign',
    id: 'recognition-order-sign',
    title: '检查检验结果互认（签署前）',
    description: 'The same check as a last chance before the orders are signed.',
    prefetch: { patient: 'Patient/{{context.patientId}}' },
  },
];

/** The hook's time budget: the answer comes within it with what is known (a hospital still out is not waited for). */
export const DEFAULT_HOOK_BUDGET_MS = 1000;
/** Kept of the budget for judging, building the cards, the audit commit and the answer. */
const ANSWER_RESERVE_MS = 100;

export interface CdsHooks {
  discovery(): { services: readonly CdsService[] };
  /** `actingAs` learns the requester with the person the hook names, for the audit trail */
  call(access: Access, serviceId: string, body: unknown, actingAs?: (r: Requester) => void): Promise<{ cards: Card[] }>;
  feedback(access: Access, serviceId: string, body: unknown, actingAs?: (r: Requester) => void): Promise<Record<string, never>>;
}

export function createCdsHooks(deps: {
  config: GatewayConfig;
  clock: Clock;
  db: Db;
  rules: Recognition;
  recognition: RecognitionOperations;
  codeMaps: ReadonlyMap<string, CodeMap>;
  budgetMs?: number;
}): CdsHooks {
  const { config, clock, db, rules } = deps;
  const hospitals = new Map(config.hospitals.map((h) => [h.id, h]));
  const budgetMs = deps.budgetMs ?? DEFAULT_HOOK_BUDGET_MS;

  const serviceOf = (id: string): CdsService => {
    const s = CDS_SERVICES.find((x) => x.id === id);
    if (!s) throw notFound('No such CDS service', 'unknown-endpoint');
    return s;
  };

  /** The resident the HIS's prefetched Patient names: by national id, else by this hospital's record number. */
  function subjectOf(identifiers: readonly Identifier[] | undefined, hospitalId: string | undefined): Subject | undefined {
    const nid = identifiers?.find((i) => i.system === NATIONAL_ID_SYSTEM && i.value);
    if (nid) return { identifier: { system: NATIONAL_ID_SYSTEM, value: nid.value! }, param: 'prefetch.patient.identifier' };
    const own = hospitalId ? mrnSystem(config.canonicalBase, hospitalId) : undefined;
    const mrn = identifiers?.find((i) => i.system === own && i.value);
    return mrn ? { identifier: { system: own, value: mrn.value! }, param: 'prefetch.patient.identifier' } : undefined;
  }

  return {
    discovery: () => ({ services: CDS_SERVICES }),

    async call(access, serviceId, body, actingAs) {
      const started = Date.now();
      const service = serviceOf(serviceId);
      access.record.interaction = service.hook;
      const req = parseHookRequest(body);
      if (req.hook !== service.hook) throw badRequest(`This service answers the ${service.hook} hook`, 'hook', 'invalid-parameter');
      const hospitalId = access.requester.hospitalId;
      if (!hospitalId) return { cards: [] };
      // The person ordering is named by the hook's context (CDS Hooks `userId`), as IUA names them in a token.
      const userId = req.userId.replace(/^(Practitioner|PractitionerRole)\//, '').slice(0, 128);
      const acting: Access = { requester: { ...access.requester, user: { id: userId, roles: [] } }, record: access.record };
      actingAs?.(acting.requester);

      const codeMap = deps.codeMaps.get(hospitalId);
      const wanted: Array<{ orderRef?: string; item: CatalogItem }> = [];
      for (const order of req.draftOrders) {
        const item = orderItem(order, { rules, canonicalBase: config.canonicalBase, codeMap });
        if (item && !wanted.some((w) => w.item.code === item.code)) wanted.push({ orderRef: order.id ? `ServiceRequest/${order.id}` : undefined, item });
      }
      const subject = subjectOf(req.patient?.identifier, hospitalId);
      if (!wanted.length || !subject) return { cards: [] };

      let found: Awaited<ReturnType<RecognitionOperations['judged']>>;
      try {
        found = await deps.recognition.judged(acting, subject, wanted.map((w) => w.item), { budgetMs: Math.max(100, budgetMs - (Date.now() - started) - ANSWER_RESERVE_MS) });
      } catch (e) {
        // A resident whose consent permits nothing gets no card and no hint that results exist.
        if (isOperationOutcomeError(e) && e.status === 403) {
          access.record.suppressed = true;
          return { cards: [] };
        }
        throw e;
      }
      if (!found) return { cards: [] };
      const now = clock.now();
      const cards: Card[] = [];
      const kept: Array<Record<string, string>> = [];
      for (const w of wanted) {
        const best = found.verdicts.get(w.item.code)?.find((j) => j.status === 'recognizable');
        if (!best) continue;
        const h = hospitals.get(best.found.hospitalId);
        const card = recognitionCard({
          uuid: randomUUID(),
          suggestionUuid: randomUUID(),
          item: w.item,
          judged: best,
          orderRef: w.orderRef,
          hospital: { name: h?.name ?? best.found.hospitalId, city: h?.city ?? '' },
          // only the offered report's members are released, and shown
          observations: new Map(found.membersOf(best.found).map((o) => [`Observation/${o.id}`, o])),
          publicBaseUrl: config.publicBaseUrl,
          canonicalBase: config.canonicalBase,
          now,
        });
        kept.push({
          id: card.uuid,
          service: service.id,
          client_id: access.requester.clientId,
          requesting_hospital: hospitalId,
          patient_id: found.patientId,
          user_id: userId,
          item: w.item.code,
          result_ref: `${best.found.resource.resourceType}/${best.found.resource.id}`,
          result_hospital: best.found.hospitalId,
          recognition_status: best.status,
          suggestion_id: card.suggestions?.[0]?.uuid ?? '',
          created_at: now.toISOString(),
        });
        cards.push(card);
      }
      // One INSERT for all the cards of the call, before any card is answered (feedback may follow at once).
      if (kept.length) await db('cds_cards').insert(kept);
      return { cards };
    },

    async feedback(access, serviceId, body, actingAs) {
      serviceOf(serviceId);
      access.record.interaction = 'feedback';
      const items = parseFeedback(body);
      const now = clock.now();
      // Every entry is checked before any is stored: a refused request stores none of them.
      const decided: Array<{ cardId: string; row: DecisionRow }> = [];
      for (const [i, f] of items.entries()) {
        const where = `feedback[${i}]`;
        const card = await db('cds_cards').where({ id: f.card, client_id: access.requester.clientId }).first();
        // A card this client was not given is not known to it: nothing says whether it exists.
        if (!card) throw badRequest(`${where}.card: not a card this client was given`, `${where}.card`, 'invalid-parameter');
        access.record.addPatient(card.patient_id);
        // Feedback names no person: it is the decision of the person the card was given to.
        actingAs?.({ ...access.requester, user: { id: card.user_id, roles: [] } });
        let reason: RetestReason | null = null;
        if (f.outcome === 'overridden') {
          // CDS Hooks 2.0 makes the reason optional: a retest without one is counted as "other".
          const code = f.overrideReason?.reason?.code ?? 'other';
          if (!(RETEST_REASONS as readonly string[]).includes(code)) {
            throw badRequest(`${where}.overrideReason.reason.code must be one of ${RETEST_REASONS.join(', ')}`, `${where}.overrideReason`, 'invalid-reason');
          }
          reason = code as RetestReason;
        }
        // A card is decided once; a repeated feedback call (or entry) changes nothing.
        if (card.decided_at || decided.some((d) => d.cardId === card.id)) continue;
        const decidedAt = isZonedDateTime(f.outcomeTimestamp) && Date.parse(f.outcomeTimestamp) <= now.getTime() + 5 * 60_000 ? new Date(f.outcomeTimestamp) : now;
        const note =
          f.overrideReason?.userComment?.trim() ||
          (reason === 'other' ? (f.overrideReason?.reason ? '在开单界面选择了“其他原因”' : '在开单界面重新开单，未说明原因') : null);
        decided.push({
          cardId: card.id,
          row: decisionRow({
            id: randomUUID(),
            patientId: card.patient_id,
            item: card.item,
            priceCny: rules.byCode.get(card.item)?.priceCny,
            resultRef: card.result_ref,
            resultHospital: card.result_hospital,
            requestingHospital: card.requesting_hospital,
            decision: f.outcome === 'accepted' ? 'accepted' : 'retested',
            reason,
            note,
            practitionerId: card.user_id,
            clientId: access.requester.clientId,
            recognitionStatus: card.recognition_status,
            decidedAt,
            recordedAt: now,
            source: 'cds',
          }),
        });
      }
      for (const d of decided) {
        // Claim the card first, so two instances receiving the same feedback store one decision.
        const claimed = await db('cds_cards').where({ id: d.cardId }).whereNull('decided_at').update({ decided_at: now.toISOString() });
        if (!claimed) continue;
        await deps.recognition.store(d.row);
        access.record.resourceIds.add(`cds-card/${d.cardId}`);
      }
      return {};
    },
  };
}
