/**
 * memcached's ASCII authentication (`memcached -Y FILE`) from memshift: a pool's `auth` logs every
 * connection in first, the proxy's and the copy engine's alike, and reads the password from a file.
 * A wrong password makes the backend down, with the reason in the log.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, memshiftConfig, startMemcached, startMemshift, stopAll, TextClient, untilReply, type MemcachedHandle } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';
import { MetaClient } from '../../src/copy/index.js';

afterAll(stopAll);

const dir = makeTempDir('auth');
const authFile = join(dir, 'memcached-auth');
writeFileSync(authFile, 'app:s3cret-pass\n');
const password = (name: string, text: string): string => {
  const file = join(dir, name);
  writeFileSync(file, `${text}\n`);
  return file;
};

async function proxy(servers: MemcachedHandle[], passwordFile: string) {
  const yaml = memshiftConfig({ listenPort: await freePort(), pools: { main: { servers, auth: { username: 'app', password_file: passwordFile }, timeout: '1s' } }, backend: { probe_min: '100ms' } });
  return startMemshift(yaml);
}

describe('ASCII authentication to memcached servers', () => {
  it('logs in first on every connection: gets and sets through memshift, stats through the copy engine', async () => {
    const servers = await Promise.all([0, 1].map(() => startMemcached({ args: ['-Y', authFile] })));
    // Without credentials memcached refuses every command.
    const plain = await TextClient.connect(servers[0]!.port);
    expect(await plain.request('get x')).toBe('CLIENT_ERROR unauthenticated\r\n');
    plain.close();
    const file = password('good', 's3cret-pass');
    const p = await proxy(servers, file);
    await untilReply(p.port, 'set auth:probe 0 0 2\r\nok', 'STORED\r\n');
    const c = await TextClient.connect(p.port);
    const keys = Array.from({ length: 30 }, (_, i) => `auth:${i}`);
    for (const k of keys) expect(await c.request(`set ${k} 0 0 ${k.length}\r\n${k}`)).toBe('STORED\r\n');
    expect(await c.request(`get ${keys.join(' ')}`)).toBe(`${keys.map((k) => `VALUE ${k} 0 ${k.length}\r\n${k}\r\n`).join('')}END\r\n`);
    c.close();
    // Through the copy engine's client, logged in the same way: every key is on one of the two
    // servers (fnv1a_64 may well put all of these similar keys on one), and its value reads back.
    const metas = servers.map((s) => new MetaClient({ host: s.host, port: s.port, auth: { username: 'app', passwordFile: file } }));
    try {
      const items = await Promise.all(metas.map(async (m) => Number((await m.stats()).get('curr_items'))));
      expect(items[0]! + items[1]!).toBe(keys.length + 1);
      const found = await Promise.all(metas.map((m) => m.mg(Buffer.from('auth:0'), 'v')));
      expect(found.map((r) => r.status).sort()).toEqual(['EN', 'VA']);
      expect(found.find((r) => r.status === 'VA')?.value?.toString()).toBe('auth:0');
    } finally {
      for (const m of metas) m.close();
    }
  }, 60_000);

  it('with a wrong password, the backend is down with the reason', async () => {
    const server = await startMemcached({ args: ['-Y', authFile] });
    const p = await proxy([server], password('bad', 'not-the-password'));
    await untilReply(p.port, 'get x', 'SERVER_ERROR backend unavailable\r\n');
    const down = p.logs().split('\n').filter((l) => l.includes(`backend ${server.host}:${server.port} tko`));
    expect(down.join('\n')).toContain('authentication as app failed: CLIENT_ERROR unauthenticated');
  }, 60_000);
});
