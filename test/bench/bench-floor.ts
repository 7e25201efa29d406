import type { ResultResource } from '../../adapters/adapter';
import { DEFAULT_CANONICAL_BASE as CANONICAL } from '../../gateway/config';
import { toGatewayForm } from '../../gateway/federation/result-ids';
import { jsonBytes } from '../../gateway/http/json-bytes';
import { recognitionExtensionUrl, recognitionItemSystem } from '../../gateway/recognition/annotate';
import { serveSide } from './bench-side';

/**
 * Child process of `npm run bench`: the least any gateway honouring API.md §4 must do per search,
 * to frame the throughput target. Like the bare fan-out it has no auth, consent, audit, mapping,
 * sorting or validation; unlike it, it asks each hospital through fhir-kit-client (the design
 * card's FHIR client, as the gateway's adapter does) with a per-hospital deadline, and answers in
 * the contract's form: gateway ids and references, the regional patient as subject, `meta.source`,
 * the recognition extension on every result, `fullUrl` and `search.mode` on every entry. It puts
 * results in gateway form with the gateway's own toGatewayForm; the extension is one shared object
 * here, where the gateway judges it per result.
 */
const urls: string[] = JSON.parse(process.env.BENCH_URLS ?? '[]');
const PUBLIC = 'http://gateway.bench.local';
/** a regional patient id of the gateway's form (a UUID) */
const PATIENT_ID = '6b88fc03-be14-48f8-b826-a1af0547a433';
const RECOGNITION = [
  {
    url: recognitionExtensionUrl(CANONICAL),
    extension: [
      { url: 'status', valueCode: 'grade-below' },
      { url: 'item', valueCoding: { system: recognitionItemSystem(CANONICAL), code: 'CBC', display: '血常规' } },
    ],
  },
];

type Entry = { resource?: ResultResource; search?: { mode?: string } };

async function main() {
  const { Client } = await import('fhir-kit-client');
  const clients = urls.map((baseUrl) => new Client({ baseUrl }));

  async function ask(i: number, patientParam: string): Promise<Entry[]> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 3000);
    try {
      const bundle = (await clients[i].search({
        resourceType: 'DiagnosticReport',
        searchParams: { patient: `${patientParam}-h${i}`, _include: 'DiagnosticReport:result' },
        options: { signal: controller.signal },
      })) as { entry?: Entry[] };
      return bundle.entry ?? [];
    } finally {
      clearTimeout(timer);
    }
  }

  serveSide(async (url) => {
    const answers = await Promise.all(urls.map((_, i) => ask(i, url.includes('heavy') ? 'ph' : 'pl')));
    const entry = answers.flatMap((entries, i) =>
      entries
        .filter((e) => e.resource)
        .map((e) => {
          const resource = toGatewayForm(e.resource!, `h${i}`, { publicBaseUrl: PUBLIC, patientId: PATIENT_ID, sensitive: false });
          resource.extension = RECOGNITION;
          return { fullUrl: `${PUBLIC}/${resource.resourceType}/${resource.id}`, resource, search: { mode: e.search?.mode ?? 'match' } };
        }),
    );
    const self = `${PUBLIC}/DiagnosticReport?patient=x&_include=DiagnosticReport%3Aresult&_count=50`;
    const body = {
      resourceType: 'Bundle',
      type: 'searchset',
      total: entry.filter((e) => e.search.mode === 'match').length,
      link: [
        { relation: 'self', url: self },
        { relation: 'first', url: self },
      ],
      entry,
    };
    // the gateway's own encoder (entry by entry; see json-bytes.ts), the fastest measured here
    return jsonBytes(body);
  });
}
void main();
