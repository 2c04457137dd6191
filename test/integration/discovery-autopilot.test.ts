/**
 * The autopilot grows a discovered pool (issue 16): a real dnsmasq serves mc.test, three memcached
 * pods behind it, two memshift sidecars with `discovery: {dns: mc.test}` and `autopilot: {migrate:
 * auto}`, under the model-checked load. A fourth pod's record is added to the hosts file (SIGHUP):
 * once it has been seen for min_stable, both sidecars run one migration, auto-main-<hash>, to done,
 * with 0 stale reads, 0 resurrected deletes and 0 lost writes, and both route by the four pods. A
 * sidecar whose DNS name gives no server at start exits 69, naming the name, instead of serving. The
 * longer scenarios (approve, drain, failover, flapping, refusal, DNS down, answers that differ) are in
 * test/acceptance/discovery.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, REPO_ROOT, startDnsmasq, stopAll } from '../support/harness.js';
import { makeTempDir, ManagedProcess } from '../support/process.js';
import { beforeGrowth, expectClean, keysOnTwo, podName, ringsOf, underLoad, untilMigrated } from '../support/discovery-scenario.js';

afterAll(stopAll);

describe('autopilot: a discovered pool grows by DNS', () => {
  it('grows 3 -> 4 by itself (migrate: auto) under load, on both sidecars, with no stale, resurrected or lost key', async () => {
    const { fleet, id } = await beforeGrowth({ migrate: 'auto', min_stable: '2s' });
    expect(await ringsOf(fleet)).toEqual([[[0, 1, 2].map((i) => podName(i))], [[0, 1, 2].map((i) => podName(i))]]);
    const report = await underLoad(
      fleet,
      async () => {
        await fleet.setPods([0, 1, 2, 3]);
        const s = await untilMigrated(fleet, id);
        expect(s.t_total_s).toEqual(expect.any(Number));
        expect((s.counts as { copied: number }).copied).toBeGreaterThan(0);
      },
      'grow 3 -> 4 by DNS',
    );
    expectClean(report);
    const four = [0, 1, 2, 3].map((i) => podName(i));
    expect(await ringsOf(fleet)).toEqual([[four], [four]]);
    // Cleanup removed the moved keys from their old owners.
    expect((await keysOnTwo(fleet.pods)).slice(0, 5)).toEqual([]);
    // One sidecar started it; the other started the same id, or followed it on record (whichever came first).
    const how = fleet.sidecars.map((s) => (s.logs().includes(`migration ${id} starts`) ? 'started' : s.logs().includes(`follows autopilot migration ${id}`) ? 'followed' : 'none'));
    expect(how).toContain('started');
    expect(how).not.toContain('none');
  });
});

describe('discovery at start', () => {
  it('exits 69 (MS_ERR_DISCOVERY) naming the DNS name when it gives no server, rather than serve an empty pool', async () => {
    const dns = await startDnsmasq({ hosts: [] });
    const dir = makeTempDir('memshift-nodns');
    const file = join(dir, 'memshift.yml');
    const pool = { discovery: { dns: 'mc.test', port: 11211, interval: '1s', resolver: dns.address } };
    writeFileSync(file, stringify({ listen: [`127.0.0.1:${await freePort()}`], pools: { main: pool } }));
    const proc = ManagedProcess.start({
      name: 'memshift (no servers in DNS)',
      command: process.execPath,
      args: [join(REPO_ROOT, 'dist/cli.js'), 'serve', '-c', file],
      logFile: join(dir, 'memshift.log'),
      cwd: REPO_ROOT,
      env: { ...process.env, MEMSHIFT_DISCOVERY_START_WAIT_MS: '2500' },
    });
    const exit = await proc.waitExit(15_000);
    expect(exit?.code, proc.logTail()).toBe(69);
    // Asked again meanwhile (logged once per reason), then the error names the pool, the name and why.
    expect(proc.logs()).toContain('pool main: DNS name mc.test gives no usable servers yet; asking again every second');
    expect(proc.logs()).toMatch(/pool main: DNS name mc\.test gave no usable servers within 3 s \(A mc\.test: ENOTFOUND\); memshift does not serve a pool with no servers/);
    expect(proc.logs()).toContain('MS_ERR_DISCOVERY');
  });
});
