// PLACEHOLDER: replaced by the audit implementation.
import type { AuditService } from '../services';
import type { ServiceDeps } from '../service-deps';
export function createAuditService(_deps: ServiceDeps): AuditService {
  throw new Error('not implemented');
}
