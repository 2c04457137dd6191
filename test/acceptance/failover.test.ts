/**
 * Passive migration (issue 6, acceptance 5) at 100,000 keys: two replica groups of three
 * memcached, failover_after 5s, two sidecars under a model-checked load; one backend is killed
 * with SIGKILL and stays down (test/support/failover-scenario.ts).
 */
import { afterAll, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { runReplicatedScenario } from '../support/failover-scenario.js';

afterAll(stopAll);

it('a backend down for failover_after (5s) has its keys moved to the rest of its group, copied from the other group', async () => {
  await runReplicatedScenario({ kind: "failover", keys: 100_000, failoverAfter: '5s', settle: '2s' });
}, 600_000);
