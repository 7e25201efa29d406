import path from 'node:path';
import { ConfigError, parseConfig } from '../../../gateway/config';

/** The configuration of the sources issue #19 adds: MLLP beside an inbox, CDA folders, a hospital's PACS. */
const base = (hospital: Record<string, unknown>) => ({
  publicBaseUrl: 'http://127.0.0.1:8080',
  hospitals: [{ id: 'qz-fzq', name: '丰泽', city: '350500', grade: '2A', ...hospital }],
});
const problems = (raw: unknown): string[] => {
  try {
    parseConfig(raw, { baseDir: '/etc/xzq' });
    return [];
  } catch (e) {
    return (e as ConfigError).problems;
  }
};

describe('configuration: mllp, cda, pacs', () => {
  test('MLLP defaults, and TLS files, inbox and documents resolved against the file\'s folder', () => {
    const c = parseConfig(base({ adapter: { type: 'hl7v2', inbox: 'store', mllp: { port: 2575, tls: { key: 'tls/k.pem', cert: 'tls/c.pem', ca: 'tls/ca.pem' } } } }), { baseDir: '/etc/xzq' });
    const a = c.hospitals[0].adapter;
    if (a.type !== 'hl7v2') throw new Error('hl7v2 expected');
    expect(a.inbox).toBe(path.resolve('/etc/xzq/store'));
    expect(a.mllp).toEqual({
      host: '0.0.0.0',
      port: 2575,
      allowedFacilities: [],
      maxMessageBytes: 1024 * 1024,
      idleTimeoutMs: 60_000,
      maxConnections: 32,
      tls: { key: '/etc/xzq/tls/k.pem', cert: '/etc/xzq/tls/c.pem', ca: '/etc/xzq/tls/ca.pem', requireClientCertificate: true },
    });
    const cda = parseConfig(base({ adapter: { type: 'cda', documents: 'docs', codeMap: 'm.json' }, pacs: { dicomweb: 'http://10.0.0.5:8042/dicom-web' } }), { baseDir: '/etc/xzq' });
    expect(cda.hospitals[0].adapter).toEqual({ type: 'cda', documents: '/etc/xzq/docs', codeMap: '/etc/xzq/m.json' });
    expect(cda.hospitals[0].pacs).toEqual({ dicomweb: 'http://10.0.0.5:8042/dicom-web' });
  });

  test.each([
    [{ adapter: { type: 'hl7v2', inbox: 'x', mllp: { port: 70000 } } }, 'hospitals[0].adapter.mllp.port'],
    [{ adapter: { type: 'hl7v2', inbox: 'x', mllp: { port: 1, nagle: true } } }, 'hospitals[0].adapter.mllp'],
    [{ adapter: { type: 'hl7v2', inbox: 'x', mllp: { port: 1, maxMessageBytes: 10 } } }, 'hospitals[0].adapter.mllp.maxMessageBytes'],
    [{ adapter: { type: 'cda' } }, 'hospitals[0].adapter.documents'],
    [{ adapter: { type: 'cda', documents: 'd' }, pacs: { dicomweb: 'not a url' } }, 'hospitals[0].pacs.dicomweb'],
    [{ adapter: { type: 'cda', documents: 'd' }, pacs: { dicomweb: 'http://p/dicom-web', user: 'x' } }, 'hospitals[0].pacs'],
  ])('%j is refused at %s', (h, where) => {
    expect(problems(base(h)).some((p) => p.startsWith(where))).toBe(true);
  });
});
