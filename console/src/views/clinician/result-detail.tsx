import type { DiagnosticReport, ImagingStudy, Observation, Quantity } from '@medplum/fhirtypes';
import { useEffect, useState } from 'preact/hooks';
import { label } from '../../i18n';
import { chinaDateTime, unitText } from '../../model/format';
import { conceptText, flagOf, type TimelineRow } from '../../model/timeline';
import { TableHead } from '../common/table-head';
import { useI18n, useServices } from '../context';
import { DecisionForm } from './decision-form';
import { cityName, RecognitionBadge } from './timeline';

/**
 * One result: for a lab report its observations with values, units, reference ranges and flags
 * (high and low marked); for imaging the modality, body site, findings and conclusion. The
 * recognition decision is recorded from here.
 */
export function ResultDetail(props: { row: TimelineRow; patientId: string; onBack: () => void }) {
  const { t } = useI18n();
  const { api, hospitals } = useServices();
  const { row } = props;
  const h = row.hospitalId ? hospitals.get(row.hospitalId) : undefined;
  const report = row.resource.resourceType === 'DiagnosticReport' ? (row.resource as DiagnosticReport) : undefined;
  const [studies, setStudies] = useState<ImagingStudy[]>(row.studies);

  useEffect(() => {
    // A study the report points to but the study search did not bring (another page, or withheld): read it.
    const missing = (report?.imagingStudy ?? []).map((r) => r.reference ?? '').filter((ref) => ref.startsWith('ImagingStudy/') && !row.studies.some((s) => `ImagingStudy/${s.id}` === ref));
    if (missing.length === 0) return;
    let live = true;
    Promise.allSettled(missing.map((ref) => api.get<ImagingStudy>(`/${ref}`))).then((all) => {
      if (live) setStudies([...row.studies, ...all.flatMap((a) => (a.status === 'fulfilled' ? [a.value] : []))]);
    });
    return () => {
      live = false;
    };
  }, [row, api, report]);

  const findings = row.observations.filter(isNarrative);
  const measured = row.observations.filter((o) => !isNarrative(o));
  const imaging = row.category === 'imaging';

  return (
    <section class="card detail" aria-labelledby="detail-title" data-testid="result-detail">
      <button type="button" class="btn btn-link back" onClick={props.onBack}>
        ← {t('detail.back')}
      </button>
      <h2 id="detail-title" class="card-title detail-title">
        {row.itemName}
        <span class={`tag tag-${row.category}`}>{t(imaging ? 'category.imaging' : 'category.lab')}</span>
      </h2>
      <dl class="facts">
        <div>
          <dt>{t('detail.hospital')}</dt>
          <dd>
            {h?.name ?? row.hospitalId}
            <span class="muted"> · {cityName(t, h)}</span>
          </dd>
        </div>
        <div>
          <dt>{t('detail.effective')}</dt>
          <dd class="mono">{chinaDateTime(row.time)}</dd>
        </div>
        {report?.issued && (
          <div>
            <dt>{t('detail.issued')}</dt>
            <dd class="mono">{chinaDateTime(report.issued)}</dd>
          </div>
        )}
        <div>
          <dt>{t('detail.status')}</dt>
          <dd>{label(t, 'status', row.status, '—')}</dd>
        </div>
        <div>
          <dt>{t('detail.recognition')}</dt>
          <dd>
            <RecognitionBadge recognition={row.recognition} long />
          </dd>
        </div>
      </dl>

      {imaging && <ImagingFacts studies={studies} findings={findings} conclusion={report?.conclusion} />}

      {(!imaging || measured.length > 0) && (
        <>
          <h3 class="section-title">{t('detail.observations')}</h3>
          {measured.length === 0 ? (
            <p class="empty">{t('detail.noObservations')}</p>
          ) : (
            <div class="table-wrap">
              <table class="table table-compact" data-testid="observations">
                <TableHead columns={[t('detail.obs.name'), { text: t('detail.obs.value'), num: true }, t('detail.obs.unit'), t('detail.obs.range'), t('detail.obs.flag')]} />
                <tbody>
                  {measured.map((o) => {
                    const flag = flagOf(o);
                    const high = flag === 'H' || flag === 'HH' || flag === 'HU';
                    const low = flag === 'L' || flag === 'LL' || flag === 'LU';
                    return (
                      <tr key={o.id} class={high ? 'row-high' : low ? 'row-low' : undefined}>
                        <td>{conceptText(o.code)}</td>
                        <td class={`num mono${high ? ' value-high' : low ? ' value-low' : ''}`}>
                          {valueText(o)}
                          {high && <span aria-hidden="true"> ↑</span>}
                          {low && <span aria-hidden="true"> ↓</span>}
                        </td>
                        <td class="mono">{unitText(o.valueQuantity?.unit ?? o.valueQuantity?.code)}</td>
                        <td class="mono">{rangeText(o)}</td>
                        <td>{flag && flag !== 'N' ? <span class={`flag ${high ? 'flag-high' : low ? 'flag-low' : 'flag-abnormal'}`}>{`${flag} ${label(t, 'detail.flag', flag, '')}`.trim()}</span> : ''}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          )}
        </>
      )}

      <DecisionForm row={row} patientId={props.patientId} />
    </section>
  );
}

function ImagingFacts(props: { studies: ImagingStudy[]; findings: Observation[]; conclusion?: string }) {
  const { t } = useI18n();
  const modalities = [...new Set(props.studies.flatMap((s) => [...(s.modality ?? []).map((m) => m.code), ...(s.series ?? []).map((x) => x.modality?.code)]).filter(Boolean))];
  const sites = [
    ...new Set(
      props.studies.flatMap((s) => [...(s.series ?? []).map((x) => x.bodySite?.display ?? x.bodySite?.code), ...(s.series?.some((x) => x.bodySite) ? [] : [s.description ?? conceptText(s.procedureCode?.[0])])]).filter(Boolean),
    ),
  ];
  return (
    <div class="imaging" data-testid="imaging">
      <h3 class="section-title">{t('detail.imaging')}</h3>
      <dl class="facts">
        <div>
          <dt>{t('detail.modality')}</dt>
          <dd>{modalities.join('、') || '—'}</dd>
        </div>
        <div>
          <dt>{t('detail.bodySite')}</dt>
          <dd>{sites.join('、') || '—'}</dd>
        </div>
      </dl>
      {props.findings.length > 0 && (
        <div class="narrative">
          <h4>{t('detail.findings')}</h4>
          {props.findings.map((f) => (
            <p key={f.id}>{f.valueString}</p>
          ))}
        </div>
      )}
      {props.conclusion && (
        <div class="narrative narrative-conclusion">
          <h4>{t('detail.conclusion')}</h4>
          <p>{props.conclusion}</p>
        </div>
      )}
    </div>
  );
}

const isNarrative = (o: Observation) => typeof o.valueString === 'string' && !o.valueQuantity;

function quantity(q: Quantity | undefined): string {
  if (!q || q.value === undefined) return '';
  return `${q.comparator ?? ''}${q.value}`;
}

function valueText(o: Observation): string {
  if (o.valueQuantity) return quantity(o.valueQuantity);
  if (o.valueString !== undefined) return o.valueString;
  if (o.valueCodeableConcept) return conceptText(o.valueCodeableConcept);
  if (o.valueBoolean !== undefined) return String(o.valueBoolean);
  if (o.valueInteger !== undefined) return String(o.valueInteger);
  return '';
}

function rangeText(o: Observation): string {
  const r = o.referenceRange?.[0];
  if (!r) return '';
  if (r.text) return r.text;
  const low = quantity(r.low);
  const high = quantity(r.high);
  if (low && high) return `${low} – ${high}`;
  if (low) return `≥ ${low}`;
  if (high) return `≤ ${high}`;
  return '';
}
