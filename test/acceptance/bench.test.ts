/**
 * Acceptance: `npm run bench` runs memcaslap against memcached direct,
 * nutcracker and memshift interleaved, and prints the three-way table with
 * memshift's ratios. (Speed is reported, never asserted.)
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../support/harness.js';

it('bench prints throughput and latency for direct, nutcracker and memshift, and the ratios', () => {
  const r = spawnSync('npm', ['run', 'bench', '--', '--rounds', '1', '--duration', '3s'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
  expect(r.status, r.stderr).toBe(0);
  for (const target of ['direct', 'nutcracker', 'memshift']) expect(r.stdout).toMatch(new RegExp(`^${target}\\s+1\\s+[\\d,]+\\s+[\\d,]+`, 'm'));
  expect(r.stdout).toMatch(/memshift vs direct\s+TPS x\d/);
  expect(r.stdout).toMatch(/memshift vs nutcracker\s+TPS x\d/);
  expect(r.stdout).toMatch(/memshift_backend_errors=0/);
});
