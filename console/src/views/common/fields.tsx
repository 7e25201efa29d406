import type { ComponentChildren } from 'preact';
import type { Translate } from '../../i18n';
import type { NationalIdProblem } from '../../model/national-id';

/** What a field holds, read from its input or select event. */
const valueOf = (e: Event) => (e.currentTarget as HTMLInputElement | HTMLSelectElement).value;

/** The form's one problem, announced: nothing when there is none. */
export function FieldError(props: { problem: string | undefined }) {
  if (!props.problem) return null;
  return (
    <p class="field-error" role="alert">
      {props.problem}
    </p>
  );
}

/** The form's primary button, disabled and relabelled while its request runs. */
export function SubmitButton(props: { busy: boolean; text: string; busyText: string }) {
  return (
    <button type="submit" class="btn btn-primary" disabled={props.busy}>
      {props.busy ? props.busyText : props.text}
    </button>
  );
}

/** A labelled date input (`YYYY-MM-DD`). */
export function DateField(props: { id: string; label: string; value: string; onChange: (value: string) => void; describedBy?: string }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <input id={props.id} class="input" type="date" value={props.value} onInput={(e) => props.onChange(valueOf(e))} aria-describedby={props.describedBy} />
    </div>
  );
}

export interface Choice {
  value: string;
  text: string;
}

/** A labelled select whose first option, the empty value, means "any" (or "pick one"). */
export function SelectField(props: { id: string; label: ComponentChildren; value: string; onChange: (value: string) => void; emptyText: string; choices: readonly Choice[] }) {
  return (
    <div class="field">
      <label for={props.id}>{props.label}</label>
      <select id={props.id} class="input" value={props.value} onChange={(e) => props.onChange(valueOf(e))}>
        <option value="">{props.emptyText}</option>
        {props.choices.map((c) => (
          <option key={c.value} value={c.value}>
            {c.text}
          </option>
        ))}
      </select>
    </div>
  );
}

/** A wide, monospaced identifier input with its hint under it (the hint describes the input). */
export function IdField(props: { id: string; label: string; hint: string; maxLength: number; value: string; onChange: (value: string) => void; invalid?: boolean; inputMode?: 'text' }) {
  const hintId = `${props.id}-hint`;
  return (
    <div class="field field-wide">
      <label for={props.id}>{props.label}</label>
      <input
        id={props.id}
        class="input input-mono"
        inputMode={props.inputMode}
        maxLength={props.maxLength}
        spellcheck={false}
        aria-describedby={hintId}
        aria-invalid={props.invalid ? 'true' : undefined}
        value={props.value}
        onInput={(e) => props.onChange(valueOf(e))}
      />
      <span id={hintId} class="field-hint">
        {props.hint}
      </span>
    </div>
  );
}

/** The 18-character resident identity card number field (checked with `checkNationalId`, messages from `nationalIdProblem`). */
export function NationalIdField(props: { id: string; t: Translate; value: string; onChange: (value: string) => void; invalid?: boolean; inputMode?: 'text' }) {
  const { t, ...rest } = props;
  return <IdField {...rest} label={t('search.nationalId')} hint={t('search.nationalId.hint')} maxLength={18} />;
}

/** What to tell the person when `checkNationalId` refuses their number. */
export function nationalIdProblem(t: Translate, problem: NationalIdProblem): string {
  return problem === 'format' ? t('search.badId') : t('search.badCheckDigit');
}
