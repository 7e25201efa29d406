import type { SessionState } from '../auth/session';
import { useI18n } from './context';

/** Everything shown while no one is signed in: loading, signing in, signed out, expired, failed. */
export function SessionScreen(props: { state: Exclude<SessionState, { kind: 'signed-in' }>; onSignIn: () => void; onToggleLang: () => void }) {
  const { t } = useI18n();
  const s = props.state;
  return (
    <div class="gate">
      <div class="gate-card">
        <div class="gate-brand">
          <span class="brand-mark" aria-hidden="true">
            互
          </span>
          <div>
            <h1 class="gate-title">{t('app.title')}</h1>
            <p class="gate-sub">{t('app.subtitle')}</p>
          </div>
        </div>
        {s.kind === 'starting' && (
          <p class="gate-message" role="status" aria-live="polite">
            {t(s.message)}
          </p>
        )}
        {s.kind === 'signed-out' && (
          <p class="gate-message" role="status" data-testid="signed-out">
            {t('session.signedOut')}
          </p>
        )}
        {s.kind === 'expired' && (
          <p class="gate-message gate-warning" role="alert" data-testid="session-expired">
            {t('session.expired')}
          </p>
        )}
        {s.kind === 'failed' && (
          <p class="gate-message gate-warning" role="alert">
            {t(s.message, { reason: s.reason ?? '' })}
          </p>
        )}
        {s.kind !== 'starting' && (
          <button type="button" class="btn btn-primary btn-large" onClick={props.onSignIn}>
            {s.kind === 'expired' ? t('session.signInAgain') : t('session.signIn')}
          </button>
        )}
        <button type="button" class="btn btn-link gate-lang" aria-label={t('app.lang.label')} onClick={props.onToggleLang}>
          {t('app.lang.toggle')}
        </button>
      </div>
    </div>
  );
}
