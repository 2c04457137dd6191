/**
 * Migration history (issue 14): a finished and an aborted migration keep their result after their
 * block is removed: GET /migration/history on every sidecar (the same list, newest first), across a
 * restart of a sidecar (the list is kept in the cache tier), `memshift migrate history`, the `done`
 * log line and memshift_migration_last_duration_seconds. Failovers, syncs and rebuilds are checked
 * in their own tests (failover-plain, replication-sync, replication-resync).
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { pollUntil, REPO_ROOT, startMemcached, startMemshift, stopAll, TextClient, type MemshiftHandle } from '../support/harness.js';
import { startSidecars, untilAll } from '../support/migration-scenario.js';

afterAll(stopAll);

interface Result {
  kind: string;
  pool: string;
  id: string;
  outcome: string;
  from: string[];
  to: string[];
  started_at: string;
  ended_at: string;
  switches: { phase: string; at: string }[];
  counts: Record<string, number>;
  t_copy_s: number;
  t_sync_s: number;
  t_verify_s: number;
  t_total_s: number;
  t_cleanup_s: number | null;
}

const history = async (admin: number): Promise<Result[]> => ((await (await fetch(`http://127.0.0.1:${admin}/migration/history`)).json()) as { history: Result[] }).history;

const cli = async (...args: string[]): Promise<string> => (await promisify(execFile)(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), ...args], { encoding: 'utf8' })).stdout;

/** A sidecar's config (as startSidecars writes it) with pool main as `pool`. */
const configOf = (port: number, admin: number, pool: Record<string, unknown>): string =>
  stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' }, pools: { main: pool } });

/** Writes `pool` into each sidecar's config file (keeping its listeners) and reloads it. */
async function reconfigure(sidecars: readonly MemshiftHandle[], admins: readonly number[], pool: Record<string, unknown>): Promise<void> {
  for (const [i, s] of sidecars.entries()) {
    writeFileSync(s.configFile, configOf(s.port, admins[i]!, pool));
    const r = await fetch(`http://127.0.0.1:${admins[i]}/reload`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
    expect(r.status, await r.text()).toBe(200);
  }
}

it('keeps a finished and an aborted migration after the block is removed, on every sidecar, across a restart', async () => {
  const servers = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 64 })));
  const spec = servers.map((s) => `${s.address}:1`);
  const grow = { servers: spec, migration: { id: 'grow', from: spec.slice(0, 2), settle: '500ms', rate: 50_000 } };
  const { sidecars, admins } = await startSidecars(() => grow);
  const c = await TextClient.connect(sidecars[0]!.port);
  for (let i = 0; i < 2000; i++) await c.write(`set h:${i} 0 0 1 noreply\r\nx\r\n`);
  expect(await c.request('mn')).toBe('MN\r\n');
  c.close();
  await cli('migrate', 'start', '--admin', `127.0.0.1:${admins[0]}`, '--token', 'test-token');
  await untilAll(admins, (s) => s.phase === 'done', 60_000);

  // Every sidecar has the same result: the servers, every phase switch in order, the counts and times.
  const [first, second] = await pollUntil('both histories', () => Promise.all(admins.map(history)), (hs) => hs.every((h) => h.length === 1), 60_000, 100);
  expect(second).toEqual(first);
  const r = first![0]!;
  expect(r).toMatchObject({ kind: 'planned', pool: 'main', id: 'grow', outcome: 'done', from: spec.slice(0, 2).map((s) => s.slice(0, -2)), to: spec.map((s) => s.slice(0, -2)) });
  expect(r.switches.map((s) => s.phase)).toEqual(['dual_write', 'copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done']);
  const at = r.switches.map((s) => Date.parse(s.at));
  expect(at).toEqual([...at].sort((x, y) => x - y));
  expect(r.started_at).toBe(r.switches[0]!.at);
  expect(r.ended_at).toBe(r.switches.at(-1)!.at);
  expect(r.counts.copied).toBeGreaterThan(0);
  expect(r.t_copy_s + r.t_sync_s + r.t_verify_s).toBeCloseTo(r.t_total_s, 2);
  expect(r.t_cleanup_s).toBeGreaterThanOrEqual(0);
  // The done log line carries the result.
  const done = sidecars.map((s) => s.logs().split('\n').find((l) => l.includes('"msg":"migration grow: done')));
  expect(done.filter((l) => l !== undefined && l.includes('"result":{') && l.includes('T_total'))).toHaveLength(2);

  // The block removed: the result stays.
  await reconfigure(sidecars, admins, { servers: spec });
  expect(await Promise.all(admins.map(history))).toEqual([first, first]);

  // A sidecar started again (without the block) has it from the cache tier; so does its metric once it read it.
  const port1 = sidecars[1]!.port;
  expect(await sidecars[1]!.stop()).toBe(0);
  sidecars[1] = await startMemshift(configOf(port1, admins[1]!, { servers: spec }));
  expect(await history(admins[1]!)).toEqual(first);
  const total = await pollUntil(
    'the metric',
    async () => /^memshift_migration_last_duration_seconds\{pool="main",phase="total"\} (\S+)$/m.exec(await (await fetch(`http://127.0.0.1:${admins[1]}/metrics`)).text())?.[1],
    (v) => v !== undefined,
    60_000,
    100,
  );
  expect(Number(total)).toBeCloseTo(r.t_total_s, 3);

  // An aborted migration (never started: no `start:`) is kept too, newest first.
  await reconfigure(sidecars, admins, { servers: spec.slice(0, 2), migration: { id: 'shrink', from: spec, settle: '500ms' } });
  const abort = await fetch(`http://127.0.0.1:${admins[0]}/migration/abort`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(abort.status, await abort.text()).toBe(200);
  const both = await pollUntil('the aborted one in both', () => Promise.all(admins.map(history)), (hs) => hs.every((h) => h.length === 2), 60_000, 100);
  expect(both[1]).toEqual(both[0]);
  expect(both[0]!.map((x) => [x.id, x.kind, x.outcome])).toEqual([
    ['shrink', 'planned', 'aborted'],
    ['grow', 'planned', 'done'],
  ]);
  expect(both[0]![0]!.switches.map((s) => s.phase)).toEqual(['aborted']);

  // memshift migrate history: a table, --id in full, --json as served.
  const admin = `127.0.0.1:${admins[1]}`;
  const table = (await cli('migrate', 'history', '--admin', admin)).split('\n');
  expect(table[0]).toMatch(/^ENDED\s+KIND\s+POOL\s+ID\s+OUTCOME\s+T_COPY\s+T_SYNC\s+T_VERIFY\s+T_TOTAL\s+CLEANUP\s+COPIED\s+ERRORS$/);
  expect(table[1]).toMatch(/ planned +main +shrink +aborted /);
  expect(table[2]).toMatch(new RegExp(` planned +main +grow +done +${r.t_copy_s.toFixed(2)} +${r.t_sync_s.toFixed(2)} +${r.t_verify_s.toFixed(2)} +${r.t_total_s.toFixed(2)} `));
  const detail = await cli('migrate', 'history', '--admin', admin, '--id', 'grow');
  expect(detail).toContain(`from      ${r.from.join(', ')}\n`);
  expect(detail).toMatch(/^switches {2}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}dual_write$/m);
  expect(detail).toMatch(/^ {10}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ {2}done$/m);
  expect(JSON.parse(await cli('migrate', 'history', '--admin', admin, '--json'))).toEqual({ history: both[0] });
}, 180_000);
