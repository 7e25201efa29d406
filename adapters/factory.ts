// PLACEHOLDER: replaced by the adapters implementation.
import type { Logger } from 'pino';
import type { HospitalConfig } from '../gateway/config';
import type { Metrics } from '../gateway/metrics';
import type { HospitalAdapter } from './adapter';
export function createAdapter(_hospital: HospitalConfig, _deps: { log: Logger; metrics: Metrics }): HospitalAdapter {
  throw new Error('not implemented');
}
