import { serveSide } from './bench-side';

/**
 * Child process of `npm run bench`: the bare fan-out the gateway is measured against. For each
 * request it makes the same upstream calls as the gateway's FHIR adapters (plain parallel fetch,
 * same HTTP client), merges the entries into one Bundle and answers. No auth, consent, audit,
 * mapping or validation.
 */
const urls: string[] = JSON.parse(process.env.BENCH_URLS ?? '[]');

async function fanOut(patientParam: string): Promise<unknown> {
  const bodies = await Promise.all(
    urls.map(async (base, i) => {
      const res = await fetch(`${base}/DiagnosticReport?patient=${patientParam}-h${i}&_include=DiagnosticReport:result`, {
        headers: { accept: 'application/fhir+json' },
      });
      return (await res.json()) as { entry?: unknown[] };
    }),
  );
  const entry = bodies.flatMap((b) => b.entry ?? []);
  return { resourceType: 'Bundle', type: 'searchset', total: entry.length, entry };
}

serveSide(async (url) => JSON.stringify(await fanOut(url.includes('heavy') ? 'ph' : 'pl')));
