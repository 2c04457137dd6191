/**
 * Issue 6 acceptance at 100,000 keys: online migrations under a model-checked load through two
 * memshift instances (grow, shrink, replace, lazy, the lease holder killed). Each prints its
 * T_copy + T_sync + T_verify = T_total.
 */
import { afterAll, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { killLeaderIn, runMigrationScenario } from '../support/migration-scenario.js';

afterAll(stopAll);

const KEYS = 100_000;

it('grows 2 -> 3 servers', async () => {
  await runMigrationScenario({ servers: 3, from: [0, 1], to: [0, 1, 2], keys: KEYS });
}, 600_000);

it('shrinks 3 -> 2 servers', async () => {
  await runMigrationScenario({ servers: 3, from: [0, 1, 2], to: [0, 1], keys: KEYS });
}, 600_000);

it('replaces a server (A,B -> A,C)', async () => {
  await runMigrationScenario({ servers: 3, from: [0, 1], to: [0, 2], keys: KEYS });
}, 600_000);

it('lazy copy', async () => {
  await runMigrationScenario({ servers: 3, from: [0, 1], to: [0, 1, 2], keys: KEYS, copy: 'lazy' });
}, 600_000);

it('the lease holder dies mid-copy', async () => {
  await runMigrationScenario({
    servers: 3,
    from: [0, 1],
    to: [0, 1, 2],
    keys: KEYS,
    during: killLeaderIn(['copy'], 60_000),
  });
}, 600_000);
