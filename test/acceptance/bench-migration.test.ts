/**
 * Acceptance: `npm run bench -- --scenario migration` runs memcaslap through memshift with no
 * migration and during a migration [A,B] -> [A,B,C], and prints the during/no-migration ratios and
 * each round's migration times. Only the shape of the report and that the migration reached `done`
 * are checked; speed is reported, never asserted.
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../support/harness.js';

it('bench --scenario migration prints the ratios and each round reaches done', () => {
  const args = ['run', 'bench', '--', '--scenario', 'migration', '--rounds', '1', '--duration', '3s', '--keys', '30000'];
  const r = spawnSync('npm', args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  expect(r.stdout).toMatch(/^no migration\s+1\s+[\d,]+\s+[\d,]+/m);
  expect(r.stdout).toMatch(/^during migration\s+1\s+[\d,]+\s+[\d,]+/m);
  expect(r.stdout).toMatch(/during migration vs no migration\s+TPS x\d+\.\d+\s+avg latency x\d+\.\d+\s+p99≈ latency x\d+\.\d+/);
  // The round row: round 1, both per-round ratios, T_copy .. T_total and cleanup, ending in phase done.
  expect(r.stdout).toMatch(/^1\s+(none|migr) first\s+x\d+\.\d+\s+x\d+\.\d+\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\s+\d+\.\d\s.*\bdone$/m);
  expect(r.stdout).toMatch(/memcaslap uses its own keys/);
  expect(r.stdout).not.toMatch(/FAILED/);
});
