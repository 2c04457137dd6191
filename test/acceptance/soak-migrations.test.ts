/**
 * Issue 12's soak (test/support/soak-scenario.ts): 10 minutes of the passive-failover load through
 * two sidecars while the pool is grown, a backend stopped for 10 s, another killed and failed over,
 * brought back in with a migration, and the pool shrunk again.
 */
import { afterAll, expect, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { runSoak } from '../support/soak-scenario.js';

afterAll(stopAll);

it('10 minutes of load through a grow, a stopped backend, a failover, a return and a shrink: no stale, resurrected, lost or wrong read', async () => {
  const { report, steps, errors } = await runSoak(10);
  console.log(`soak summary:\n  ${steps.join('\n  ')}\n  ${errors.length} client errors`);
  // No client gave up waiting (3 s): nothing stalled.
  expect(report.errors.byKind.timeout ?? 0).toBe(0);
}, 900_000);
