/** Issue 5, acceptance 2 as written: a backend stopped for 10 s under continuous sets and deletes. */
import { afterAll, expect, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { replayScenario } from '../support/replication-scenario.js';

afterAll(stopAll);

it('SIGSTOP 10 s then SIGCONT: no client errors, groups identical after replay, no deleted key back', async () => {
  const r = await replayScenario(10_000);
  expect(r.errors.slice(0, 5)).toEqual([]);
  expect(r.compared).toBeGreaterThan(100);
});
