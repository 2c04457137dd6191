/**
 * A migration with `workers: 2` in each of two sidecars (issue 15), under the model-checked load of
 * migration.test.ts: it reaches done with no stale read, resurrected delete or lost write, and
 * one copier: at any time at most one process of the four holds the lease (GET /metrics adds up
 * memshift_migration_leader over a sidecar's workers), and it is always a worker 0.
 */
import { afterAll, expect, it } from 'vitest';
import { sleep, stopAll } from '../support/harness.js';
import { migrationStatus, runMigrationScenario } from '../support/migration-scenario.js';
import { metricValue, scrape, workerPids } from '../support/workers.js';

afterAll(stopAll);

it('grows 2 -> 3 servers with workers: 2: the checks hold, and one worker 0 copies', async () => {
  const leaders: number[] = [];
  const holders = new Set<string>();
  let workerZeros: number[] = [];
  const { status } = await runMigrationScenario({
    servers: 3,
    from: [0, 1],
    to: [0, 1, 2],
    keys: 3_000,
    workers: 2,
    during: async (sidecars, admins) => {
      workerZeros = sidecars.map((s) => workerPids(s)[0]!);
      for (const deadline = Date.now() + 240_000; Date.now() < deadline; ) {
        const metrics = await Promise.all(admins.map((a) => scrape(a).catch(() => '')));
        leaders.push(metrics.reduce((n, m) => n + (m.includes('memshift_migration_leader{') ? metricValue(m, 'memshift_migration_leader') : 0), 0));
        const status = await Promise.all(admins.map((a) => migrationStatus(a)));
        for (const s of status) if (typeof s.leader === 'string') holders.add(s.leader);
        if (status.every((s) => s.phase === 'done')) break;
        await sleep(200); // the sampling interval
      }
    },
  });
  console.log(`lease holders seen: ${[...holders].join(', ')}; processes leading at once: at most ${Math.max(...leaders)} over ${leaders.length} samples`);
  expect(Math.max(...leaders)).toBe(1);
  // One copier: each moved key copied once, not once per worker.
  const counts = status.counts as Record<string, number>;
  expect(counts.copied).toBeGreaterThan(0);
  expect(counts.copied).toBeLessThanOrEqual(counts.scanned!);
  expect(holders.size).toBeGreaterThan(0);
  // A holder is named host:pid:id: every one is a worker 0.
  for (const h of holders) expect(workerZeros).toContain(Number(h.split(':')[1]));
}, 300_000);
