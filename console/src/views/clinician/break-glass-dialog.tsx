import { useState } from 'preact/hooks';
import { OAuthFailure } from '../../auth/smart-client';
import { Dialog } from '../common/dialog';
import { FieldError } from '../common/fields';
import { useI18n, useServices } from '../context';

/** shortest reason accepted: a word or two, so the audit office has something to review */
export const MIN_REASON_LENGTH = 4;

/**
 * Break-glass: a visible warning and a typed reason, then a token with purpose of use ETREAT
 * obtained by refresh (the reason travels to the token endpoint and so into the audit trail).
 */
export function BreakGlassDialog(props: { onDone: () => void; onCancel: () => void }) {
  const { t } = useI18n();
  const { session } = useServices();
  const [reason, setReason] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    // one line: the reason goes into a token and the audit trail, where line breaks are not kept
    const r = reason.replace(/\s+/g, ' ').trim();
    if ([...r].length < MIN_REASON_LENGTH) return setProblem(t('bg.reasonTooShort'));
    setBusy(true);
    setProblem(undefined);
    try {
      await session.breakGlass(r);
      props.onDone();
    } catch (err) {
      setProblem(t('bg.failed', { reason: err instanceof OAuthFailure ? err.description || err.error : String(err) }));
      setBusy(false);
    }
  };

  return (
    <Dialog title={t('bg.title')} tone="danger" onClose={props.onCancel}>
      <form onSubmit={submit} method="post" noValidate>
        <p class="notice notice-danger" role="note">
          {t('bg.warning')}
        </p>
        <div class="field field-wide">
          <label for="break-glass-reason">{t('bg.reason')}</label>
          <textarea
            id="break-glass-reason"
            class="input"
            rows={3}
            maxLength={500}
            required
            aria-invalid={problem ? 'true' : undefined}
            value={reason}
            onInput={(e) => setReason((e.currentTarget as HTMLTextAreaElement).value)}
          />
        </div>
        <FieldError problem={problem} />
        <div class="dialog-actions">
          <button type="button" class="btn btn-light" onClick={props.onCancel} disabled={busy}>
            {t('bg.cancel')}
          </button>
          <button type="submit" class="btn btn-danger" disabled={busy}>
            {t('bg.confirm')}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
