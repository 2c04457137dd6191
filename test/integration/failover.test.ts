/**
 * Passive migration (issue 6, acceptance 5) at 20,000 keys, failover_after 3s and settle 2s;
 * `npm run acceptance` runs it at 100,000 keys with failover_after 5s.
 */
import { afterAll, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { runFailoverScenario } from '../support/failover-scenario.js';

afterAll(stopAll);

it('a backend down longer than failover_after has its keys moved to the rest of its group, copied from the other group', async () => {
  await runFailoverScenario({ keys: 20_000, failoverAfter: '3s', settle: '2s' });
}, 300_000);
