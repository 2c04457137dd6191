/**
 * The autopilot grows a discovered pool (issue 16): a real dnsmasq serves mc.test, three memcached
 * pods behind it, two memshift sidecars with `discovery: {dns: mc.test}` and `autopilot: {migrate:
 * auto}`, under the model-checked load. A fourth pod's record is added to the hosts file (SIGHUP):
 * once it has been seen for min_stable, both sidecars run one migration, auto-main-<hash>, to done,
 * with 0 stale reads, 0 resurrected deletes and 0 lost writes, and both route by the four pods. A
 * pod back under its name at a new address is reconnected there, with no migration. A
 * sidecar whose DNS name gives no server at start exits 69, naming the name, instead of serving. The
 * longer scenarios (approve, drain, failover, flapping, refusal, DNS down, answers that differ) are in
 * test/acceptance/discovery.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, keysOnServer, hold, spawnMemshift, spreadKeys, startDnsmasq, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { backendsUp, beforeGrowth, expectClean, keysOnTwo, migrationsOf, podIp, podLines, podName, ringsOf, startDiscoveryFleet, underLoad, untilMigrated } from '../support/discovery-scenario.js';

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

describe('a pod back with a new address', () => {
  it('moves no key: its backend, named by its DNS name, connects to the new address; no migration starts', async () => {
    const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2], autopilot: { migrate: 'auto', min_stable: '2s' } });
    const keys = spreadKeys('a:', 300);
    const c = await TextClient.connect(fleet.ports[0]!);
    for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nx`)).toBe('STORED\r\n');
    const onPod2 = await keysOnServer(fleet.pods[2]!.port, keys, fleet.pods[2]!.host);
    expect(onPod2.size).toBeGreaterThan(30);
    // mc-2 restarts on another node: its memcached (empty) now answers at pod 3's address.
    fleet.pods[2]!.kill('SIGKILL');
    await fleet.pods[2]!.waitExit();
    await fleet.dns.setHosts([...podLines([0, 1]), [podIp(3), podName(2), 'mc.test']]);
    await waitUntil('mc-2 is up again on both sidecars', async () => (await backendsUp(fleet)).every((up) => up.includes(`${podName(2)}:${fleet.port}`)), 15_000, 200);
    // Its keys are written there now (it came back empty); every other key kept its server and value.
    const moved = [...onPod2].slice(0, 20);
    for (const k of moved) expect(await c.request(`set ${k} 0 0 1\r\ny`)).toBe('STORED\r\n');
    expect((await keysOnServer(fleet.pods[3]!.port, moved, fleet.pods[3]!.host)).size).toBe(moved.length);
    for (const k of keys.filter((x) => !onPod2.has(x)).slice(0, 50)) expect(await c.request(`get ${k}`)).toBe(`VALUE ${k} 0 1\r\nx\r\nEND\r\n`);
    c.close();
    await hold(3_000, 'time for a migration that must not start');
    expect(await migrationsOf(fleet)).toEqual([null, null]);
    expect(await ringsOf(fleet)).toEqual([[[0, 1, 2].map((i) => podName(i))], [[0, 1, 2].map((i) => podName(i))]]);
    for (const s of fleet.sidecars) expect(s.logs()).toContain('discovery: servers have new addresses');
  });
});

describe('discovery at start', () => {
  it('exits 69 (MS_ERR_DISCOVERY) naming the DNS name when it gives no server, rather than serve an empty pool', async () => {
    const dns = await startDnsmasq({ hosts: [] });
    const pool = { discovery: { dns: 'mc.test', port: 11211, interval: '1s', resolver: dns.address } };
    const proc = spawnMemshift(stringify({ listen: [`127.0.0.1:${await freePort()}`], pools: { main: pool } }), 'memshift (no servers in DNS)', { env: { MEMSHIFT_DISCOVERY_START_WAIT_MS: '2500' } });
    const exit = await proc.waitExit(15_000);
    expect(exit?.code, proc.logTail()).toBe(69);
    // Asked again meanwhile (logged once per reason), then the error names the pool, the name and why.
    expect(proc.logs()).toContain('pool main: DNS name mc.test gives no usable servers yet; asking again every second');
    expect(proc.logs()).toMatch(/pool main: DNS name mc\.test gave no usable servers within 3 s \(A mc\.test: ENOTFOUND\); memshift does not serve a pool with no servers/);
    expect(proc.logs()).toContain('MS_ERR_DISCOVERY');
  });
});
