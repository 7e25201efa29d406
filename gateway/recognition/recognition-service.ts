import type { CatalogItem, PatientIndex, RecognitionService, ResultsService } from '../services';
import type { ServiceDeps } from '../service-deps';
import type { Route } from '../http/route';
import { createAnnotator, recognitionHospitals } from './annotate';
import { recognitionDecisionHandler } from './decision-operation';
import { createItemMatcher } from './item-matcher';
import type { RecognitionContext } from './recognition-context';
import { recognitionHandler } from './recognition-operation';
import { recognitionStatsHandler } from './stats-operation';

/**
 * Mutual recognition (API.md §6): the catalogue, the rule every result is annotated with, and the
 * three operations — `$recognition`, `$recognition-decision`, `$recognition-stats`.
 * Rules live in recognition-status.ts and item-matcher.ts (pure); this file only wires them.
 */
export function createRecognitionService(
  deps: ServiceDeps & { catalog: CatalogItem[]; results: ResultsService; patientIndex: PatientIndex },
): RecognitionService {
  const catalog: readonly CatalogItem[] = Object.freeze([...deps.catalog]);
  const ctx: RecognitionContext = {
    config: deps.config,
    db: deps.db,
    clock: deps.clock,
    catalog,
    byCode: new Map(catalog.map((i) => [i.code, i])),
    matcher: createItemMatcher(catalog),
    annotate: createAnnotator(deps.config),
    hospitals: recognitionHospitals(deps.config),
    results: deps.results,
    patientIndex: deps.patientIndex,
  };

  const routes: Route[] = [
    {
      method: 'GET',
      path: '/Patient/:id/$recognition',
      interaction: '$recognition',
      resourceType: 'Patient',
      access: { kind: 'token', resource: 'DiagnosticReport', permission: 's', roles: ['clinician'] },
      audited: true,
      body: 'none',
      handler: (req) => recognitionHandler(ctx, req),
    },
    {
      method: 'POST',
      path: '/Patient/:id/$recognition-decision',
      interaction: '$recognition-decision',
      resourceType: 'Patient',
      // Recording a decision needs no FHIR create scope: it is a clinician's act on results they may read.
      access: { kind: 'token', roles: ['clinician'] },
      audited: true,
      body: 'json',
      handler: (req) => recognitionDecisionHandler(ctx, req),
    },
    {
      method: 'GET',
      path: '/$recognition-stats',
      interaction: '$recognition-stats',
      access: { kind: 'token', roles: ['auditor'] },
      audited: true,
      body: 'none',
      handler: (req) => recognitionStatsHandler(ctx, req),
    },
  ];

  return {
    catalog,
    itemByCode: (code) => ctx.byCode.get(code),
    matchItem: (resource, members) => ctx.matcher(resource, members),
    annotate: (resource, item, source, requester, now) => {
      ctx.annotate(resource, item, source, requester, now);
    },
    routes: () => routes,
  };
}
