import { accessReportParameters, collectReport, reportContext, reportPeriod } from '../../audit/access-report';
import { fontAvailable, renderAccessReportPdf } from '../../audit/access-report-pdf';
import type { GatewayConfig } from '../../config';
import type { Clock } from '../../context';
import { badRequest, serviceUnavailable } from '../../fhir/outcomes';
import { checkUnknownParams, single } from '../../fhir/search-params';
import type { PatientData } from '../../patient-data/contract';
import type { CatalogItem } from '../../recognition/contract';
import type { Db } from '../../storage/db';
import { accessOf } from '../access';
import type { FhirRequest, FhirResponse, Route } from '../route';

/**
 * `GET /Patient/{id}/$access-report?from=YYYY-MM-DD&to=YYYY-MM-DD` (docs/audit.md §6): who
 * accessed a resident's data in the period, as FHIR Parameters, or with `_format=pdf` (or
 * `Accept: application/pdf`) as a printable Chinese PDF. A registrar of a hospital where the
 * resident has a record (at the resident's request), or an auditor. The days are Beijing days.
 */
export function accessReportRoutes(deps: { reader: Db; config: GatewayConfig; clock: Clock; patientData: PatientData; catalog: readonly CatalogItem[] }): Route[] {
  const { config, clock } = deps;
  const ctx = reportContext(config, deps.catalog);

  async function report(req: FhirRequest): Promise<FhirResponse> {
    checkUnknownParams(req.query, new Set(['from', 'to', '_format']), req.headers.prefer);
    const from = single(req.query, 'from');
    const to = single(req.query, 'to');
    const period = reportPeriod(from, to, clock.now(), config.audit.retentionDays);
    const format = single(req.query, '_format');
    const pdf = format === 'pdf' || format === 'application/pdf' || (!format && (req.headers.accept ?? '').includes('application/pdf'));
    if (format && !pdf && !['json', 'application/json', 'application/fhir+json'].includes(format)) throw badRequest('_format: pdf or json', '_format');
    if (pdf && !fontAvailable()) throw serviceUnavailable('The PDF report needs a CJK font (Debian fonts-noto-cjk); the JSON report is available', 'report-font-missing');

    const subject = await deps.patientData.reportSubject(accessOf(req), req.params.id ?? '');
    const { entries, truncated } = await collectReport(deps.reader, ctx, subject.ids, period);
    const generated = clock.now().toISOString();
    const days = { from: from!, to: to! };
    if (pdf) {
      const bytes = await renderAccessReportPdf({ residentLabel: subject.label, ...days, generated, entries, truncated });
      // no identifier in the file name: it is shown and saved by browsers and mail clients
      return { status: 200, contentType: 'application/pdf', headers: { 'Content-Disposition': 'attachment; filename="access-report.pdf"' }, body: bytes };
    }
    return { body: accessReportParameters({ patientId: req.params.id ?? '', residentLabel: subject.label, ...days, generated, entries, truncated }) };
  }

  return [
    {
      method: 'GET',
      path: '/Patient/:id/$access-report',
      interaction: '$access-report',
      resourceType: 'Patient',
      access: { kind: 'token', roles: ['registrar', 'auditor'] },
      audited: true,
      body: 'none',
      handler: report,
    },
  ];
}
