import type { CdsHooks } from '../../cds-hooks/cds-hooks';
import { accessOf } from '../access';
import type { Route } from '../route';

const JSON_TYPE = 'application/json; charset=utf-8';

/**
 * CDS Hooks 2.0 (https://cds-hooks.hl7.org/2.0/): discovery, the hook calls and feedback. The calls
 * authenticate with the CDS client JWT whose `aud` is the service's URL; the person is the hook
 * context's `userId`. Answers are CDS Hooks JSON; errors, as everywhere, OperationOutcomes.
 */
export function cdsHooksRoutes(cds: CdsHooks): Route[] {
  const access = { kind: 'cds-client' as const, roles: ['clinician' as const] };
  return [
    {
      method: 'GET',
      path: '/cds-services',
      interaction: 'cds-discovery',
      access: { kind: 'none' },
      audited: false,
      body: 'none',
      handler: async () => ({ contentType: JSON_TYPE, body: { ...cds.discovery() } }),
    },
    {
      method: 'POST',
      path: '/cds-services/:id',
      interaction: 'cds-hook',
      access,
      audited: true,
      body: 'json',
      handler: async (req) => ({ contentType: JSON_TYPE, body: await cds.call(accessOf(req), req.params.id, req.body, (r) => (req.requester = r)) }),
    },
    {
      method: 'POST',
      path: '/cds-services/:id/feedback',
      interaction: 'feedback',
      access,
      audited: true,
      body: 'json',
      handler: async (req) => ({ contentType: JSON_TYPE, body: await cds.feedback(accessOf(req), req.params.id, req.body, (r) => (req.requester = r)) }),
    },
  ];
}
