import type { Bundle, Organization } from '@medplum/fhirtypes';
import { useEffect, useMemo, useState } from 'preact/hooks';
import type { FhirClient } from '../api/fhir-client';
import type { Session, SessionState } from '../auth/session';
import type { ConsoleUser } from '../auth/smart-client';
import { label, storeLang, translator, type Lang, type MessageKey } from '../i18n';
import { hospitalsFrom, type Hospital } from '../model/hospitals';
import { AuditSearchView } from './auditor/audit-search';
import { StatsView } from './auditor/stats-view';
import { VerifyView } from './auditor/verify-view';
import { ClinicianView } from './clinician/clinician-view';
import { I18nContext, ServicesContext, useI18n } from './context';
import { AccessReportView } from './registrar/access-report-view';
import { SessionScreen } from './session-screen';

/**
 * The console's shell: the session decides what is shown (sign-in under way, signed in, signed
 * out, expired); once signed in, the person's roles decide the menu. Views stay mounted while the
 * person moves between them (their state is kept in memory), and all of it is dropped when the
 * session ends.
 */

type ViewId = 'patients' | 'audit' | 'verify' | 'stats' | 'access-report';

const MENU: Array<{ id: ViewId; roles: readonly string[]; label: MessageKey }> = [
  { id: 'patients', roles: ['clinician'], label: 'app.nav.patients' },
  { id: 'audit', roles: ['auditor'], label: 'app.nav.audit' },
  { id: 'verify', roles: ['auditor'], label: 'app.nav.verify' },
  { id: 'stats', roles: ['auditor'], label: 'app.nav.stats' },
  // the resident's access report (docs/audit.md §6): a registrar for their hospital's residents, an auditor for all
  { id: 'access-report', roles: ['registrar', 'auditor'], label: 'app.nav.accessReport' },
];

export function App(props: { session: Session; api: FhirClient; initialLang: Lang }) {
  const [lang, setLang] = useState<Lang>(props.initialLang);
  const i18n = useMemo(() => ({ lang, t: translator(lang) }), [lang]);
  const [state, setState] = useState<SessionState>(props.session.state);
  useEffect(() => {
    // the session may have moved on before this effect ran (a resumed session is signed in at once)
    setState(props.session.state);
    return props.session.subscribe(setState);
  }, [props.session]);
  useEffect(() => {
    document.documentElement.lang = lang === 'zh' ? 'zh-CN' : 'en';
    document.title = `${i18n.t('app.subtitle')} · ${i18n.t('app.title')}`;
  }, [lang, i18n]);
  const toggleLang = () => {
    const next: Lang = lang === 'zh' ? 'en' : 'zh';
    storeLang(next);
    setLang(next);
  };

  return (
    <I18nContext.Provider value={i18n}>
      {state.kind === 'signed-in' ? (
        <SignedIn session={props.session} api={props.api} user={state.user} purpose={state.purpose} breakGlassReason={state.breakGlassReason} onToggleLang={toggleLang} />
      ) : (
        <SessionScreen state={state} onSignIn={() => void props.session.signIn()} onToggleLang={toggleLang} />
      )}
    </I18nContext.Provider>
  );
}

function SignedIn(props: { session: Session; api: FhirClient; user: ConsoleUser; purpose: string; breakGlassReason?: string; onToggleLang: () => void }) {
  const { t } = useI18n();
  const { user } = props;
  const menu = MENU.filter((m) => m.roles.some((r) => user.roles.includes(r)));
  const [view, setView] = useState<ViewId | undefined>(menu[0]?.id);
  const [hospitals, setHospitals] = useState<ReadonlyMap<string, Hospital>>(new Map());

  // Only clinicians' and auditors' tokens may read Organization (API.md §3); a registrar's would be refused.
  const readsHospitals = user.roles.includes('clinician') || user.roles.includes('auditor');
  useEffect(() => {
    if (!readsHospitals) return;
    // Hospital names, cities and grades, for every row the views show (no patient data).
    props.api
      .get<Bundle<Organization>>('/Organization?_count=200')
      .then((b) => setHospitals(hospitalsFrom((b.entry ?? []).map((e) => e.resource).filter((r): r is Organization => r?.resourceType === 'Organization'))))
      .catch(() => undefined); // without names the views show hospital ids
  }, [props.api, readsHospitals]);

  const services = useMemo(() => ({ api: props.api, session: props.session, user, hospitals }), [props.api, props.session, user, hospitals]);
  const roles = user.roles.map((r) => label(t, 'role', r, r)).join('、');
  const breakGlass = props.purpose === 'ETREAT';

  return (
    <ServicesContext.Provider value={services}>
      <div class={`shell${breakGlass ? ' shell-breakglass' : ''}`}>
        <header class="topbar">
          <div class="brand">
            <span class="brand-mark" aria-hidden="true">
              互
            </span>
            <div>
              <div class="brand-title">{t('app.title')}</div>
              <div class="brand-sub">{t('app.subtitle')}</div>
            </div>
          </div>
          <nav class="nav" aria-label={t('app.nav.label')}>
            {menu.map((m) => (
              <button key={m.id} type="button" class={`nav-item${view === m.id ? ' nav-item-active' : ''}`} aria-current={view === m.id ? 'page' : undefined} onClick={() => setView(m.id)}>
                {t(m.label)}
              </button>
            ))}
          </nav>
          <div class="userbox">
            <div class="user-id" data-testid="current-user">
              <span class="user-name">{user.name}</span>
              {user.hospitalName && <span class="user-hospital">{user.hospitalName}</span>}
              <span class="user-roles">{roles}</span>
            </div>
            <button type="button" class="btn btn-ghost" aria-label={t('app.lang.label')} onClick={props.onToggleLang}>
              {t('app.lang.toggle')}
            </button>
            <button type="button" class="btn btn-light" onClick={() => void props.session.signOut()}>
              {t('app.signOut')}
            </button>
          </div>
        </header>
        {breakGlass && (
          <div class="breakglass-banner" role="alert" data-testid="break-glass-banner">
            <span>{t('bg.banner', { reason: props.breakGlassReason ?? '—' })}</span>
            <button type="button" class="btn btn-light" onClick={() => void props.session.endBreakGlass()}>
              {t('bg.end')}
            </button>
          </div>
        )}
        <main class="main">
          {menu.length === 0 && <p class="notice notice-info">{t('app.noRole', { roles: roles || '—' })}</p>}
          {menu.some((m) => m.id === 'patients') && (
            <section hidden={view !== 'patients'} aria-label={t('app.nav.patients')}>
              <ClinicianView breakGlass={breakGlass} />
            </section>
          )}
          {user.roles.includes('auditor') && (
            <>
              <section hidden={view !== 'audit'} aria-label={t('app.nav.audit')}>
                <AuditSearchView />
              </section>
              <section hidden={view !== 'verify'} aria-label={t('app.nav.verify')}>
                <VerifyView />
              </section>
              <section hidden={view !== 'stats'} aria-label={t('app.nav.stats')}>
                <StatsView visible={view === 'stats'} />
              </section>
            </>
          )}
          {menu.some((m) => m.id === 'access-report') && (
            <section hidden={view !== 'access-report'} aria-label={t('app.nav.accessReport')}>
              <AccessReportView />
            </section>
          )}
        </main>
        <footer class="footer">{t('app.footer')}</footer>
      </div>
    </ServicesContext.Provider>
  );
}
