import { label } from '../../i18n';
import { maskNationalId, type PatientSummary } from '../../model/patient';
import { useI18n, useServices } from '../context';

export type ResultsConsent = 'loading' | 'allowed' | 'partial' | 'refused' | 'break-glass' | 'unknown';

/**
 * The patient as the gateway showed them, and the consent state read from its answers: a full
 * identity or the minimised one (docs/patient-data.md §3), and whether results were released,
 * in part, refused, or released by break-glass.
 */
export function PatientPanel(props: { patient: PatientSummary; identityMinimised: boolean; results: ResultsConsent }) {
  const { t } = useI18n();
  const { hospitals } = useServices();
  const p = props.patient;
  const consentClass = props.results === 'refused' ? 'consent-refused' : props.results === 'break-glass' ? 'consent-breakglass' : props.identityMinimised || props.results === 'partial' ? 'consent-partial' : 'consent-full';
  return (
    <section class="card patient-card" aria-labelledby="patient-title" data-testid="patient-panel">
      <h2 id="patient-title" class="card-title">
        {t('patient.title')}
      </h2>
      <dl class="facts">
        <div>
          <dt>{t('patient.regionalId')}</dt>
          <dd class="mono" data-testid="regional-id">
            {p.regionalId}
          </dd>
        </div>
        {p.nationalId && (
          <div>
            <dt>{t('patient.nationalId')}</dt>
            <dd class="mono">{maskNationalId(p.nationalId)}</dd>
          </div>
        )}
        {p.gender && (
          <div>
            <dt>{t('patient.gender')}</dt>
            <dd>{label(t, 'patient.gender', p.gender, p.gender)}</dd>
          </div>
        )}
        {p.birthDate && (
          <div>
            <dt>{t('patient.birthDate')}</dt>
            <dd>{p.birthDate}</dd>
          </div>
        )}
      </dl>
      {p.records.length > 0 && (
        <div class="records">
          <span class="records-title">{t('patient.records')}</span>
          <ul class="chips">
            {p.records.map((r) => (
              <li key={`${r.hospitalId}|${r.value}`} class="chip">
                {hospitals.get(r.hospitalId)?.name ?? r.hospitalName ?? r.hospitalId}
                <span class="mono chip-value">{r.value}</span>
              </li>
            ))}
          </ul>
        </div>
      )}
      <div class={`consent ${consentClass}`} data-testid="consent-state">
        <span class="consent-title">{t('consent.title')}</span>
        <p>{props.identityMinimised ? t('consent.minimised') : t('consent.full')}</p>
        {props.results === 'allowed' && <p>{t('consent.resultsAllowed')}</p>}
        {props.results === 'partial' && <p>{t('consent.resultsPartial')}</p>}
        {props.results === 'refused' && <p>{t('consent.resultsRefused')}</p>}
        {props.results === 'break-glass' && <p>{t('consent.breakGlass')}</p>}
      </div>
    </section>
  );
}
