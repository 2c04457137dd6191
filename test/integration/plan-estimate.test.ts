/**
 * `memshift plan`'s estimate over real memcached and a real sidecar (issue 14: "estimates you can
 * trust"): the sidecar of a planned migration runs the probe (POST /migration/probe) under its own
 * load and plan estimates every phase from it; the probe's keys are gone afterwards; once the
 * migration runs, the sidecar refuses to probe (its copy is the measurement then). Without an admin
 * API, plan probes from its own process.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { freePort, memshiftConfig, REPO_ROOT, startMemcached, startMemshift, stats, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import type { MigrationEstimate } from '../../src/migration/estimate.js';
import type { ProbeResult } from '../../src/copy/probe.js';

afterAll(stopAll);

function cli(args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill(), 60_000);
    child.on('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

async function fill(proxy: ServerHandle, n: number): Promise<void> {
  const c = await TextClient.connect(proxy.port, proxy.host);
  const value = 'v'.repeat(50);
  for (let i = 0; i < n; i += 500) {
    const batch = Array.from({ length: Math.min(500, n - i) }, (_, j) => `set est:${i + j} 0 0 50 noreply\r\n${value}\r\n`).join('');
    await c.write(`${batch}mn\r\n`);
    expect((await c.read((b) => (b.toString('latin1').endsWith('MN\r\n') ? true : 0), 10_000)).toString('latin1')).toBe('MN\r\n');
  }
  await c.close();
}

const items = async (s: ServerHandle): Promise<number> => Number((await stats(s.port, s.host)).get('curr_items'));

it('estimates each phase from a probe the sidecar runs, leaves no probe key, and refuses to probe a running migration', async () => {
  const [a, b, c] = await Promise.all([0, 1, 2].map(() => startMemcached()));
  const adminPort = await freePort();
  const migration = { id: 'est-1', from: [a!, b!].map((s) => `${s.address}:1`), rate: 20_000, settle: '500ms' };
  const proxy = await startMemshift(memshiftConfig({ pools: { main: { servers: [a!, b!, c!], migration } }, admin: { listen: `127.0.0.1:${adminPort}`, token: 't' } }));
  await fill(proxy, 6_000);
  const before = await Promise.all([a!, b!, c!].map(items));

  const r = await cli(['plan', '-c', proxy.configFile, '--json']);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout) as { items: number; estimate: MigrationEstimate; probe: ProbeResult; notes: string[] };
  expect(report.notes.some((n) => n.startsWith('probed by the sidecar at http://127.0.0.1:'))).toBe(true);
  expect(report.probe.copy.perSec).toBeGreaterThan(0);
  expect(report.probe.verify.perSec).toBeGreaterThan(0);
  expect(report.probe.reconcile.perSec).toBeGreaterThan(0);
  expect(report.probe.dumps.every((d) => d.error === undefined)).toBe(true);
  // No client writes meanwhile: no new items on either old owner (the probe's own keys are not counted).
  expect(report.probe.newItems.map((n) => [n.server, n.perSec]).sort()).toEqual([a!, b!].map((s) => [s.address, 0]).sort());
  const e = report.estimate;
  expect(e.rates.copy.from).toBe('measured');
  expect(e.movedKeys).toBe(report.items);
  for (const t of [e.t_copy_s, e.t_sync_s, e.t_verify_s, e.t_cleanup_s]) expect(t).toBeGreaterThan(0);
  expect(e.t_total_s).toBeCloseTo(e.t_copy_s! + e.t_sync_s! + e.t_verify_s!, 2);
  // T_sync is the settle (0.5 s) plus half the leader's 125 ms poll.
  expect(e.t_sync_s).toBeCloseTo(0.5625, 3);
  // The probe's keys were deleted from both servers it wrote.
  expect(await Promise.all([a!, b!, c!].map(items))).toEqual(before);

  // The text names what each estimate rests on.
  const text = await cli(['plan', '-c', proxy.configFile]);
  expect(text.status).toBe(0);
  expect(text.stdout).toMatch(/est\. T_copy [0-9.]+ s \+ T_sync 0\.56 s \+ T_verify [0-9.]+ s = T_total [0-9.]+ s; T_cleanup [0-9.]+ s/);
  expect(text.stdout).toMatch(/measured on the servers \(probe [0-9.]+ s, the copy engine at the rate limits\): metadump/);
  expect(text.stdout).toMatch(/new items: none added during the probe/);

  // Without the admin API (--admin to a closed port): probed from plan's own process, with a note.
  const closed = await freePort();
  const local = await cli(['plan', '-c', proxy.configFile, '--admin', `127.0.0.1:${closed}`, '--json']);
  expect(local.status).toBe(0);
  const localReport = JSON.parse(local.stdout) as { estimate: MigrationEstimate; notes: string[] };
  expect(localReport.notes.some((n) => n.startsWith('the sidecar could not probe'))).toBe(true);
  expect(localReport.estimate.rates.copy.from).toBe('measured');

  // Once started, the sidecar refuses to probe.
  expect((await cli(['migrate', 'start', '-c', proxy.configFile])).status).toBe(0);
  const refused = await fetch(`http://127.0.0.1:${adminPort}/migration/probe`, { method: 'POST', headers: { authorization: 'Bearer t', 'content-type': 'application/json' }, body: '{}' });
  expect(refused.status).toBe(409);
  expect(((await refused.json()) as { error: string }).error).toMatch(/a probe is for a planned migration/);
}, 120_000);
