// PLACEHOLDER: replaced by the auth implementation.
import type { AuthService } from '../services';
import type { ServiceDeps } from '../service-deps';
export function createAuthService(_deps: ServiceDeps): AuthService {
  throw new Error('not implemented');
}
