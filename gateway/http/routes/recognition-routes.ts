import type { RecognitionOperations } from '../../recognition/recognition-service';
import { accessOf } from '../access';
import type { Route } from '../route';

/** The recognition operations (API.md §6) as routes; the operations themselves know no HTTP. */
export function recognitionRoutes(ops: RecognitionOperations): Route[] {
  return [
    {
      method: 'GET',
      path: '/Patient/:id/$recognition',
      interaction: '$recognition',
      resourceType: 'Patient',
      access: { kind: 'token', resource: 'DiagnosticReport', permission: 's', roles: ['clinician'] },
      audited: true,
      body: 'none',
      handler: async (req) => ({ body: await ops.recognition(accessOf(req), req.params.id, req.query) }),
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
      handler: async (req) => ({ status: 201, body: await ops.decide(accessOf(req), req.params.id, req.body, req.query) }),
    },
    {
      method: 'GET',
      path: '/$recognition-stats',
      interaction: '$recognition-stats',
      access: { kind: 'token', roles: ['auditor'] },
      audited: true,
      body: 'none',
      handler: async (req) => {
        accessOf(req);
        return { body: await ops.stats(req.query) };
      },
    },
  ];
}
