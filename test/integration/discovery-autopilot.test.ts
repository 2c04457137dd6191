/**
 * The autopilot grows a discovered pool (issue 16): a real dnsmasq serves mc.test, three memcached
 * pods behind it, two memshift sidecars with `discovery: {dns: mc.test}` and `autopilot: {migrate:
 * auto}`, under the model-checked load. A fourth pod's record is added to the hosts file (SIGHUP):
 * once it has been seen for min_stable, both sidecars run one migration, auto-main-<hash>, to done,
 * with 0 stale reads, 0 resurrected deletes and 0 lost writes, and both route by the four pods. The
 * longer scenarios (approve, drain, failover, flapping, refusal, DNS down, answers that differ) are in
 * test/acceptance/discovery.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { autoId, expectClean, keysOnTwo, podName, preload, ringsOf, startDiscoveryFleet, underLoad, untilMigrated } from '../support/discovery-scenario.js';

afterAll(stopAll);

describe('autopilot: a discovered pool grows by DNS', () => {
  it('grows 3 -> 4 by itself (migrate: auto) under load, on both sidecars, with no stale, resurrected or lost key', async () => {
    const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2], autopilot: { migrate: 'auto', min_stable: '2s' } });
    expect(await ringsOf(fleet)).toEqual([[[0, 1, 2].map((i) => podName(i))], [[0, 1, 2].map((i) => podName(i))]]);
    await preload(fleet.ports[0]!, 5_000);
    const id = autoId(fleet, [0, 1, 2], [0, 1, 2, 3]);
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
