import path from 'node:path';
import { createGateway } from '../../gateway/app';
import { parseConfig } from '../../gateway/config';
import { initKeyDirectory } from '../../gateway/auth/key-source';
import { silentLogger } from '../../gateway/logger';
import { makeTestClient, requestToken } from '../support/auth';
import { seedConsents } from './seed-consents';

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];
const r3 = (x: number) => Math.round(x * 1000) / 1000;

/**
 * Figures of single operations, timed one call at a time in this process:
 *  - access-token verification, a token's first use (signature checked) and a repeated one;
 *  - the consent decision for one patient with 100 k consents stored (one indexed query + the pure
 *    decision), which is what consent adds to every search.
 */
export async function runInProcessBench(opts: { dir: string }): Promise<Record<string, number>> {
  const client = makeTestClient({ id: 'bench-inproc', hospital: 'h0', roles: ['clinician', 'registrar'] });
  const config = parseConfig({
    publicBaseUrl: 'http://gateway.bench.local',
    database: { client: 'sqlite3', connection: { filename: path.join(opts.dir, 'inproc.sqlite') } },
    hospitals: [{ id: 'h0', name: '基准医院', city: '350200', grade: '3A', adapter: { type: 'fhir', baseUrl: 'http://127.0.0.1:9/fhir' } }],
    clients: [client.config],
    keys: { directory: path.join(opts.dir, 'inproc-keys') },
    audit: { checkpoints: { anchor: { type: 'file', path: path.join(opts.dir, 'inproc-anchor.jsonl') } } },
  });
  await initKeyDirectory(config.keys!);
  const gateway = await createGateway(config, { log: silentLogger() });
  try {
    const token = await requestToken(gateway.app, client, { publicBaseUrl: config.publicBaseUrl, user: { id: 'D1', name: '医生' } });
    const header = `Bearer ${token}`;
    const { auth, consent } = gateway.services;
    for (let i = 0; i < 2000; i++) await auth.authenticate(header);
    // A token's first use checks its signature; later uses of the same token are remembered
    // (auth-service.ts), so both are measured: fresh tokens once each, then one token repeatedly.
    const fresh: string[] = [];
    for (let i = 0; i < 400; i++) fresh.push(`Bearer ${await requestToken(gateway.app, client, { publicBaseUrl: config.publicBaseUrl, user: { id: 'D1', name: '医生' } })}`);
    const verify: number[] = [];
    for (const h of fresh) {
      const t = process.hrtime.bigint();
      await auth.authenticate(h);
      verify.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    const repeat: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      const t = process.hrtime.bigint();
      await auth.authenticate(header);
      repeat.push(Number(process.hrtime.bigint() - t) / 1e6);
    }

    const requester = await auth.authenticate(header);
    const patients = await seedConsents(gateway.services.db, 100_000, config.clients[0].hospital!);
    const decide: number[] = [];
    for (let i = 0; i < 3000; i++) {
      const pid = patients[i % patients.length];
      const t = process.hrtime.bigint();
      const gate = await consent.gateFor(pid, requester);
      gate.permits({ resourceType: 'DiagnosticReport', hospitalId: 'h0', date: '2026-11-20T08:00:00+08:00', catalogItem: 'CBC', securityLabels: [] });
      decide.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return { tokenVerifyP50Ms: r3(pct(verify.slice(100), 50)), tokenRepeatP50Ms: r3(pct(repeat, 50)), consentDecisionP50Ms: r3(pct(decide.slice(500), 50)), consentsStored: 100_000 };
  } finally {
    await gateway.close();
  }
}
