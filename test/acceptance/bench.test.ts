/**
 * Acceptance: `npm run bench` runs every load of the data path's table against memcached direct,
 * nutcracker and memshift interleaved, and prints one row per load with memshift's ratio to
 * nutcracker, its target and the verdict; `--json` gives the same rows. (Speed is reported, never
 * asserted: a row may say "no".)
 */
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { REPO_ROOT } from '../support/harness.js';

const ROWS = [
  /^\| memcaslap -T 1 -c 50, 9:1 get:set, 100 B \| TPS \|/m,
  /^\| CPU time per op, memcaslap load \(from \/proc\) \| µs \|/m,
  /^\| single gets, 50 conns, depth 1 \| gets\/s \|/m,
  /^\| pipelined gets, 50 conns, depth 16 \| gets\/s \|/m,
  /^\| multi-get of 10 keys, memcaslap -d 10 -c 50 \| TPS \|/m,
  /^\| 10 KB values, memcaslap -X 10240 -c 50 \| TPS \|/m,
  /^\| p99 latency at 2,000 gets\/s offered, 50 conns \| µs \|/m,
];

it('bench prints every row of the table: the three targets, the ratio, the target and the verdict', () => {
  const r = spawnSync('npm', ['run', 'bench', '--', '--rounds', '1', '--duration', '2s', '--rate', '2000', '--out', ''], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 300_000 });
  expect(r.status, r.stderr).toBe(0);
  for (const row of ROWS) expect(r.stdout).toMatch(row);
  // Each row: direct, nutcracker, memshift as numbers, a ratio, a target and yes/no.
  const rows = r.stdout.split('\n').filter((l) => /^\| (?!workload|---)/.test(l));
  expect(rows).toHaveLength(ROWS.length);
  for (const l of rows) expect(l).toMatch(/\| [\d,.]+ \| [\d,.]+ \| [\d,.]+ \| \d+\.\d\d× \| [≥≤] \d\.\d× \| (yes|no) \|/);
  expect(r.stdout).toMatch(/^Machine: .+, \d+ × .+, Node v\d+/m);
  expect(r.stdout).toMatch(/memshift_backend_errors=0/);
});

it('bench --json gives the rows, the samples and the machine', () => {
  const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--rounds', '1', '--duration', '2s', '--loads', 'get1,p99', '--rate', '2000', '--json'], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 180_000 });
  expect(r.status, r.stderr).toBe(0);
  const out = JSON.parse(r.stdout) as { rows: { id: string; ratio: number; met: boolean }[]; samples: { target: string }[]; machine: { cores: number } };
  expect(out.rows.map((row) => row.id)).toEqual(['get1', 'p99']);
  for (const row of out.rows) expect(row.ratio).toBeGreaterThan(0);
  expect(out.samples).toHaveLength(6);
  expect(out.machine.cores).toBeGreaterThan(0);
});
