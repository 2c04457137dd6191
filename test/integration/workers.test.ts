/**
 * `workers: 2` (issue 15): memshift forks two worker processes (node:cluster) and still behaves as
 * one process. Real memcached, real sockets, the built CLI:
 *  - client connections land on both workers (each answers `stats` with its own pid), and GET
 *    /metrics adds up what both counted: the totals are the requests sent;
 *  - a SIGHUP reload reaches both (flush_all: false is answered by each), counted once;
 *  - a worker killed is forked again (same index, a new pid), and clients that reconnect are served;
 *  - a listener that cannot bind ends the start with exit 69 within 5 s;
 *  - writes a backend missed through worker 1 land in worker 0's failed-write log and are replayed;
 *  - SIGTERM drains both workers, and memshift exits 0.
 * The migration under the model-checked load with workers: 2 is in workers-migration.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { freePort, spawnMemshift, startMemcached, startMemshift, stopAll, TextClient, waitUntil, type MemshiftHandle, type ServerHandle } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';
import { diffGroups, groupItems, startReplicatedPool } from '../support/replication-scenario.js';
import { metricValue, scrape, workerPids } from '../support/workers.js';

afterAll(stopAll);

const TOKEN = 'test-token';

/** memshift with workers: 2 and an admin API over `n` fresh memcached; `extra` adds top-level fields. */
async function startWorkers(n = 2, extra: Record<string, unknown> = {}): Promise<{ proxy: MemshiftHandle; admin: number; backends: ServerHandle[] }> {
  const backends = await Promise.all(Array.from({ length: n }, () => startMemcached()));
  const admin = await freePort();
  const yaml = stringify({
    listen: [`127.0.0.1:${await freePort()}`],
    workers: 2,
    admin: { listen: `127.0.0.1:${admin}`, token: TOKEN },
    pools: { main: { servers: backends.map((b) => `${b.address}:1`) } },
    ...extra,
  });
  // Three node processes start: on a busy machine that takes longer than one.
  return { proxy: await startMemshift(yaml, { startTimeoutMs: 30_000 }), admin, backends };
}

/** Opens connections until one lands on the worker with `pid` (round-robin: within a few). */
async function clientOn(port: number, pid: number): Promise<TextClient> {
  for (let i = 0; i < 20; i++) {
    const c = await TextClient.connect(port);
    const reply = await c.request('stats');
    if (reply.includes(`STAT pid ${pid}\r\n`)) return c;
    await c.close();
  }
  throw new Error(`no connection landed on worker pid ${pid}`);
}

describe('workers: 2', () => {
  it('spreads connections over both workers, and /metrics adds up what both counted', async () => {
    const { proxy, admin } = await startWorkers();
    const pids = workerPids(proxy);
    expect(pids).toHaveLength(2);
    const before = await scrape(admin);
    const seen = new Set<string>();
    for (let i = 0; i < 8; i++) {
      const c = await TextClient.connect(proxy.port);
      expect(await c.request(`set w:${i} 0 0 1\r\nx`)).toBe('STORED\r\n');
      expect(await c.request(`get w:${i}`)).toBe(`VALUE w:${i} 0 1\r\nx\r\nEND\r\n`);
      seen.add(/STAT pid (\d+)\r\n/.exec(await c.request('stats'))![1]!);
      await c.close();
    }
    expect([...seen].map(Number).sort()).toEqual([...pids].sort());
    const after = await scrape(admin);
    const delta = (name: string, labels = ''): number => metricValue(after, name, labels) - metricValue(before, name, labels);
    expect(delta('memshift_client_connections_total')).toBe(8);
    expect(delta('memshift_requests_total', '{command="get",result="hit"}')).toBe(8);
    expect(delta('memshift_requests_total', '{command="set",result="all"}')).toBe(8);
    expect(metricValue(after, 'memshift_workers_serving')).toBe(2);
    // A backend is up in both workers: 1, not 2; its connections are both workers'.
    expect(metricValue(after, 'memshift_backend_up')).toBe(1);
    const body = (await (await fetch(`http://127.0.0.1:${admin}/backends`)).json()) as { pools: { groups: { backends: { connections: number }[] }[] }[] };
    expect(body.pools[0]!.groups[0]!.backends[0]!.connections).toBe(2);
  });

  it('applies a SIGHUP reload in both workers, counted once', async () => {
    const { proxy, admin } = await startWorkers();
    const pids = workerPids(proxy);
    const config = parse(readFileSync(proxy.configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(proxy.configFile, stringify({ ...config, flush_all: false }));
    proxy.kill('SIGHUP');
    await waitUntil('the reload', async () => metricValue(await scrape(admin), 'memshift_config_reloads_total', '{result="applied"}') === 1, 10_000);
    for (const pid of pids) {
      const c = await clientOn(proxy.port, pid);
      expect(await c.request('flush_all')).toBe('SERVER_ERROR flush_all disabled\r\n');
      await c.close();
    }
    const reloaded = proxy.logs().split('\n').filter((l) => l.includes('"msg":"config reloaded"'));
    expect(reloaded.filter((l) => l.includes('"worker":'))).toHaveLength(2);
    expect(metricValue(await scrape(admin), 'memshift_config_reloads_total', '{result="applied"}')).toBe(1);
  });

  it('forks a killed worker again, and clients that reconnect are served by both', async () => {
    const { proxy, admin } = await startWorkers();
    const [, second] = workerPids(proxy);
    const victim = await clientOn(proxy.port, second!);
    process.kill(second!, 'SIGKILL');
    expect(await victim.waitClosed(5_000)).toBe(true);
    await waitUntil('worker 1 forked again', async () => {
      const now = workerPids(proxy);
      return now.length === 2 && !now.includes(second!) && (await fetch(`http://127.0.0.1:${admin}/readyz`)).status === 200;
    }, 15_000);
    const metrics = await scrape(admin);
    expect(metricValue(metrics, 'memshift_worker_restarts_total')).toBe(1);
    expect(metricValue(metrics, 'memshift_workers_serving')).toBe(2);
    for (const pid of workerPids(proxy)) {
      const c = await clientOn(proxy.port, pid);
      expect(await c.request('set back 0 0 2\r\nok')).toBe('STORED\r\n');
      await c.close();
    }
    expect(proxy.logs()).toContain('worker 1 ended; forking it again');
  });

  it('ends the start with exit 69 within 5 s when a client listener cannot bind', async () => {
    const backend = await startMemcached();
    // memcached's own port: taken.
    const taken = backend.port;
    const config = stringify({ listen: [`127.0.0.1:${taken}`], workers: 2, admin: { listen: `127.0.0.1:${await freePort()}` }, pools: { main: { servers: [`${backend.address}:1`] } } });
    const started = performance.now();
    const proc = spawnMemshift(config, 'memshift workers (bind failure)');
    const exit = await proc.waitExit(5_000);
    expect(exit?.code, proc.logTail()).toBe(69);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(proc.logs()).toMatch(new RegExp(`cannot listen on 127\\.0\\.0\\.1:${taken}: \\w+ EADDRINUSE`));
  });

  it('logs the writes a backend missed through worker 1 in worker 0, and replays them', async () => {
    const dir = makeTempDir('workers-wlog');
    const admin = await freePort();
    const pool = await startReplicatedPool({ write: 'one', timeout: 200, write_log: { dir } }, { workers: 2, admin: { listen: `127.0.0.1:${admin}`, token: TOKEN } });
    const [, second] = workerPids(pool.proxy as MemshiftHandle);
    const c = await clientOn(pool.port, second!);
    const victim = pool.zoneB[1]!;
    victim.pause();
    for (let i = 0; i < 200; i++) expect(await c.request(`set ${i}:r 0 0 ${String(i).length}\r\n${i}`, 5_000)).toBe('STORED\r\n');
    // Only worker 1 wrote: what its groups missed is in worker 0's log (GET /replication is worker 0's).
    type Status = { pools: { groups: { backends: { address: string; missedWrites: number; logEntries: number; recovering: boolean }[] }[] }[] };
    const mine = async (): Promise<Status['pools'][number]['groups'][number]['backends'][number]> =>
      ((await (await fetch(`http://127.0.0.1:${admin}/replication`)).json()) as Status).pools[0]!.groups[1]!.backends.find((b) => b.address === victim.address)!;
    await waitUntil('the missed writes in worker 0', async () => (await mine()).logEntries > 0, 5_000);
    const logged = await mine();
    expect(logged.missedWrites).toBeGreaterThan(0);
    victim.resume();
    await waitUntil('the replay', async () => {
      const b = await mine();
      return b.logEntries === 0 && !b.recovering;
    }, 20_000);
    // The second pass of the replay (2 s later) done, the groups are equal (a metadump that met
    // another crawler answers BUSY, and reads as fewer keys: read again).
    await waitUntil('both groups equal', async () => {
      const [a, b] = [await groupItems(pool.zoneA), await groupItems(pool.zoneB)];
      return a.size >= 200 && diffGroups(a, b).length === 0;
    }, 15_000, 500);
    await c.close();
  });

  it('drains both workers on SIGTERM and exits 0', async () => {
    const { proxy } = await startWorkers();
    const clients = await Promise.all(workerPids(proxy).map((pid) => clientOn(proxy.port, pid)));
    expect(await proxy.stop(20_000)).toBe(0);
    for (const c of clients) expect(await c.waitClosed(1_000)).toBe(true);
    const logs = proxy.logs().split('\n');
    expect(logs.filter((l) => l.includes('"msg":"shutdown complete"') && l.includes('"worker":'))).toHaveLength(2);
    expect(logs.some((l) => l.includes('"msg":"memshift stopped; exiting"'))).toBe(true);
  });
});
