/**
 * A route migration under load through two memshift sidecars (issue 14 acceptance): the keys of
 * route "tenant42:" move from pool main to pool tenant (its own servers, hashed differently) while
 * model-checked clients run on the prefix and on keys that stay. Afterwards: 0 stale, 0
 * resurrected, 0 lost, every key on exactly one server, the prefix's on the new pool only. The
 * run is migration-scenario.ts's, as for a server-list migration.
 */
import { afterAll, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { runMigrationScenario } from '../support/migration-scenario.js';

afterAll(stopAll);

const KEYS = 10_000;
const route = { prefix: 'tenant42:' };

it('moves a prefix from pool main to its own pool with no stale read, resurrected delete or lost write, and one copy after cleanup', async () => {
  await runMigrationScenario({ servers: 4, from: [0, 1], to: [2, 3], keys: KEYS, route });
}, 300_000);

it('an abort in verify rolls the prefix back to pool main and empties the new pool', async () => {
  await runMigrationScenario({ servers: 4, from: [0, 1], to: [2, 3], keys: KEYS, route, abortAt: 'verify' });
}, 300_000);
