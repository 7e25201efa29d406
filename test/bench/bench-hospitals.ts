import { startFhirHospitalServer } from '../../fixtures/servers/fhir-hospital-server';
import { benchResources } from './bench-data';

/**
 * Child process of `npm run bench`: N simulated hospital FHIR servers that answer after a fixed
 * delay, plus one that never answers. Prints one JSON line with their base URLs.
 */
async function main() {
  const count = Number(process.env.BENCH_HOSPITALS ?? 6);
  const delayMs = Number(process.env.BENCH_DELAY_MS ?? 20);
  const heavyPerHospital = Math.ceil(Number(process.env.BENCH_HEAVY_RESULTS ?? 500) / count);
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const s = await startFhirHospitalServer({ resources: benchResources(`h${i}`, 5, heavyPerHospital), delayMs, pageSize: 1000 });
    urls.push(s.url);
  }
  const hanging = await startFhirHospitalServer({ resources: benchResources('hang', 5, 0), mode: 'hang' });
  process.stdout.write(JSON.stringify({ urls, hanging: hanging.url, delayMs }) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
void main();
