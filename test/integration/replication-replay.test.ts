/**
 * Issue 5, acceptance 2 (short form; the 10 s version is in test/acceptance):
 * under continuous sets and deletes from several clients, one backend is
 * stopped (SIGSTOP) and continued; the load ends before it continues, so only
 * the replay can bring it up to date. With `write: one` the clients see no errors;
 * after the replay both groups hold identical data for every key (value, flags,
 * TTL within 2 s) and no deleted key has come back.
 */
import { afterAll, expect, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { replayScenario } from '../support/replication-scenario.js';

afterAll(stopAll);

it('replays what a stopped backend missed: clients saw no errors, both groups identical, no deleted key back', async () => {
  const r = await replayScenario(3_000);
  expect(r.errors.slice(0, 5)).toEqual([]);
  expect(r.compared).toBeGreaterThan(100);
});
