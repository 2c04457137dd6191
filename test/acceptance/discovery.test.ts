/**
 * Discovery and the autopilot with real parts (issue 16): a real dnsmasq serving mc.test from a
 * hosts file the tests rewrite (SIGHUP), memcached pods on 127.0.1.x, two memshift sidecars, and the
 * model-checked load through both (test/support/discovery-scenario.ts). Each scenario ends with 0
 * stale reads, 0 resurrected deletes, 0 lost writes (but for the keys of a pod gone while down), and
 * the ring it should have on both sidecars:
 *
 *   approve   a new pod is planned (GET /migration, memshift migrate status), runs after migrate start
 *   drain     memshift migrate drain takes a pod out; removing its record later changes nothing
 *   failover  with replica groups, a pod killed and removed from DNS is failed over (failover_after)
 *   gone      without replica groups, such a pod's arcs move and start empty (only its keys are lost)
 *   flapping  a record that comes and goes is held: no migration
 *   refused   a change above max_moved_share is refused: logged, counted, the ring stays
 *   DNS down  the DNS server stopped: the last set is kept
 *   disagree  the sidecars' DNS servers answer differently for 10 s: one migration, the same ring
 *
 * (Growth by DNS with migrate: auto is test/integration/discovery-autopilot.test.ts.)
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hold, REPO_ROOT, stopAll } from '../support/harness.js';
import { failoverId } from '../../src/migration/failover.js';
import { migrationStatus } from '../support/migration-scenario.js';
import { checkHistory } from '../support/model-load.js';
import { createRing } from '../../src/routing/index.js';
import {
  autoId,
  beforeGrowth,
  expectClean,
  metricOf,
  migrationsOf,
  podLines,
  podName,
  post,
  preload,
  ringsOf,
  startDiscoveryFleet,
  underLoad,
  untilMigrated,
} from '../support/discovery-scenario.js';

afterAll(stopAll);

const names = (ids: readonly number[], group?: string): string[] => ids.map((i) => podName(i, group));
const LONG = 300_000;

describe('autopilot acceptance', () => {
  it('approve: a new pod is planned, shown by GET /migration and migrate status, and runs after migrate start', async () => {
    const { fleet, id } = await beforeGrowth({ migrate: 'approve' });
    const report = await underLoad(
      fleet,
      async () => {
        await fleet.setPods([0, 1, 2, 3]);
        await untilMigrated(fleet, id, 30_000, 'planned');
        for (const a of fleet.admins) expect((await migrationStatus(a)).waiting).toBe('waiting for migrate start');
        const text = execFileSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'migrate', 'status', '--admin', `http://127.0.0.1:${fleet.admins[1]!}`], { encoding: 'utf8' });
        expect(text).toContain(id);
        expect(text).toContain('waiting for migrate start');
        // Planned, it waits: still the old ring a while later.
        await hold(3_000, 'planned, it waits: still the old ring a while later');
        expect((await migrationStatus(fleet.admins[0]!)).phase).toBe('planned');
        expect((await post(fleet, 1, 'start')).status).toBe(200);
        await untilMigrated(fleet, id);
      },
      'approve + migrate start',
    );
    expectClean(report);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2, 3])], [names([0, 1, 2, 3])]]);
  }, LONG);

  it('drain: migrate drain takes a pod out of the ring; removing its record and the pod then changes nothing', async () => {
    const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2, 3], autopilot: { migrate: 'auto' } });
    await preload(fleet.ports[0]!, 5_000);
    const id = autoId(fleet, [0, 1, 2, 3], [0, 1, 2]);
    const report = await underLoad(
      fleet,
      async () => {
        const cli = execFileSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'migrate', 'drain', podName(3), '--admin', `http://127.0.0.1:${fleet.admins[0]!}`, '--token', 'test-token'], { encoding: 'utf8' });
        expect(cli).toContain(`drain of ${podName(3)}: migration ${id} starts`);
        await untilMigrated(fleet, id);
        // Still listed by DNS, it stays out; then the StatefulSet scales down: record gone, pod gone.
        await hold(3_000, 'still listed by DNS, the drained pod stays out');
        await fleet.setPods([0, 1, 2]);
        await fleet.pods[3]!.stop();
        await hold(5_000, 'the load runs on after the scale-down');
        expect(await migrationsOf(fleet)).toEqual([id, id]);
      },
      'drain, then the record removed',
    );
    expectClean(report);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2])], [names([0, 1, 2])]]);
  }, LONG);

  it('failover: with replica groups, a pod killed and removed from DNS is failed over, and nothing else moves', async () => {
    const fleet = await startDiscoveryFleet({ pods: 6, groups: { a: [0, 1, 2], b: [3, 4, 5] }, autopilot: { migrate: 'auto' }, pool: { failover_after: '2s', read_failover: 'errors_and_misses' } });
    await preload(fleet.ports[0]!, 5_000);
    const id = failoverId({ group: 'a', server: `${podName(1, 'a')}:${fleet.port}` });
    const report = await underLoad(
      fleet,
      async () => {
        fleet.pods[1]!.kill('SIGKILL');
        await fleet.setPods([0, 2, 3, 4, 5]);
        await untilMigrated(fleet, id);
        await hold(4_000, 'the load runs on after the failover');
        expect(await migrationsOf(fleet)).toEqual([id, id]);
      },
      'replica groups: a pod removed suddenly',
    );
    expectClean(report);
    const rings = [names([0, 2], 'a'), names([3, 4, 5], 'b')];
    expect(await ringsOf(fleet)).toEqual([rings, rings]);
    for (const s of fleet.sidecars) expect(s.logs()).toContain(`${podName(1, 'a')} left DNS: failover_after moves its keys`);
  }, LONG);

  it('gone: without replica groups, a pod killed and removed from DNS has its arcs moved, starting empty, with nothing stale', async () => {
    const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2, 3], autopilot: { migrate: 'auto' } });
    await preload(fleet.ports[0]!, 5_000);
    const id = autoId(fleet, [0, 1, 2, 3], [0, 1, 2], `gone:${podName(3)}`);
    const report = await underLoad(
      fleet,
      async () => {
        fleet.pods[3]!.kill('SIGKILL');
        await fleet.pods[3]!.waitExit();
        await fleet.setPods([0, 1, 2]);
        await untilMigrated(fleet, id);
      },
      'a pod removed suddenly, no replica groups',
    );
    expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, unexplained: report.unexplainedReads }).toEqual({ stale: 0, resurrected: 0, unexplained: 0 });
    // No copy of the dead pod's keys exists: only keys it held may have lost their value.
    const ring = createRing({ hash: 'fnv1a_64', distribution: 'ketama', servers: [0, 1, 2, 3].map((i) => ({ host: podName(i), port: fleet.port, weight: 1, name: podName(i), address: `${podName(i)}:${fleet.port}`, raw: podName(i) })) });
    const lost = new Set(checkHistory(report.history, { initial: report.initial, maxSamples: 1_000_000 }).details.filter((v) => v.kind === 'lost-write').map((v) => v.key));
    for (const k of lost) expect(ring.ownerOf(Buffer.from(k)), `${k} was not on the dead pod`).toBe(3);
    expect(await migrationsOf(fleet)).toEqual([id, id]);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2])], [names([0, 1, 2])]]);
    for (const s of fleet.sidecars) if (s.logs().includes(`migration ${id} starts`)) expect(s.logs()).toContain('left DNS while down: no copy of its keys exists, they start empty on their new owners');
  }, LONG);

  it('flapping: a record that comes and goes is held, and nothing migrates', async () => {
    const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2], autopilot: { migrate: 'auto', min_stable: '3s' } });
    await preload(fleet.ports[0]!, 5_000);
    const report = await underLoad(
      fleet,
      async () => {
        for (let i = 0; i < 8; i++) {
          await fleet.setPods(i % 2 === 0 ? [0, 1, 2, 3] : [0, 1, 2]);
          await hold(1_500, 'each answer holds for 1.5 s');
        }
        await hold(5_000, 'the load runs on after the flapping');
      },
      'a flapping record',
    );
    expectClean(report);
    expect(await migrationsOf(fleet)).toEqual([null, null]);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2])], [names([0, 1, 2])]]);
    const flaps = await metricOf(fleet, 'memshift_discovery_flaps_total{pool="main",group="main",dns="mc.test"}');
    for (const n of flaps) expect(n).toBeGreaterThanOrEqual(1);
    for (const s of fleet.sidecars) expect(s.logs()).toContain('discovery: the DNS answer flaps; the stable set is held');
  }, LONG);

  it('refused: a change above max_moved_share is logged, counted and refused; the ring stays', async () => {
    const fleet = await startDiscoveryFleet({ pods: 6, dns: [0, 1], autopilot: { migrate: 'auto', max_moved_share: 0.3 } });
    await preload(fleet.ports[0]!, 5_000);
    const report = await underLoad(
      fleet,
      async () => {
        await fleet.setPods([0, 1, 2, 3, 4, 5]);
        await hold(6_000, 'the load runs on: a change above max_moved_share must not start');
      },
      'a change above max_moved_share',
    );
    expectClean(report);
    expect(await migrationsOf(fleet)).toEqual([null, null]);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1])], [names([0, 1])]]);
    expect(await metricOf(fleet, 'memshift_discovery_refusals_total{pool="main",reason="share"}')).toEqual([1, 1]);
    for (const s of fleet.sidecars) expect(s.logs()).toMatch(/of the keys, above max_moved_share 30\.0%; refused, the ring stays/);
  }, LONG);

  it('DNS down: the DNS server stopped, the last set is kept; it answers again and nothing moved', async () => {
    const fleet = await startDiscoveryFleet({ pods: 3, dns: [0, 1, 2], autopilot: { migrate: 'auto' } });
    await preload(fleet.ports[0]!, 5_000);
    const report = await underLoad(
      fleet,
      async () => {
        await fleet.dns.stop();
        await hold(6_000, 'the DNS server stays down: the last good servers are kept');
        expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2])], [names([0, 1, 2])]]);
        for (const n of await metricOf(fleet, 'memshift_discovery_failing{pool="main",group="main",dns="mc.test"}')) expect(n).toBeGreaterThanOrEqual(2);
        await fleet.dns.restart();
        await hold(3_000, 'the load runs on once DNS answers again');
      },
      'the DNS server stopped',
    );
    expectClean(report);
    expect(await migrationsOf(fleet)).toEqual([null, null]);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2])], [names([0, 1, 2])]]);
    expect(await metricOf(fleet, 'memshift_discovery_failing{pool="main",group="main",dns="mc.test"}')).toEqual([0, 0]);
    for (const s of fleet.sidecars) expect(s.logs()).toContain('discovery: DNS look-up failed; the last good servers are kept');
  }, LONG);

  it('disagree: the two sidecars see different answers for 10 s, and run one migration to one ring', async () => {
    const fleet = await startDiscoveryFleet({ pods: 4, dns: [0, 1, 2], autopilot: { migrate: 'auto' }, secondDns: true });
    await preload(fleet.ports[0]!, 5_000);
    const id = autoId(fleet, [0, 1, 2], [0, 1, 2, 3]);
    const report = await underLoad(
      fleet,
      async () => {
        // Sidecar 0's DNS server has the new pod; sidecar 1's does not, for 10 s.
        await fleet.dns.setHosts(podLines([0, 1, 2, 3]));
        await hold(10_000, "sidecar 1's DNS server lags for 10 s");
        await fleet.dns2!.setHosts(podLines([0, 1, 2, 3]));
        await untilMigrated(fleet, id);
        await hold(4_000, 'the load runs on after the migration');
      },
      'answers that differ for 10 s',
    );
    expectClean(report);
    expect(await migrationsOf(fleet)).toEqual([id, id]);
    expect(await ringsOf(fleet)).toEqual([[names([0, 1, 2, 3])], [names([0, 1, 2, 3])]]);
    // Sidecar 1 never started a migration of its own: it followed sidecar 0's on record.
    expect(fleet.sidecars[1]!.logs()).toContain(`follows autopilot migration ${id}`);
    expect(await metricOf(fleet, 'memshift_discovery_migrations_total{pool="main"}')).toEqual([1, 0]);
  }, LONG);
});
