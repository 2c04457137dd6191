/**
 * `memshift top` against a real sidecar over two real memcached (issue 14): `--once --json` counts
 * exactly what the test sent to each backend and the hits and misses it made, rates follow traffic
 * driven while top samples, a pipe gets one plain frame with no escape codes, and a stopped server
 * shows as not up with its reason.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { BackendRow, TopView } from '../../src/cli/top-view.js';
import { freePort, REPO_ROOT, startMemcached, spreadKeys, startMemshift, stats, stopAll, TextClient, waitUntil, type MemcachedHandle } from '../support/harness.js';

afterAll(stopAll);

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `memshift top ...args` as a child whose standard output is a pipe (killed after 30 s). */
function top(...args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'top', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, COLUMNS: '' } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

async function topJson(configFile: string, interval: string): Promise<TopView> {
  const r = await top('-c', configFile, '--once', '--json', '--interval', interval);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as TopView;
}

const rows = (v: TopView): BackendRow[] => v.pools.flatMap((p) => p.groups.flatMap((g) => g.backends));
const byAddress = (v: TopView): Map<string, BackendRow> => new Map(rows(v).map((r) => [r.address, r]));

/** What memcached itself counted of single-key gets and sets: requests, hits, misses. */
async function served(m: MemcachedHandle): Promise<{ requests: number; hits: number; misses: number }> {
  const s = await stats(m.port);
  return { requests: Number(s.get('cmd_get')) + Number(s.get('cmd_set')), hits: Number(s.get('get_hits')), misses: Number(s.get('get_misses')) };
}

it('counts what was sent to each backend, its hits and misses, and shows rates, a plain frame and a stopped server', async () => {
  const servers = await Promise.all([startMemcached(), startMemcached()]);
  const admin = await freePort();
  const sidecar = await startMemshift(
    stringify({
      listen: [`127.0.0.1:${await freePort()}`],
      admin: { listen: `127.0.0.1:${admin}` },
      pools: { main: { servers: servers.map((s) => `${s.address}:1`) } },
    }),
  );
  const client = await TextClient.connect(sidecar.port);
  // memshift reads the pool's migration history (a gets of __memshift__:history:main on every server)
  // 2 s after it starts: wait for it, so that the window below holds the test's traffic only.
  await waitUntil('memshift to read its history from both servers', async () => (await Promise.all(servers.map(async (s) => Number((await stats(s.port)).get('cmd_get')) >= 1))).every(Boolean), 15_000);

  // Totals: a sample before and one after known traffic differ by exactly that traffic.
  const before = await topJson(sidecar.configFile, '100ms');
  const servedBefore = await Promise.all(servers.map(served));
  const keys = spreadKeys('top:', 200);
  for (const k of keys) expect(await client.request(`set ${k} 0 0 1\r\nx`)).toBe('STORED\r\n');
  for (const k of keys) expect(await client.request(`get ${k}`)).toBe(`VALUE ${k} 0 1\r\nx\r\nEND\r\n`);
  for (const k of keys.slice(0, 100)) expect(await client.request(`get ${k}:absent`)).toBe('END\r\n');
  const after = await topJson(sidecar.configFile, '100ms');
  const servedAfter = await Promise.all(servers.map(served));

  const b0 = byAddress(before);
  const b1 = byAddress(after);
  let requests = 0;
  let hits = 0;
  let misses = 0;
  servers.forEach((s, i) => {
    const r0 = b0.get(s.address)!;
    const r1 = b1.get(s.address)!;
    const sent = r1.totals.requests - r0.totals.requests;
    // Each backend's count is what that memcached says it served of this traffic.
    expect(sent).toBe(servedAfter[i]!.requests - servedBefore[i]!.requests);
    expect(r1.totals.get_hits! - r0.totals.get_hits!).toBe(servedAfter[i]!.hits - servedBefore[i]!.hits);
    expect(r1.totals.get_misses! - r0.totals.get_misses!).toBe(servedAfter[i]!.misses - servedBefore[i]!.misses);
    requests += sent;
    hits += r1.totals.get_hits! - r0.totals.get_hits!;
    misses += r1.totals.get_misses! - r0.totals.get_misses!;
    expect(r1).toMatchObject({ state: 'up', reason: null, in_flight: 0, queued_bytes: 0 });
    expect(r1.totals.errors + r1.totals.refused).toBe(0);
  });
  expect(requests).toBe(500); // 200 sets, 200 gets that hit, 100 that miss
  expect([hits, misses]).toEqual([200, 100]);
  expect([after.proxy.get_hits - before.proxy.get_hits, after.proxy.get_misses - before.proxy.get_misses]).toEqual([200, 100]);
  // Both backends took part (these keys spread over any ring).
  for (const s of servers) expect(b1.get(s.address)!.totals.requests - b0.get(s.address)!.totals.requests).toBeGreaterThan(20);

  // Rates: traffic runs while top takes its two samples 3 s apart; each round is a set, a get that
  // hits and a get that misses, so the hit ratio of the interval is a half (a round cut by a sample aside).
  let running = true;
  let rounds = 0;
  const drive = (async () => {
    for (let i = 0; running; i++, rounds++) {
      await client.request(`set ${i}:live 0 0 1\r\ny`);
      await client.request(`get ${i}:live`);
      await client.request(`get ${i}:live:absent`);
    }
  })();
  const live = await topJson(sidecar.configFile, '3s').finally(() => (running = false));
  await drive;
  expect(live.interval_s).toBeGreaterThanOrEqual(3);
  const pool = live.pools[0]!;
  let delta = 0;
  for (const r of rows(live)) {
    expect(r.ops_per_s! * live.interval_s!).toBeCloseTo(r.delta!.requests, 6);
    delta += r.delta!.requests;
    expect(r.p50_ms).toBeGreaterThan(0);
    expect(r.p99_ms).toBeGreaterThanOrEqual(r.p50_ms!);
  }
  expect(delta).toBeGreaterThan(150);
  expect(delta).toBeLessThanOrEqual(rounds * 3 + 3);
  expect(pool.ops_per_s).toBeCloseTo(delta / live.interval_s!, 6);
  expect(pool.hit_ratio).toBeGreaterThan(0.45);
  expect(pool.hit_ratio).toBeLessThan(0.55);
  expect(live.proxy.hit_ratio).toBeGreaterThan(0.45);
  expect(live.proxy.hit_ratio).toBeLessThan(0.55);

  // A pipe: one frame of plain text, every backend on it.
  const frame = await top('-c', sidecar.configFile, '--interval', '200ms');
  expect(frame.code).toBe(0);
  expect(frame.stderr).toBe('');
  expect(frame.stdout).not.toContain('\x1b');
  expect(frame.stdout).not.toContain('\r');
  expect(frame.stdout.match(/^memshift top /gm)).toHaveLength(1);
  const lines = frame.stdout.trimEnd().split('\n');
  expect(lines[2]).toMatch(/^SERVER +STATE +OPS\/S +HIT% +P50ms +P99ms +ERR\/S +INFL +QUEUED$/);
  for (const s of servers) expect(lines.some((l) => new RegExp(`^  ${s.address.replaceAll('.', '\\.')} +up +\\d`).test(l))).toBe(true);

  // A stopped server: not up, with the reason, and no server stats.
  await servers[1]!.stop();
  await client.request(`get ${keys[0]!}`); // traffic notices the close at once
  const down = await (async () => {
    for (const deadline = Date.now() + 20_000; ; ) {
      const v = await topJson(sidecar.configFile, '100ms');
      const r = byAddress(v).get(servers[1]!.address)!;
      if (r.state !== 'up' || Date.now() > deadline) return r;
    }
  })();
  expect(down.state).not.toBe('up');
  expect(down.reason).toMatch(/ECONNREFUSED|closed|connect/);
  expect(down.totals.get_hits).toBeNull();
  await client.close();
}, 120_000);
