import type { Server } from 'node:http';
import { createServer } from 'node:net';
import type { Bundle, DiagnosticReport } from '@medplum/fhirtypes';
import { NATIONAL_ID_SYSTEM } from '../../../../gateway/patient-index/national-id';
import { openSqlite, type TestDb } from '../../../support/databases';
import { expectValidFhir } from '../../../support/fhir-validation';
import { startDemoNetwork, type DemoNetwork } from '../../../support/demo-network';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The gateway on a real socket, used through fhir-kit-client as a HIS would. */
describe('a HIS using fhir-kit-client', () => {
  let db: TestDb;
  let net: DemoNetwork;
  let server: Server;
  let client: any;
  let nid: string;

  beforeAll(async () => {
    db = await openSqlite();
    const port = await freePort();
    net = await startDemoNetwork({ db, edit: (raw) => void (raw.publicBaseUrl = `http://127.0.0.1:${port}`) });
    server = await new Promise<Server>((resolve) => {
      const s = net.app.listen(port, '127.0.0.1', () => resolve(s));
    });
    const token = await net.token(net.config.clients.find((c) => c.roles.includes('clinician'))!.id);
    const { Client } = await import('fhir-kit-client');
    client = new Client({ baseUrl: net.config.publicBaseUrl, bearerToken: token });
    nid = net.patients.filter((p) => p.consent === 'full').sort((a, b) => b.hospitals.length - a.hospitals.length)[0].nationalId;
  }, 120_000);

  afterAll(async () => {
    await new Promise((r) => server?.close(r));
    await net?.close();
    await db?.close();
  });

  test('search, page through next links, and read back by id', async () => {
    const first = (await client.search({ resourceType: 'DiagnosticReport', searchParams: { 'patient.identifier': `${NATIONAL_ID_SYSTEM}|${nid}`, _count: 2 } })) as Bundle;
    expectValidFhir(first);
    expect(first.total).toBeGreaterThan(2);
    const ids = (first.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!);
    let page: Bundle | undefined = first;
    let pages = 1;
    while ((page = (await client.nextPage({ bundle: page })) as Bundle | undefined)) {
      expectValidFhir(page);
      ids.push(...(page.entry ?? []).filter((e) => e.search?.mode === 'match').map((e) => e.resource!.id!));
      pages++;
    }
    expect(pages).toBeGreaterThan(1);
    expect(ids.length).toBe(first.total);
    expect(new Set(ids).size).toBe(ids.length);
    const report = (await client.read({ resourceType: 'DiagnosticReport', id: ids[0] })) as DiagnosticReport;
    expectValidFhir(report);
    expect(report.id).toBe(ids[0]);
    const capability = await client.capabilityStatement();
    expectValidFhir(capability);
  });

  test('errors reach the client as OperationOutcome', async () => {
    await expect(client.search({ resourceType: 'DiagnosticReport', searchParams: { 'patient.identifier': `${NATIONAL_ID_SYSTEM}|350203199001010019` } })).rejects.toMatchObject({
      response: { status: 400, data: { resourceType: 'OperationOutcome' } },
    });
  });
});
