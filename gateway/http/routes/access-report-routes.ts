import { accessReportParameters, reportEntry, type ReportContext } from '../../audit/access-report';
import { fontAvailable, renderAccessReportPdf } from '../../audit/access-report-pdf';
import { searchEvents } from '../../audit/audit-store';
import type { AuditEvent } from '@medplum/fhirtypes';
import { CITY_NAMES_ZH, type GatewayConfig } from '../../config';
import type { Clock } from '../../context';
import { badRequest, serviceUnavailable } from '../../fhir/outcomes';
import { checkUnknownParams, single } from '../../fhir/search-params';
import type { PatientData } from '../../patient-data/contract';
import type { CatalogItem } from '../../recognition/contract';
import type { Db } from '../../storage/db';
import { accessOf } from '../access';
import type { FhirRequest, FhirResponse, Route } from '../route';

/** Events one report lists at most; more is said in the report (`truncated`). */
const MAX_EVENTS = 2000;
const DAY = /^\d{4}-\d{2}-\d{2}$/;

/**
 * `GET /Patient/{id}/$access-report?from=YYYY-MM-DD&to=YYYY-MM-DD` (docs/audit.md §6): who
 * accessed a resident's data in the period, as FHIR Parameters, or with `_format=pdf` (or
 * `Accept: application/pdf`) as a printable Chinese PDF. A registrar of a hospital where the
 * resident has a record (at the resident's request), or an auditor. The days are Beijing days.
 */
export function accessReportRoutes(deps: { reader: Db; config: GatewayConfig; clock: Clock; patientData: PatientData; catalog: readonly CatalogItem[] }): Route[] {
  const { config, clock } = deps;
  const hospitals = new Map(config.hospitals.map((h) => [h.id, h]));
  const items = new Map(deps.catalog.map((i) => [i.code, i.display]));
  const supervisors = new Set(config.clients.filter((c) => c.roles.includes('auditor')).map((c) => c.id));
  const ctx: ReportContext = {
    hospitalName: (id) => hospitals.get(id)?.name,
    hospitalCity: (id) => CITY_NAMES_ZH[hospitals.get(id)?.city ?? ''],
    itemName: (code) => items.get(code),
    isSupervisor: (clientId) => supervisors.has(clientId),
  };

  const day = (query: Record<string, string[]>, name: 'from' | 'to') => {
    const v = single(query, name);
    if (!v) throw badRequest(`${name} (YYYY-MM-DD) is required`, name, 'parameter-required');
    if (!DAY.test(v) || Number.isNaN(Date.parse(`${v}T00:00:00+08:00`)) || new Date(`${v}T00:00:00Z`).toISOString().slice(0, 10) !== v) {
      throw badRequest(`${name}: expected a date YYYY-MM-DD`, name, 'invalid-date');
    }
    return v;
  };

  async function report(req: FhirRequest): Promise<FhirResponse> {
    checkUnknownParams(req.query, new Set(['from', 'to', '_format']), req.headers.prefer);
    const from = day(req.query, 'from');
    const to = day(req.query, 'to');
    const start = Date.parse(`${from}T00:00:00+08:00`);
    const end = Date.parse(`${to}T00:00:00+08:00`) + 86_400_000;
    if (start >= end) throw badRequest('from must not be after to', ['from', 'to'], 'invalid-period');
    const now = clock.now().getTime();
    if (start < now - config.audit.retentionDays * 86_400_000) {
      throw badRequest(`from: the audit trail keeps ${config.audit.retentionDays} days online; ask for a later start`, 'from', 'period-beyond-retention');
    }
    const format = single(req.query, '_format');
    const pdf = format === 'pdf' || format === 'application/pdf' || (!format && (req.headers.accept ?? '').includes('application/pdf'));
    if (format && !pdf && !['json', 'application/json', 'application/fhir+json'].includes(format)) throw badRequest('_format: pdf or json', '_format');
    if (pdf && !fontAvailable()) throw serviceUnavailable('The PDF report needs a CJK font (Debian fonts-noto-cjk); the JSON report is available', 'report-font-missing');

    const subject = await deps.patientData.reportSubject(accessOf(req), req.params.id ?? '');
    const page = await searchEvents(deps.reader, {
      patients: subject.ids,
      dates: [{ op: 'range', start: new Date(start).toISOString(), end: new Date(end).toISOString() }],
      count: MAX_EVENTS,
    });
    const entries = page.events.map((e) => reportEntry(e.resource as unknown as AuditEvent, ctx));
    const generated = clock.now().toISOString();
    const truncated = page.next !== undefined;
    if (pdf) {
      const bytes = await renderAccessReportPdf({ residentLabel: subject.label, from, to, generated, entries, truncated });
      // no identifier in the file name: it is shown and saved by browsers and mail clients
      return { status: 200, contentType: 'application/pdf', headers: { 'Content-Disposition': 'attachment; filename="access-report.pdf"' }, body: bytes };
    }
    return { body: accessReportParameters({ patientId: req.params.id ?? '', residentLabel: subject.label, from, to, generated, entries, truncated }) };
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
