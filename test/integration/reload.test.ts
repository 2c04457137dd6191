/**
 * Hot reload (issue 7, acceptance 3; issue 6: a migration starts on a config change picked up by
 * SIGHUP). One memshift over real memcached, clients connected all along:
 * - SIGHUP with a changed flush_all and limits: applied, no client error, no dropped connection,
 *   and the backend connections are kept (memcached's total_connections does not move);
 * - a config file that is not valid: rejected, the old config keeps serving, counted;
 * - a server-list change without a migration: refused, with the message that says to write one;
 * - the file changed to add a migration block (no signal: the file watch sees it): the migration
 *   runs to done under a model-checked load, 0 stale reads, resurrected deletes or lost writes;
 * - a config served over HTTP with an ETag (--config-url): a change is picked up by the poll.
 */
import { createServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, hold, startMemcached, startMemshift, stats, stopAll, TextClient, waitUntil } from '../support/harness.js';
import { finalCheck, formatReport, runModelLoad } from '../support/model-load.js';
import { migrationStatus } from '../support/migration-scenario.js';

afterAll(stopAll);

async function metric(admin: number, name: string, labels = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
}

const until = (what: string, check: () => Promise<boolean>, ms = 20_000): Promise<void> => waitUntil(what, check, ms, 100);

it('reloads on SIGHUP and on a file change, refuses bad and key-moving configs, and starts a migration', async () => {
  const backends = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 64 })));
  const port = await freePort();
  const admin = await freePort();
  const base = (extra: Record<string, unknown>, pool: Record<string, unknown> = {}): string =>
    stringify({
      listen: [`127.0.0.1:${port}`],
      admin: { listen: `127.0.0.1:${admin}`, token: 'test-token' },
      pools: { main: { servers: [0, 1].map((i) => `${backends[i]!.address}:1`), timeout: 2000, ...pool } },
      ...extra,
    });
  const proxy = await startMemshift(base({}));
  const file = proxy.configFile;

  // Clients that stay connected through every reload, each checking what it reads back.
  let stop = false;
  let errors: string[] = [];
  const clients = await Promise.all([0, 1, 2, 3].map(() => TextClient.connect(port)));
  const loops = clients.map(async (c, i) => {
    for (let n = 0; !stop; n++) {
      const v = `${i}-${n}`;
      const set = await c.request(`set r:${i}:${n % 50} 0 0 ${v.length}\r\n${v}`);
      const get = await c.request(`get r:${i}:${n % 50}`);
      if (set !== 'STORED\r\n' || get !== `VALUE r:${i}:${n % 50} 0 ${v.length}\r\n${v}\r\nEND\r\n`) errors.push(`${set.trim()} / ${get.trim()}`);
    }
  });
  const backendConnections = async (): Promise<string[]> => Promise.all(backends.map(async (b) => (await stats(b.port)).get('total_connections')!));
  await hold(500, 'the load runs before the SIGHUP');
  const connectionsBefore = await backendConnections();

  // 1. SIGHUP: flush_all off, other limits and timeouts; applied in place, and nothing dropped.
  writeFileSync(file, base({ flush_all: false, limits: { max_connections: 5000 }, backend: { connect_timeout: 500 } }, { timeout: 1500 }));
  proxy.kill('SIGHUP');
  await until('the reload', async () => (await metric(admin, 'memshift_config_reloads_total', '{result="applied"}')) === 1);
  const c = await TextClient.connect(port);
  expect(await c.request('flush_all')).toBe('SERVER_ERROR flush_all disabled\r\n');
  // Reading the stats is one more connection to each memcached; memshift made none.
  expect(await backendConnections()).toEqual(connectionsBefore.map((n) => String(Number(n) + 1)));

  // 2. Not a valid config: rejected, counted, and the running one serves on.
  const good = readFileSync(file, 'utf8');
  writeFileSync(file, `${good}\npools: [oops\n`);
  proxy.kill('SIGHUP');
  await until('the failed reload', async () => (await metric(admin, 'memshift_config_reloads_total', '{result="failed"}')) >= 1);
  expect(await c.request('flush_all')).toBe('SERVER_ERROR flush_all disabled\r\n');
  expect(proxy.logs()).toContain('config reload failed');

  // 3. Another server list without a migration: refused with the reason.
  writeFileSync(file, base({ flush_all: false, limits: { max_connections: 5000 }, backend: { connect_timeout: 500 } }, { timeout: 1500, servers: [0, 1, 2].map((i) => `${backends[i]!.address}:1`) }));
  const refused = await fetch(`http://127.0.0.1:${admin}/reload`, { method: 'POST', headers: { authorization: 'Bearer test-token' } });
  expect(refused.status).toBe(409);
  const body = (await refused.json()) as { result: string; errors: string[] };
  expect(body.result).toBe('refused');
  expect(body.errors.join(' ')).toContain('would move keys without a migration. Write a migration');
  expect((await migrationStatus(admin)).phase).toBeNull();

  // 4. The same list with a migration block, picked up by the file watch alone (no signal).
  stop = true;
  await Promise.all(loops);
  expect(errors).toEqual([]);
  errors = [];
  let stopModel = false;
  const load = runModelLoad({ ports: [port], keys: 500, clients: 4, stop: () => stopModel, timeoutMs: 10_000 });
  await hold(500, 'the model load runs before the migration block is written');
  writeFileSync(
    file,
    base(
      { flush_all: false, limits: { max_connections: 5000 }, backend: { connect_timeout: 500 } },
      {
        timeout: 1500,
        servers: [0, 1, 2].map((i) => `${backends[i]!.address}:1`),
        // start: now: saving the block is the operator's go (without it, it waits for migrate start).
        migration: { id: 'grow-by-reload', from: [0, 1].map((i) => `${backends[i]!.address}:1`), settle: '1s', start: 'now' },
      },
    ),
  );
  await until('the migration to finish', async () => (await migrationStatus(admin)).phase === 'done', 90_000);
  stopModel = true;
  const report = await finalCheck([port], await load);
  console.log(`migration started by a reload: ${formatReport(report)}`);
  expect({ stale: report.staleReads, resurrected: report.resurrectedDeletes, lost: report.lostWrites }).toEqual({ stale: 0, resurrected: 0, lost: 0 });
  expect(await metric(admin, 'memshift_config_reloads_total', '{result="applied"}')).toBe(2);
  expect(await metric(admin, 'memshift_config_reloads_total', '{result="refused"}')).toBe(1);
  // The clients of step 1 were never dropped.
  for (const client of clients) expect(await client.request('version')).toMatch(/^VERSION /);
  for (const client of [...clients, c]) client.close();
}, 180_000);

it('polls a config URL with its ETag and applies a change', async () => {
  const backend = await startMemcached({ memoryMb: 16 });
  const port = await freePort();
  const doc = (flushAll: boolean): string =>
    stringify({ listen: [`127.0.0.1:${port}`], pools: { main: { servers: [`${backend.address}:1`] } }, flush_all: flushAll });
  let current = doc(true);
  let notModified = 0;
  const http = createServer((req, res) => {
    const etag = `"${Buffer.from(current).length}-${current.includes('flush_all: false') ? 'off' : 'on'}"`;
    if (req.headers['if-none-match'] === etag) {
      notModified++;
      res.writeHead(304).end();
      return;
    }
    res.writeHead(200, { etag, 'content-type': 'application/yaml' }).end(current);
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(http.address() as { port: number }).port}/memshift.yml`;
  try {
    const proxy = await startMemshift(current, { configArgs: ['--config-url', url, '--config-poll', '200ms'] });
    const c = await TextClient.connect(proxy.port);
    expect(await c.request('flush_all')).toBe('OK\r\n');
    await until('a 304 poll', async () => notModified > 0);
    current = doc(false);
    await until('the new document to apply', async () => (await c.request('flush_all')) === 'SERVER_ERROR flush_all disabled\r\n');
    expect(proxy.logs()).toContain('config reloaded');
    c.close();
  } finally {
    http.close();
  }
}, 60_000);
