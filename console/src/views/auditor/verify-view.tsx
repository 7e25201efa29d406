import type { Parameters } from '@medplum/fhirtypes';
import { useState } from 'preact/hooks';
import { label, type Translate } from '../../i18n';
import { errorText, type ErrorText } from '../common/errors';
import { ErrorBox } from '../common/notices';
import { useI18n, useServices } from '../context';

interface VerifyResult {
  valid: boolean;
  checked: number;
  firstInvalid?: string;
  problem?: string;
  headSeq?: string;
  headHash?: string;
  /** the signed checkpoints, when the gateway keeps them (docs/audit.md §3) */
  checkpoints?: { total: number; anchored: number; unanchored: number; invalid: number; uncheckpointed: number };
  checkpointFault?: { seq?: number; problem?: string; detail?: string };
  anchorFault?: { problem?: string; detail?: string };
}

/** `GET /AuditEvent/$verify`, its answer said plainly: intact, or broken at which event and how. */
export function VerifyView() {
  const { t } = useI18n();
  const { api } = useServices();
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<VerifyResult | undefined>();
  const [error, setError] = useState<ErrorText | undefined>();

  const run = async () => {
    setBusy(true);
    setError(undefined);
    setResult(undefined);
    try {
      const p = await api.get<Parameters>('/AuditEvent/$verify');
      const get = (n: string) => p.parameter?.find((x) => x.name === n);
      setResult({
        valid: get('valid')?.valueBoolean === true,
        checked: get('checked')?.valueInteger ?? 0,
        ...(get('firstInvalid')?.valueString ? { firstInvalid: get('firstInvalid')!.valueString! } : {}),
        ...(get('problem')?.valueCode ? { problem: get('problem')!.valueCode! } : {}),
        ...(get('headSeq')?.valueString ? { headSeq: get('headSeq')!.valueString! } : {}),
        ...(get('headHash')?.valueString ? { headHash: get('headHash')!.valueString! } : {}),
        ...(get('checkpoints')
          ? {
              checkpoints: {
                total: get('checkpoints')?.valueInteger ?? 0,
                anchored: get('anchoredCheckpoints')?.valueInteger ?? 0,
                unanchored: get('unanchoredCheckpoints')?.valueInteger ?? 0,
                invalid: get('invalidCheckpoints')?.valueInteger ?? 0,
                uncheckpointed: get('uncheckpointedEvents')?.valueInteger ?? 0,
              },
            }
          : {}),
        ...(get('firstInvalidCheckpoint') || get('checkpointProblem')
          ? { checkpointFault: { seq: get('firstInvalidCheckpoint')?.valueInteger, problem: get('checkpointProblem')?.valueCode, detail: get('checkpointDetail')?.valueString } }
          : {}),
        ...(get('anchorProblem') ? { anchorFault: { problem: get('anchorProblem')?.valueCode, detail: get('anchorDetail')?.valueString } } : {}),
      });
    } catch (e) {
      setError(errorText(t, e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="verify-title">
      <h2 id="verify-title" class="card-title">
        {t('verify.title')}
      </h2>
      <p class="muted">{t('verify.intro')}</p>
      <button type="button" class="btn btn-primary" onClick={() => void run()} disabled={busy}>
        {busy ? t('verify.running') : t('verify.run')}
      </button>
      {error && <ErrorBox error={error} />}
      {result && (
        <div class={`verify-result ${result.valid ? 'verify-ok' : 'verify-broken'}`} role={result.valid ? 'status' : 'alert'} data-testid="verify-result">
          <p class="verify-headline">
            <span aria-hidden="true">{result.valid ? '✔' : '✖'}</span>{' '}
            {headline(t, result)}
          </p>
          {result.checkpoints && <p>{t('verify.checkpoints', result.checkpoints)}</p>}
          {result.checkpointFault && (
            <p>{t('verify.checkpointFault', { seq: result.checkpointFault.seq ?? '?', problem: result.checkpointFault.problem ?? '', detail: result.checkpointFault.detail ?? '' })}</p>
          )}
          {result.anchorFault && <p>{t('verify.anchorFault', { problem: result.anchorFault.problem ?? '', detail: result.anchorFault.detail ?? '' })}</p>}
          {result.headSeq && <p class="mono small">{t('verify.head', { seq: result.headSeq, hash: result.headHash ?? '' })}</p>}
        </div>
      )}
    </section>
  );
}

/** The verdict in one sentence: intact, broken at which event, broken without one, or not to be trusted. */
function headline(t: Translate, r: VerifyResult): string {
  const n = r.checked;
  if (r.valid) return t('verify.valid', { n });
  if (r.firstInvalid) return t('verify.broken', { n, id: r.firstInvalid, problem: label(t, 'verify.problem', r.problem, r.problem ?? '') });
  if (r.problem) return t('verify.brokenNoId', { n, problem: label(t, 'verify.problem', r.problem, r.problem) });
  return t('verify.brokenTrust', { n });
}
