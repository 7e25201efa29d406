import type { OperationOutcome } from '@medplum/fhirtypes';

/**
 * What a searchset's outcome entries say (API.md §4–§5): hospitals that did not answer (warning
 * `timeout` / `transient` / `exception`, the hospital id in `diagnostics` or the text), results
 * withheld under consent (`suppressed`), parameters the gateway ignored.
 */

export interface HospitalFailure {
  hospitalId: string;
  kind: string;
}

export interface OutcomeSummary {
  failures: HospitalFailure[];
  suppressed: boolean;
  ignored: string[];
}

const FAILURE_KINDS = new Set(['timeout', 'transient', 'exception']);

export function summariseOutcomes(outcomes: readonly OperationOutcome[]): OutcomeSummary {
  const out: OutcomeSummary = { failures: [], suppressed: false, ignored: [] };
  const seen = new Set<string>();
  for (const o of outcomes) {
    for (const issue of o.issue ?? []) {
      const code = issue.details?.coding?.[0]?.code;
      if (issue.code === 'suppressed' || code === 'consent-suppressed') out.suppressed = true;
      else if (code === 'ignored-parameter') out.ignored.push(issue.details?.text ?? issue.diagnostics ?? '');
      else if (FAILURE_KINDS.has(issue.code ?? '') || code?.startsWith('hospital-')) {
        const hospitalId = issue.diagnostics?.trim() || /Hospital (\S+)/.exec(issue.details?.text ?? '')?.[1] || '?';
        if (!seen.has(hospitalId)) {
          seen.add(hospitalId);
          out.failures.push({ hospitalId, kind: FAILURE_KINDS.has(issue.code ?? '') ? issue.code! : 'exception' });
        }
      }
    }
  }
  return out;
}
