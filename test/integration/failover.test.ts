/**
 * Migrations of a pool with replica groups (issue 6) at 20,000 keys with settle 2s:
 * passive migration (acceptance 5: failover_after 3s here, 5s in `npm run acceptance` at 100,000
 * keys), an operator's migration of every group on its own ring, and its abort (rollback).
 */
import { afterAll, expect, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { runReplicatedScenario } from '../support/failover-scenario.js';
import { STALE_VIEW_LOG, stopFollowerIn } from '../support/migration-scenario.js';

afterAll(stopAll);

it('a backend down longer than failover_after has its keys moved to the rest of its group, copied from the other group', async () => {
  await runReplicatedScenario({ kind: 'failover', keys: 20_000, failoverAfter: '3s', settle: '2s' });
}, 300_000);

it('three failovers in a row with no config edit: two servers of group a, then one of group b', async () => {
  await runReplicatedScenario({ kind: 'failover', keys: 20_000, failoverAfter: '3s', settle: '2s', chain: true });
}, 400_000);

it('grows both replica groups 2 -> 3, each on its own ring, with no stale read, resurrected delete or lost write', async () => {
  await runReplicatedScenario({ kind: 'grow', keys: 20_000, settle: '2s' });
}, 300_000);

it('grows both groups while one sidecar is stopped across phase switches: it holds, then rejoins, and its read-modify-writes follow the phase', async () => {
  const stop = stopFollowerIn('dual_read', 6_000);
  await runReplicatedScenario({ kind: 'grow', keys: 20_000, settle: '2s', during: stop.during });
  expect(stop.stopped().logs()).toContain(STALE_VIEW_LOG);
}, 300_000);

it('an abort in verify rolls every group back to its old servers without losing a write, and clears the new ones', async () => {
  await runReplicatedScenario({ kind: 'grow', keys: 20_000, settle: '2s', abortAt: 'verify' });
}, 300_000);
