import type { ComponentChildren } from 'preact';
import { label } from '../../i18n';
import type { AuditSummary } from '../../model/audit';
import { orgName } from '../../model/audit-query';
import { chinaDateTime } from '../../model/format';
import { Dialog } from '../common/dialog';
import { useI18n, useServices } from '../context';

/** One audit event for the auditor: who, for which organisation, why, what (the request line), when, outcome. */
export function AuditDetail(props: { event: AuditSummary; onClose: () => void }) {
  const { t } = useI18n();
  const { hospitals } = useServices();
  const e = props.event;
  const row = (name: string, value: ComponentChildren, mono = false) => (
    <div>
      <dt>{name}</dt>
      <dd class={mono ? 'mono' : undefined}>{value || '—'}</dd>
    </div>
  );
  return (
    <Dialog title={t('audit.detail.title')} onClose={props.onClose} wide>
      <dl class="facts facts-stacked" data-testid="audit-detail">
        {row(t('audit.detail.recorded'), `${chinaDateTime(e.recorded, { seconds: true })}  (${e.recorded ?? ''})`, true)}
        {row(t('audit.detail.who'), [e.user?.name, e.user?.id].filter(Boolean).join(' · '))}
        {row(t('audit.detail.organization'), orgName(e, hospitals))}
        {row(t('audit.detail.client'), [e.client?.id, e.client?.display].filter(Boolean).join(' · '))}
        {row(t('audit.detail.purpose'), e.purposes.map((p) => `${label(t, 'purpose', p, p)} (${p})`).join('、'))}
        {row(t('audit.detail.what'), label(t, 'subtype', e.action, e.action))}
        {row(t('audit.detail.request'), <pre class="request-line">{e.request ?? ''}</pre>)}
        {e.requestTruncated && row('', e.requestTruncated)}
        {row(t('audit.detail.patient'), e.patients.join(', '), true)}
        {row(t('audit.detail.outcome'), `${label(t, 'audit.outcome', e.outcome, e.outcome ?? '')} · ${e.outcomeDesc ?? ''}`)}
        {row(t('audit.detail.hospitals'), e.hospitalsReturned.map((h) => hospitals.get(h)?.name ?? h).join('、'))}
        {e.resources.length > 0 && row(t('audit.detail.resources'), e.resources.join(', '), true)}
        {(e.breakGlass || e.suppressed) &&
          row(
            t('audit.detail.flags'),
            <>
              {e.breakGlass && <span class="tag tag-danger">{t('audit.detail.breakGlass')}</span>}
              {e.breakGlassReason && <p class="bg-reason">{t('audit.detail.breakGlassReason', { reason: e.breakGlassReason })}</p>}
              {e.suppressed && <span class="tag">{t('audit.detail.suppressed')}</span>}
            </>,
          )}
        {e.details.length > 0 &&
          row(
            t('audit.detail.more'),
            <ul class="plain-list">
              {e.details.map((d) => (
                <li key={`${d.type}=${d.value}`}>
                  <span class="mono">{d.type}</span>: {d.value}
                </li>
              ))}
            </ul>,
          )}
        {row(t('audit.detail.network'), e.network ?? '', true)}
        {row(t('audit.detail.requestId'), e.requestId ?? '', true)}
        {row(t('audit.detail.id'), e.id, true)}
      </dl>
      <div class="dialog-actions">
        <button type="button" class="btn btn-primary" onClick={props.onClose}>
          {t('audit.detail.close')}
        </button>
      </div>
    </Dialog>
  );
}
