/**
 * Issue 12: passive failover under the issue's load (test/support/passive-failover.ts), with both
 * sidecars' clocks right and with one 5 s behind (libfaketime).
 */
import { afterAll, expect, it } from 'vitest';
import { stopAll } from '../support/harness.js';
import { fakeClock, runPassiveFailover } from '../support/passive-failover.js';

afterAll(stopAll);

it('a dead backend of a replica group is failed over with no miss, no wrong read and no client timeout', async () => {
  const { report } = await runPassiveFailover();
  expect(report.errors.byKind.timeout ?? 0).toBe(0);
}, 300_000);

it('the same with one sidecar whose wall clock runs 5 s behind (libfaketime)', async () => {
  const { report } = await runPassiveFailover({ env: [{}, fakeClock('-5s')] });
  expect(report.errors.byKind.timeout ?? 0).toBe(0);
}, 300_000);
