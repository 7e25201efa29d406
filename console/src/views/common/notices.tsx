import type { ComponentChildren } from 'preact';
import { useI18n } from '../context';
import type { ErrorText } from './errors';

/** A refusal or failure, stated plainly, with the OperationOutcome's own words under it. */
export function ErrorBox(props: { error: ErrorText; title?: string; children?: ComponentChildren }) {
  const { t } = useI18n();
  return (
    <div class="notice notice-error" role="alert">
      {props.title && <p class="notice-title">{props.title}</p>}
      <p>{props.error.message}</p>
      {props.error.gateway && (
        <p class="notice-detail">
          {t('refusal.gateway', { text: props.error.gateway })}
          {props.error.code && <code class="code-tag">{props.error.code}</code>}
        </p>
      )}
      {props.children}
    </div>
  );
}

export function Notice(props: { kind: 'info' | 'warning' | 'success'; children: ComponentChildren; live?: boolean }) {
  return (
    <div class={`notice notice-${props.kind}`} role={props.live === false ? undefined : props.kind === 'warning' ? 'alert' : 'status'}>
      {props.children}
    </div>
  );
}
