import type { Parameters } from '@medplum/fhirtypes';
import type { GatewayConfig } from '../config';
import type { Clock } from '../context';
import type { Access, PatientData, Subject } from '../patient-data/contract';
import type { Db } from '../storage/db';
import { createAnnotator, recognitionHospitals, type Annotate } from './annotate';
import type { CatalogItem, RecognitionRules } from './contract';
import { recordDecision } from './decision-operation';
import { createItemMatcher, type ItemMatcher } from './item-matcher';
import type { RecognitionContext } from './recognition-context';
import { judgedFor, recognitionOperation } from './recognition-operation';
import { insertDecision, type DecisionRow } from './decision-store';
import type { RecognitionHospital } from './recognition-status';
import { recognitionStats } from './stats-operation';

/**
 * Mutual recognition (API.md §6) in two parts: the rules every result is matched and annotated
 * with (used by the guarded patient data), and the three operations — `$recognition`,
 * `$recognition-decision`, `$recognition-stats` — which read results only through that patient
 * data. Rules live in recognition-status.ts and item-matcher.ts (pure); this file only wires them.
 */
export interface Recognition extends RecognitionRules {
  readonly byCode: ReadonlyMap<string, CatalogItem>;
  readonly matcher: ItemMatcher;
  readonly hospitals: ReadonlyMap<string, RecognitionHospital>;
  readonly annotator: Annotate;
}

export function createRecognitionRules(config: GatewayConfig, items: readonly CatalogItem[]): Recognition {
  const catalog: readonly CatalogItem[] = Object.freeze([...items]);
  const byCode = new Map(catalog.map((i) => [i.code, i]));
  const matcher = createItemMatcher(catalog);
  const annotate = createAnnotator(config);
  return {
    catalog,
    byCode,
    matcher,
    hospitals: recognitionHospitals(config),
    annotator: annotate,
    itemByCode: (code) => byCode.get(code),
    matchItem: (resource, members) => matcher(resource, members),
    annotate: (resource, item, source, requester, now) => {
      annotate(resource, item, source, requester, now);
    },
  };
}

export interface RecognitionOperations {
  /** `GET /Patient/{id}/$recognition` */
  recognition(access: Access, patientId: string, query: Record<string, string[]>): Promise<Parameters>;
  /** `POST /Patient/{id}/$recognition-decision`: the stored decision (the query may only repeat the token's hospital) */
  decide(access: Access, patientId: string, body: unknown, query?: Record<string, string[]>): Promise<Parameters>;
  /** the patient's results of these items judged for the requester, newest first per item (CDS Hooks); null: patient unknown */
  judged(access: Access, subject: Subject, items: readonly CatalogItem[], opts?: { budgetMs?: number }): ReturnType<typeof judgedFor>;
  /** store a decision made outside the `$recognition-decision` operation (CDS Hooks feedback), for the same statistics */
  store(row: DecisionRow): Promise<void>;
  /** `GET /$recognition-stats` (aggregates only: no patient is named) */
  stats(query: Record<string, string[]>): Promise<Parameters>;
}

export function createRecognitionOperations(deps: { config: GatewayConfig; db: Db; clock: Clock; rules: Recognition; patientData: PatientData }): RecognitionOperations {
  const { rules } = deps;
  const ctx: RecognitionContext = {
    config: deps.config,
    db: deps.db,
    clock: deps.clock,
    catalog: rules.catalog,
    byCode: rules.byCode,
    matcher: rules.matcher,
    annotate: rules.annotator,
    hospitals: rules.hospitals,
    patientData: deps.patientData,
  };
  return {
    recognition: (access, patientId, query) => recognitionOperation(ctx, access, patientId, query),
    decide: (access, patientId, body, query) => recordDecision(ctx, access, patientId, body, query),
    stats: (query) => recognitionStats(ctx, query),
    judged: (access, subject, items, opts) => judgedFor(ctx, access, subject, items, opts),
    store: (row) => insertDecision(deps.db, row),
  };
}
