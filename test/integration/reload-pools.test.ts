/**
 * Pools and routes reload hot, and the dry run (issue 14). One memshift over real memcached, its
 * config served over HTTP (--config-url, polled hourly: only POST /reload reads it), clients setting
 * and reading back keys of the default pool all along (none of them may fail: requests in flight
 * finish across every generation swap):
 * - a dry run (memshift reload --dry-run, POST /reload?dry_run=true) of a config with a pool added
 *   says it would apply and changes nothing (no connection to the new server, nothing counted);
 * - the pool added applies: its server gets memshift's connection, no key moves;
 * - a route to it is refused without force (memshift reload, and memshift check --against with the
 *   file's text), and applies with --force: the prefix's keys start empty on the new pool;
 * - reordering pools and routes is no change;
 * - a pool nothing routes to is removed: its connection closes and its backend leaves /metrics;
 * - removing a pool a route uses needs force;
 * - pools with replica groups and with failover_after added and removed hot;
 * - a dry run of the file source does not keep the file watch from applying the change.
 */
import { execFile } from 'node:child_process';
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { REPO_ROOT, freePort, hold, keysOnServer, spreadKeys, startMemcached, startMemshift, stats, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';

afterAll(stopAll);

const until = (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> => waitUntil(what, check, ms, 100);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** `memshift ARGS` from dist/ (async: the clients of this process keep running meanwhile). */
function memshift(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, MEMSHIFT_ADMIN_TOKEN: '' } }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

type ReloadBody = { result: string; dry_run: boolean; changes: string[]; errors: string[]; needs_force: string[]; needs_restart: string[] };
const TOKEN = 'reload-token';

/** A config document served over HTTP (memshift --config-url), and POST /reload of a sidecar's admin API. */
async function servedConfig(first: string) {
  let text = first;
  const http = createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/yaml' }).end(text));
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/memshift.yml`;
  return {
    args: ['--config-url', url, '--config-poll', '1h'],
    set: (next: string): void => void (text = next),
    close: (): void => void http.close(),
  };
}

async function postReload(adminUrl: string, query: string, body?: unknown): Promise<{ status: number; body: ReloadBody }> {
  const res = await fetch(`${adminUrl}/reload${query}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as ReloadBody };
}

/** memcached counts the connection that reads its stats: this is the number of the others. */
const connections = async (s: { port: number }): Promise<number> => Number((await stats(s.port)).get('curr_connections')) - 1;

it('adds, routes to, reorders and removes pools on reload, with dry runs that change nothing', async () => {
  const [m0, m1, m2, m3] = await Promise.all([0, 1, 2, 3].map(() => startMemcached({ memoryMb: 16 })));
  const port = await freePort();
  const admin = await freePort();
  const adminUrl = `http://127.0.0.1:${admin}`;
  const pool = (...servers: { address: string }[]) => ({ servers: servers.map((s) => `${s.address}:1`), timeout: 2000 });
  const doc = (pools: Record<string, unknown>, routes: { prefix: string; pool: string }[] = []): string =>
    stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools, default_pool: 'main', routes });
  const main = pool(m0!, m1!);
  const spare = pool(m3!);
  const extra = pool(m2!);

  const served = await servedConfig(doc({ main, spare }));
  const dir = makeTempDir('reload-pools');
  try {
    const proxy = await startMemshift(doc({ main, spare }), { configArgs: served.args });
    const post = (query: string, body?: unknown) => postReload(adminUrl, query, body);
    const metrics = async (): Promise<string> => (await fetch(`${adminUrl}/metrics`)).text();
    const reloads = async (): Promise<string[]> => (await metrics()).split('\n').filter((l) => l.startsWith('memshift_config_reloads_total'));
    const poolNames = async (): Promise<string[]> => Object.keys(((await (await fetch(`${adminUrl}/config`)).json()) as { pools: Record<string, unknown> }).pools);

    // Clients on keys of the default pool, each reading back what it wrote, through every reload.
    let stop = false;
    const errors: string[] = [];
    let ops = 0;
    const clients = await Promise.all([0, 1, 2, 3].map(() => TextClient.connect(port)));
    const loops = clients.map(async (c, i) => {
      for (let n = 0; !stop; n++) {
        const k = `r:${i}:${n % 50}`;
        const v = `${i}-${n}`;
        const set = await c.request(`set ${k} 0 0 ${v.length}\r\n${v}`);
        const get = await c.request(`get ${k} r:${i}:none`);
        if (set !== 'STORED\r\n' || get !== `VALUE ${k} 0 ${v.length}\r\n${v}\r\nEND\r\n`) errors.push(`${set.trim()} / ${get.trim()}`);
        ops++;
      }
    });
    await until('the load to run', async () => ops > 200);
    const idle = await connections(m2!);
    const reloadsBefore = await reloads();

    // 1. Dry runs of a config with a pool added: they would apply it, and change nothing.
    served.set(doc({ main, spare, extra }));
    const dryCli = await memshift('reload', '--dry-run', '--admin', adminUrl, '--token', TOKEN);
    expect(dryCli).toMatchObject({ code: 0, stderr: '' });
    expect(dryCli.stdout).toContain(`reload at ${adminUrl} (dry run): would apply`);
    expect(dryCli.stdout).toContain(`would apply  pool extra added: ${m2!.address}:1`);
    const dry = await post('?dry_run=true');
    expect(dry).toEqual({ status: 200, body: { result: 'would_apply', dry_run: true, changes: [`pool extra added: ${m2!.address}:1`], errors: [], needs_force: [], needs_restart: [] } });
    await hold(300, 'time for a change that a dry run must not make');
    expect(await poolNames()).toEqual(['main', 'spare']);
    expect(await connections(m2!)).toBe(idle);
    expect(await reloads()).toEqual(reloadsBefore);

    // 2. The pool added applies hot: memshift connects to it; no key moves.
    const added = await memshift('reload', '--admin', adminUrl, '--token', TOKEN);
    expect(added).toMatchObject({ code: 0, stderr: '' });
    expect(added.stdout).toContain(`reload at ${adminUrl}: applied\n  applied  pool extra added: ${m2!.address}:1`);
    expect(await poolNames()).toEqual(['main', 'spare', 'extra']);
    await until('memshift to connect to the added pool', async () => (await connections(m2!)) > idle);
    const c = await TextClient.connect(port);
    expect(await c.request('set t:before 0 0 1\r\nb')).toBe('STORED\r\n');
    expect([...(await keysOnServer(m0!.port, ['t:before'])), ...(await keysOnServer(m1!.port, ['t:before']))]).toEqual(['t:before']);

    // 3. A route to the new pool moves keys: refused without force, by reload and by check --against.
    const routed = doc({ main, spare, extra }, [{ prefix: 't:', pool: 'extra' }]);
    const file = join(dir, 'routed.yml');
    writeFileSync(file, routed);
    const checked = await memshift('check', '-c', file, '--against', adminUrl);
    const move = 'keys under "t:" move from pool main to pool extra';
    expect(checked.code).toBe(1);
    expect(checked.stdout).toContain(`${file} against ${adminUrl} (dry run): refused; nothing changed\n  needs force  ${move}: this would move keys without a migration.`);
    const checkedJson = await memshift('check', '-c', file, '--against', adminUrl, '--json');
    expect(JSON.parse(checkedJson.stdout)).toMatchObject({ result: 'refused', dry_run: true, needs_force: [expect.stringContaining(move)] });
    // The same with force: it would apply, cold.
    expect(await post('?dry_run=true&force=true', { config: routed, source: file })).toMatchObject({ status: 200, body: { result: 'would_apply', changes: [`${move} (forced: keys are remapped without a migration)`] } });
    served.set(routed);
    const refused = await memshift('reload', '--admin', adminUrl, '--token', TOKEN);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(`needs force  ${move}`);
    expect(refused.stdout).toContain('memshift reload --force');
    expect(await c.request('get t:before')).toBe('VALUE t:before 0 1\r\nb\r\nEND\r\n');

    // 4. With force it applies: the prefix's keys start empty on the new pool and are written there.
    const forced = await memshift('reload', '--force', '--admin', adminUrl, '--token', TOKEN);
    expect(forced.code).toBe(0);
    expect(forced.stdout).toContain(`applied  ${move} (forced: keys are remapped without a migration)`);
    expect(await c.request('get t:before')).toBe('END\r\n');
    expect(await c.request('set t:after 0 0 1\r\na')).toBe('STORED\r\n');
    expect(await keysOnServer(m2!.port, ['t:after', 't:before'])).toEqual(new Set(['t:after']));
    expect(await c.request('get r:0:1')).toMatch(/^VALUE r:0:1 /);

    // 5. The same pools and routes in another order: no change.
    served.set(doc({ spare, extra, main }, [{ prefix: 't:', pool: 'extra' }]));
    expect((await post('')).body.result).toBe('unchanged');

    // 6. A pool nothing routes to is removed: its connection closes, its backend leaves /metrics.
    expect(await metrics()).toContain(`memshift_backend_up{backend="${m3!.address}"} 1`);
    served.set(doc({ main, extra }, [{ prefix: 't:', pool: 'extra' }]));
    expect(await post('')).toMatchObject({ status: 200, body: { result: 'applied', changes: ['pool spare removed: its connections close'] } });
    expect(await metrics()).not.toContain(m3!.address);
    await until("the removed pool to close its connection", async () => (await connections(m3!)) === idle);

    // 7. Removing a pool a route uses moves keys: refused without force, nothing changes.
    served.set(doc({ main }));
    const gone = await post('');
    expect(gone.status).toBe(409);
    expect(gone.body.needs_force).toEqual([expect.stringContaining('keys under "t:" move from pool extra to pool main') as string]);
    expect(await poolNames()).toEqual(['main', 'extra']);
    expect(await c.request('get t:after')).toBe('VALUE t:after 0 1\r\na\r\nEND\r\n');

    stop = true;
    await Promise.all(loops);
    expect(errors).toEqual([]);
    for (const client of clients) expect(await client.request('version')).toMatch(/^VERSION /);
    console.log(`reload-pools: ${ops} set+get pairs through 3 applied reloads and 6 refused, unchanged or dry ones, 0 errors`);
    for (const client of [...clients, c]) client.close();
    expect(proxy.logs()).toContain('config reload dry run');
  } finally {
    served.close();
  }
}, 120_000);

it('a pool with replica groups and one with failover_after, added by a reload, work as if configured at start and stop when removed', async () => {
  const [m0, m1, m2, m3, m4] = await Promise.all([0, 1, 2, 3, 4].map(() => startMemcached({ memoryMb: 16 })));
  const port = await freePort();
  const admin = await freePort();
  const adminUrl = `http://127.0.0.1:${admin}`;
  const spec = (s: { address: string }) => `${s.address}:1`;
  const doc = (pools: Record<string, unknown>, routes: { prefix: string; pool: string }[] = []): string =>
    stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools, default_pool: 'main', routes });
  const main = { servers: [spec(m0!)] };
  const rep = { replicas: [{ name: 'a', servers: [spec(m1!)] }, { name: 'b', servers: [spec(m2!)] }], write: 'all' };
  const fo = { servers: [spec(m3!), spec(m4!)], timeout: 500, failover_after: '1s', failover_settle: '500ms' };
  const served = await servedConfig(doc({ main }));
  try {
    await startMemshift(doc({ main }), { configArgs: served.args });
    const c = await TextClient.connect(port);
    const replicated = async (): Promise<string[]> => ((await (await fetch(`${adminUrl}/replication`)).json()) as { pools: { name: string }[] }).pools.map((p) => p.name);
    expect(await replicated()).toEqual([]);

    // Both pools, and routes to them, in one forced reload.
    served.set(doc({ main, rep, fo }, [{ prefix: 'x:', pool: 'rep' }, { prefix: 'f:', pool: 'fo' }]));
    const added = await postReload(adminUrl, '?force=true');
    expect(added).toMatchObject({ status: 200, body: { result: 'applied' } });
    expect(added.body.changes).toEqual([
      `pool rep added: a [${spec(m1!)}]; b [${spec(m2!)}]`,
      `pool fo added: ${spec(m3!)}, ${spec(m4!)}`,
      'keys under "f:" move from pool main to pool fo (forced: keys are remapped without a migration)',
      'keys under "x:" move from pool main to pool rep (forced: keys are remapped without a migration)',
    ]);
    // The replicated pool writes to both groups and shows in /replication.
    expect(await c.request('set x:1 0 0 1\r\n1')).toBe('STORED\r\n');
    for (const s of [m1!, m2!]) expect(await keysOnServer(s.port, ['x:1'])).toEqual(new Set(['x:1']));
    expect(await replicated()).toEqual(['rep']);

    // The failover watch of the added pool: m4 down past failover_after moves its keys to m3.
    const keys = spreadKeys('f:', 200);
    for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nv`)).toBe('STORED\r\n');
    const onDead = [...(await keysOnServer(m4!.port, keys))];
    expect(onDead.length).toBeGreaterThan(20);
    m4!.kill('SIGKILL');
    await m4!.waitExit();
    await until('the failover of the added pool', async () => {
      const body = (await (await fetch(`${adminUrl}/migration`)).json()) as { phase: string | null; pools?: { pool: string; phase: string }[] };
      return body.phase !== null && (body.pools ?? [body as { pool: string; phase: string }]).some((p) => p.pool === 'fo' && p.phase === 'done');
    }, 30_000);
    expect(await c.request(`get ${onDead[0]!}`)).toBe('END\r\n');
    expect(await c.request(`set ${onDead[0]!} 0 0 3\r\nnew`)).toBe('STORED\r\n');
    expect(await keysOnServer(m3!.port, [onDead[0]!])).toEqual(new Set([onDead[0]!]));

    // Both removed again (their routes too, so with force): replication and the failover stop.
    const idle = await connections(m0!);
    served.set(doc({ main }));
    const removed = await postReload(adminUrl, '?force=true');
    expect(removed).toMatchObject({ status: 200, body: { result: 'applied' } });
    expect(removed.body.changes.slice(0, 2)).toEqual(['pool rep removed: its connections close', 'pool fo removed: its connections close']);
    expect(await replicated()).toEqual([]);
    expect(((await (await fetch(`${adminUrl}/migration`)).json()) as { phase: unknown }).phase).toBeNull();
    const metrics = await (await fetch(`${adminUrl}/metrics`)).text();
    expect(metrics).not.toContain('pool="rep"');
    await until('the removed pools to close their connections', async () => (await connections(m1!)) + (await connections(m2!)) + (await connections(m3!)) === 0);
    expect(await connections(m0!)).toBe(idle);
    expect(await c.request('get x:1')).toBe('END\r\n');
    c.close();
  } finally {
    served.close();
  }
}, 120_000);

it('a dry run of the file source leaves the change to the file watch, which applies it', async () => {
  const m0 = await startMemcached({ memoryMb: 16 });
  const port = await freePort();
  const admin = await freePort();
  const doc = (flushAll: boolean): string =>
    stringify({ listen: [`127.0.0.1:${port}`], admin: { listen: `127.0.0.1:${admin}`, token: TOKEN }, pools: { main: { servers: [`${m0.address}:1`] } }, flush_all: flushAll });
  const proxy = await startMemshift(doc(true));
  const c = await TextClient.connect(port);
  expect(await c.request('flush_all')).toBe('OK\r\n');
  writeFileSync(proxy.configFile, doc(false));
  // The dry run reads the changed file before the watch's next poll (every 2 s) ...
  expect(await postReload(`http://127.0.0.1:${admin}`, '?dry_run=true')).toMatchObject({ status: 200, body: { result: 'would_apply', changes: ['flush_all: false'] } });
  expect(await c.request('flush_all')).toBe('OK\r\n');
  // ... and the watch still sees the change and applies it.
  await until('the file watch to apply the change', async () => (await c.request('flush_all')) === 'SERVER_ERROR flush_all disabled\r\n', 10_000);
  c.close();
}, 60_000);
