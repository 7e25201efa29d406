import type { Parameters } from '@medplum/fhirtypes';
import { useState } from 'preact/hooks';
import { label, type MessageKey } from '../../i18n';
import { chinaDateTime } from '../../model/format';
import type { TimelineRow } from '../../model/timeline';
import { errorText, type ErrorText } from '../common/errors';
import { FieldError, SelectField, SubmitButton } from '../common/fields';
import { ErrorBox } from '../common/notices';
import { useI18n, useServices } from '../context';

/** the national retest reasons (API.md §6) */
export const RETEST_REASONS = ['condition-changed', 'emergency', 'quality-doubt', 'patient-request', 'other'] as const;

/**
 * `POST /Patient/{id}/$recognition-decision`: accepted, or retested with a reason (and a note for
 * `other`). The gateway takes the hospital and the physician from the token.
 */
export function DecisionForm(props: { row: TimelineRow; patientId: string }) {
  const { t } = useI18n();
  const { api } = useServices();
  const { row } = props;
  const [decision, setDecision] = useState<'accepted' | 'retested' | ''>('');
  const [reason, setReason] = useState('');
  const [note, setNote] = useState('');
  const [problem, setProblem] = useState<string | undefined>();
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<{ decision: string; recorded: string } | undefined>();
  const [error, setError] = useState<ErrorText | undefined>();
  const status = row.recognition.status;
  const item = row.recognition.itemCode;

  if (!item || status === 'own') {
    const why = status === 'own' ? t('recog.why.own') : t('recog.why.not-in-catalog');
    return (
      <section class="decision" aria-labelledby="decision-title">
        <h3 id="decision-title" class="section-title">
          {t('decision.title')}
        </h3>
        <p class="muted">{t('decision.notPossible', { why })}</p>
      </section>
    );
  }

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!decision) return setProblem(t('decision.choiceRequired'));
    if (decision === 'retested' && !reason) return setProblem(t('decision.reasonRequired'));
    if (decision === 'retested' && reason === 'other' && !note.trim()) return setProblem(t('decision.noteRequired'));
    setProblem(undefined);
    setError(undefined);
    setSaving(true);
    const parameter: NonNullable<Parameters['parameter']> = [
      { name: 'item', valueCode: item },
      { name: 'result', valueReference: { reference: `${row.resource.resourceType}/${row.resource.id}` } },
      { name: 'decision', valueCode: decision },
    ];
    if (decision === 'retested') {
      parameter.push({ name: 'reason', valueCode: reason });
      if (note.trim()) parameter.push({ name: 'note', valueString: note.trim() });
    }
    try {
      const echo = await api.postJson<Parameters>(`/Patient/${encodeURIComponent(props.patientId)}/$recognition-decision`, { resourceType: 'Parameters', parameter });
      const recorded = echo.parameter?.find((p) => p.name === 'recorded')?.valueInstant ?? echo.parameter?.find((p) => p.name === 'performedAt')?.valueDateTime ?? new Date().toISOString();
      setSaved({ decision, recorded });
    } catch (err) {
      setError(errorText(t, err));
    } finally {
      setSaving(false);
    }
  };

  return (
    <section class="decision" aria-labelledby="decision-title">
      <h3 id="decision-title" class="section-title">
        {t('decision.title')}
      </h3>
      <p class="muted">{t('decision.intro')}</p>
      {status !== 'recognizable' && <p class="notice notice-info">{t('decision.statusWarn', { status: label(t, 'recog', status, status ?? '') })}</p>}
      {saved ? (
        <div class="notice notice-success" role="status" data-testid="decision-saved">
          {t('decision.saved', { decision: t(saved.decision === 'accepted' ? 'decision.accepted' : 'decision.retested'), time: chinaDateTime(saved.recorded) })}
        </div>
      ) : (
        <form onSubmit={submit} method="post" noValidate>
          <fieldset class="choice">
            <legend>{t('decision.choice')}</legend>
            {(['accepted', 'retested'] as const).map((d) => (
              <label key={d} class="radio">
                <input type="radio" name="decision" value={d} checked={decision === d} onChange={() => setDecision(d)} />
                {t(d === 'accepted' ? 'decision.accepted' : 'decision.retested')}
              </label>
            ))}
          </fieldset>
          {decision === 'retested' && (
            <div class="form-row">
              <SelectField
                id="decision-reason"
                label={t('decision.reason')}
                value={reason}
                onChange={setReason}
                emptyText={t('decision.reason.pick')}
                choices={RETEST_REASONS.map((r) => ({ value: r, text: t(`reason.${r}` as MessageKey) }))}
              />
              <div class="field field-wide">
                <label for="decision-note">{t('decision.note')}</label>
                <input id="decision-note" class="input" maxLength={2000} value={note} onInput={(e) => setNote((e.currentTarget as HTMLInputElement).value)} />
              </div>
            </div>
          )}
          <FieldError problem={problem} />
          {error && <ErrorBox error={error} />}
          <SubmitButton busy={saving} text={t('decision.submit')} busyText={t('decision.saving')} />
        </form>
      )}
    </section>
  );
}
