import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { loadDemoConsents } from '../../consent/demo-consents';
import { generateDemoData } from '../../fixtures/generate';
import { buildFrontendDatabase, readDemoConsents, readDemoDecisions, readDemoPatients, readFhirHospitalResources } from '../../fixtures/load';
import { startFhirHospitalServer } from '../../fixtures/servers/fhir-hospital-server';
import { createGateway } from '../app';
import { CITIES, parseConfig, type GatewayConfig } from '../config';
import { listen, shutdownOn } from '../main';
import { loadDemoDecisions } from '../recognition/demo-decisions';

const ROOT = path.resolve(__dirname, '..', '..');
export const DEMO_CONFIG = path.join(ROOT, 'fixtures', 'demo-config.json');

/** The demo configuration as JSON (before validation), so a test can move ports and folders. */
export function readDemoConfigJson(): DemoConfigJson {
  return JSON.parse(readFileSync(DEMO_CONFIG, 'utf8')) as DemoConfigJson;
}

export interface DemoConfigJson {
  publicBaseUrl: string;
  hospitals: Array<{ id: string; adapter: { type: string; baseUrl?: string; inbox?: string; connection?: { connection?: { filename?: string } }; codeMap?: string } } & Record<string, unknown>>;
  clients: Array<{ id: string } & Record<string, unknown>>;
  [k: string]: unknown;
}

/**
 * Bring up the hospitals of the demo network in their native forms, dated relative to `anchor` (so
 * results are recent whenever it runs): a FHIR server per `fhir` hospital, an HL7 v2 inbox per
 * `hl7v2` hospital, a SQLite front-end database per `sql` hospital, all under `dataDir`, where the
 * generator also writes the demo consents, decisions and patient list of the same date. Returns
 * the configuration pointing at them (absolute paths; with `ephemeralPorts`, the FHIR servers'
 * real ports) and a stop function.
 */
export async function startDemoHospitals(
  raw: DemoConfigJson,
  opts: { anchor: Date; dataDir: string; delayMs?: number; ephemeralPorts?: boolean },
): Promise<{ config: DemoConfigJson; stop: () => Promise<void> }> {
  rmSync(opts.dataDir, { recursive: true, force: true });
  await generateDemoData({ anchor: opts.anchor, outDir: opts.dataDir });
  const config: DemoConfigJson = structuredClone(raw);
  const stops: Array<() => Promise<void>> = [];
  try {
    for (const h of config.hospitals) {
      const dir = path.join(opts.dataDir, h.id);
      if (h.adapter.codeMap) h.adapter.codeMap = path.resolve(path.dirname(DEMO_CONFIG), h.adapter.codeMap);
      if (h.adapter.type === 'fhir') {
        const url = new URL(h.adapter.baseUrl!);
        const server = await startFhirHospitalServer({
          resources: readFhirHospitalResources(path.join(dir, 'fhir')),
          port: opts.ephemeralPorts ? 0 : Number(url.port),
          basePath: url.pathname.replace(/\/$/, ''),
          delayMs: opts.delayMs,
        });
        stops.push(() => server.close());
        h.adapter.baseUrl = server.url;
      } else if (h.adapter.type === 'sql') {
        const filename = path.join(dir, 'frontend.sqlite');
        await buildFrontendDatabase(path.join(dir, 'frontend.sql'), filename);
        h.adapter.connection = { ...h.adapter.connection, connection: { filename } };
      } else if (h.adapter.type === 'hl7v2') {
        h.adapter.inbox = path.join(dir, 'inbox');
      }
    }
  } catch (e) {
    await Promise.allSettled(stops.map((s) => s()));
    throw e;
  }
  return { config, stop: async () => void (await Promise.allSettled(stops.map((s) => s()))) };
}

/** `npm start`: the demo network, the gateway in front of it, demo consents and decisions loaded. */
export async function startDemoNetwork(opts: { log: Logger; port: number }): Promise<void> {
  const { log, port } = opts;
  const dataDir = path.join(ROOT, 'data', 'demo');
  const demo = await startDemoHospitals(readDemoConfigJson(), { anchor: new Date(), dataDir });
  const stopHospitals = demo.stop;
  const config = withPort(parseConfig(demo.config, { baseDir: path.dirname(DEMO_CONFIG), env: process.env }), port);
  const gateway = await createGateway(config, { log });
  const server = await listen(gateway, port, log);
  const { patientIndex, db, recognition } = gateway.services;

  const consents = await loadDemoConsents({ services: gateway.services, patientIndex }, readDemoConsents(path.join(dataDir, 'consents.json')));
  const decisions = await loadDemoDecisions(
    { db, patientIndex, catalog: [...recognition.catalog], config },
    readDemoDecisions(path.join(dataDir, 'recognition-decisions.json')),
  );
  shutdownOn(server, gateway, log, stopHospitals);
  process.stdout.write(banner(config, readDemoPatients(path.join(dataDir, 'demo-patients.json')), consents.loaded, decisions));
}

function withPort(config: GatewayConfig, port: number): GatewayConfig {
  const url = new URL(config.publicBaseUrl);
  if (Number(url.port || 80) === port) return config;
  url.port = String(port);
  return { ...config, publicBaseUrl: url.toString().replace(/\/$/, '') };
}

function banner(config: GatewayConfig, patients: Array<{ nationalId: string; hospitals?: string[]; consent?: string }>, consents: number, decisions: number): string {
  const base = config.publicBaseUrl;
  const first =
    patients
      .filter((p) => p.consent === 'full')
      .sort((a, b) => (b.hospitals?.length ?? 0) - (a.hospitals?.length ?? 0))[0] ?? patients[0];
  const client = config.clients.find((c) => c.roles.includes('clinician'))?.id ?? 'xm-zsh-his';
  const lines = [
    '',
    '  XZQ results gateway — demo network (厦漳泉 检查检验结果互认)',
    '',
    `  FHIR base   ${base}`,
    `  metadata    ${base}/metadata    health ${base}/healthz`,
    '',
    '  Hospitals:',
    ...config.hospitals.map(
      (h) => `    ${h.id.padEnd(10)} ${h.grade}  ${(CITIES[h.city as keyof typeof CITIES] ?? h.city).padEnd(9)} ${h.adapter.type.padEnd(6)} ${h.name}`,
    ),
    '',
    `  Loaded ${consents} demo consents and ${decisions} recognition decisions.`,
    '',
    '  Get a token (demo clients: see fixtures/demo-config.json):',
    `    TOKEN=$(npm run -s token -- --client ${client})`,
    '',
    '  First query — a patient seen in all three cities:',
    `    curl -s -H "Authorization: Bearer $TOKEN" '${base}/DiagnosticReport?patient.identifier=urn:oid:2.16.156.10011.1.3|${first?.nationalId ?? ''}&_include=DiagnosticReport:result&_count=20'`,
    '',
  ];
  return lines.join('\n') + '\n';
}
