/**
 * GET /migration/history as an admin API of a shared cache tier must behave (review findings 7 and
 * 10). One memshift over real memcached, two pools, each pool's history item written on its server
 * as a sidecar writes it (`__memshift__:history:<pool>`):
 * - off loopback (admin on 0.0.0.0), it needs the token as /backends and /config do: it shows the
 *   servers' addresses;
 * - a burst of calls reads each server's item once, not once a call (memcached's cmd_get counts),
 *   and a call more than a second later reads it again;
 * - the last 50 are kept per pool: a busy pool's 60 results do not push a quiet pool's one out of
 *   ?pool=quiet nor out of memshift_migration_last_duration_seconds.
 */
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, startMemcached, startMemshift, stats, stopAll, TextClient, type ServerHandle } from '../support/harness.js';

afterAll(stopAll);

const TOKEN = 'test-token';

/** A result as a sidecar stores it (migration/history.ts), ended `ended` seconds after the epoch's 2026. */
const result = (pool: string, id: string, ended: number): Record<string, unknown> => {
  const at = (s: number): string => new Date(Date.UTC(2026, 0, 1) + s * 1000).toISOString();
  return { kind: 'planned', pool, id, outcome: 'done', from: [], to: [], started_at: at(ended - 10), ended_at: at(ended), switches: [], counts: {}, t_copy_s: 4, t_sync_s: 1, t_verify_s: 2, t_total_s: 7, t_cleanup_s: 3 };
};

/** Writes `results` as the pool's history item on `server`, straight to memcached. */
async function storeHistory(server: ServerHandle, pool: string, results: unknown[]): Promise<void> {
  const c = await TextClient.connect(server.port);
  const value = JSON.stringify(results);
  expect(await c.request(`set __memshift__:history:${pool} 0 0 ${Buffer.byteLength(value)}\r\n${value}`)).toBe('STORED\r\n');
  c.close();
}

it('GET /migration/history: the token off loopback, one read per server for a burst of calls, the last 50 of each pool', async () => {
  const [busy, quiet] = [await startMemcached(), await startMemcached()];
  const [port, admin] = [await freePort(), await freePort()];
  await storeHistory(busy, 'busy', Array.from({ length: 60 }, (_, i) => result('busy', `b${i}`, 1_000 + i)));
  await storeHistory(quiet, 'quiet', [result('quiet', 'q0', 10)]);
  const p = await startMemshift(
    stringify({
      listen: [`127.0.0.1:${port}`],
      // On every address: not loopback, so what shows backend addresses needs the token.
      admin: { listen: `0.0.0.0:${admin}`, token: TOKEN },
      pools: { busy: { servers: [`${busy.address}:1`] }, quiet: { servers: [`${quiet.address}:1`] } },
      default_pool: 'busy',
      routes: [{ prefix: 'q:', pool: 'quiet' }],
    }),
  );
  const startedAt = Date.now();
  const url = `http://127.0.0.1:${admin}/migration/history`;
  const auth = { headers: { authorization: `Bearer ${TOKEN}` } };
  const history = async (query = ''): Promise<{ pool: string; id: string }[]> => {
    const r = await fetch(`${url}${query}`, auth);
    expect(r.status).toBe(200);
    return ((await r.json()) as { history: { pool: string; id: string }[] }).history;
  };

  // 1. The token, as for /backends.
  expect((await fetch(url)).status).toBe(401);
  expect((await fetch(url, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
  expect((await fetch(`http://127.0.0.1:${admin}/backends`)).status).toBe(401);

  // 2. The last 50 of each pool.
  const quietOnes = await history('?pool=quiet');
  expect(quietOnes.map((r) => r.id)).toEqual(['q0']);
  const busyOnes = await history('?pool=busy');
  expect(busyOnes).toHaveLength(50);
  expect(busyOnes[0]!.id).toBe('b59');
  const all = await history();
  expect(all).toHaveLength(50);
  const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  expect(metrics).toContain('memshift_migration_last_duration_seconds{pool="quiet",phase="total"} 7');
  expect(metrics).toContain('memshift_migration_last_duration_seconds{pool="busy",phase="total"} 7');

  // 3. A burst: 40 calls at once and right after, each server's item read once (twice at most,
  // should the burst straddle the end of a read), not 40 times.
  // A second past the last read, and past the one memshift makes 2 s after its start (for the metrics).
  await hold(Math.max(1_100, startedAt + 3_300 - Date.now()), 'past the last read and the one for the metrics: the next call reads');
  const gets = async (): Promise<number[]> => Promise.all([busy, quiet].map(async (s) => Number((await stats(s.port)).get('cmd_get'))));
  const before = await gets();
  await Promise.all(Array.from({ length: 20 }, (_, i) => history(i % 2 === 0 ? '' : '?pool=busy')));
  await Promise.all(Array.from({ length: 20 }, () => history()));
  const burst = (await gets()).map((n, i) => n - before[i]!);
  for (const n of burst) {
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(2);
  }
  // A second later, a call reads again.
  await hold(1_100, 'a second passes: the history read is no longer fresh');
  const again = await gets();
  await history();
  expect((await gets()).map((n, i) => n - again[i]!)).toEqual([1, 1]);

  expect(await p.stop()).toBe(0);
}, 60_000);
