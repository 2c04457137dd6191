/**
 * `memshift plan --to` on a pool without a `migration:` block (issue 14: the Kubernetes guide's step
 * 1 failed with `pool "main" has no migration`): the pool's servers are the old ones. Three real
 * memcached hold keys, a fourth is empty; `node dist/cli.js plan -c FILE --to A,B,C,D` reads the
 * old servers' stats, and plans exactly what `--from A,B,C --to A,B,C,D` plans.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { memshiftConfig, REPO_ROOT, startMemcached, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';
import type { PlanReport } from '../../src/migration/plan.js';

afterAll(stopAll);

function plan(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'plan', ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function fill(server: ServerHandle, n: number): Promise<void> {
  const c = await TextClient.connect(server.port);
  for (let i = 0; i < n; i++) expect(await c.request(`set plan:${server.port}:${i} 0 0 5\r\nvalue`)).toBe('STORED\r\n');
  await c.close();
}

it('plan --to without a migration block plans from the pool servers, with their stats', async () => {
  const servers = await Promise.all([0, 1, 2, 3].map(() => startMemcached()));
  const old = servers.slice(0, 3);
  for (const s of old) await fill(s, 300);
  const file = join(makeTempDir('plan-to'), 'memshift.yml');
  writeFileSync(file, memshiftConfig({ pools: { main: { servers: old } } }));
  const list = (ss: ServerHandle[]): string => ss.map((s) => `${s.address}:1`).join(',');

  const r = plan(['-c', file, '--to', list(servers), '--json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout) as PlanReport;
  expect(report.from).toEqual(old.map((s) => `${s.address}:1`));
  expect(report.to).toEqual(servers.map((s) => `${s.address}:1`));
  // 3 -> 4 equal weights: about a quarter of the hash space moves, all of it to the new server.
  expect(report.movedShare).toBeGreaterThan(0.15);
  expect(report.movedShare).toBeLessThan(0.35);
  expect(new Set(report.moves.map((m) => m.to))).toEqual(new Set([servers[3]!.address]));

  // The same plan as naming the current servers with --from.
  const explicit = plan(['-c', file, '--from', list(old), '--to', list(servers), '--json']);
  expect(explicit.status).toBe(0);
  const sameShape = (p: PlanReport): unknown => ({ from: p.from, to: p.to, moves: p.moves.map((m) => [m.from, m.to, m.share]), movedShare: p.movedShare });
  expect(sameShape(JSON.parse(explicit.stdout) as PlanReport)).toEqual(sameShape(report));

  // Text form: the table, no "has no migration".
  const text = plan(['-c', file, '--to', list(servers)]);
  expect(text.status).toBe(0);
  expect(text.stdout).toMatch(/^pool main: 3 -> 4 servers/);

  // Neither --to nor a block: says what to pass.
  const none = plan(['-c', file]);
  expect(none.status).toBe(64);
  expect(none.stderr).toMatch(/pool "main" has no migration: pass --to SERVERS/);
});
