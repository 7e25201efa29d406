import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GATEWAY_NODE_FLAGS } from '../../bench/gateway-node-flags';

/** The bench measures the gateway as package.json starts it: the same Node flags, each one this Node accepts. */
describe('the gateway Node flags', () => {
  const scripts: Record<string, string> = JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')).scripts;

  test.each(['start', 'gateway'])('npm run %s passes every flag the bench uses, before the entry point', (name) => {
    const words = scripts[name].split(/\s+/);
    const entry = words.indexOf('--import');
    for (const flag of GATEWAY_NODE_FLAGS) {
      expect(words.indexOf(flag)).toBeGreaterThan(0);
      expect(words.indexOf(flag)).toBeLessThan(entry);
    }
  });

  test('this Node accepts them (an unknown V8 flag stops node with "bad option")', () => {
    const run = spawnSync(process.execPath, [...GATEWAY_NODE_FLAGS, '-e', "console.log(require('v8').getHeapStatistics().heap_size_limit)"], { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    // the heap limit follows --max-old-space-size (old generation plus the young one)
    expect(Number(run.stdout) / 2 ** 20).toBeGreaterThanOrEqual(192);
    expect(Number(run.stdout) / 2 ** 20).toBeLessThan(260);
  });
});
