import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { Router } from '../../../src/routing/index.js';
import { DEMO, run, tempConfigs } from './helpers.js';

const files = tempConfigs();
afterAll(() => files.cleanup());
const demo = files.write('demo.yml', DEMO);
const router = new Router(parseConfig(DEMO));

/** What the Router says, as the route command should print it. */
function expected(key: string): { pool: string; server: string; name: string | null } {
  const { pool, server } = router.locate(Buffer.from(key));
  const p = router.pools[pool];
  const s = p?.servers[server];
  if (p === undefined || s === undefined) throw new Error('no location');
  return { pool: p.name, server: s.address, name: s.name ?? null };
}

describe('memshift route', () => {
  it('prints key, pool and server (with its name) one line per key, in order', async () => {
    const keys = ['foo', 'bar', 'session:42', 'user:1', 'baz'];
    const r = await run(['route', '-c', demo, ...keys]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(keys.length);
    lines.forEach((line, i) => {
      const key = keys[i] ?? '';
      const e = expected(key);
      const fields = line.split(/ {2,}/);
      expect(fields).toEqual([key, e.pool, e.name === null ? e.server : `${e.server} (${e.name})`]);
    });
    expect(lines[2]).toMatch(/^session:42 +sessions +10\.0\.1\.[12]:11211$/);
  });

  it('prints one JSON object per key with --json', async () => {
    const r = await run(['route', '--json', '-c', demo, 'session:1', '{u1}:a']);
    expect(r.status).toBe(0);
    const rows = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([
      { key: 'session:1', ...expected('session:1'), hash: router.ring(1).hashOf(Buffer.from('session:1')) },
      { key: '{u1}:a', ...expected('{u1}:a'), hash: router.ring(0).hashOf(Buffer.from('{u1}:a')) },
    ]);
  });

  it('keeps keys with the same hash tag together', async () => {
    const keys = Array.from({ length: 20 }, (_, i) => `{user7}:${i}`);
    const r = await run(['route', '--json', '-c', demo, ...keys]);
    const servers = new Set(r.stdout.trimEnd().split('\n').map((l) => (JSON.parse(l) as { server: string }).server));
    expect(servers.size).toBe(1);
  });

  it('names a server by its node name when it has one', async () => {
    const one = files.write('named.yml', 'listen: ["127.0.0.1:0"]\npools: {main: {servers: ["10.9.9.9:11211 cache-a"]}}\n');
    expect((await run(['route', '-c', one, 'k'])).stdout).toBe('k  main  10.9.9.9:11211 (cache-a)\n');
  });

  it('quotes keys with control characters in the table', async () => {
    const one = files.write('one.yml', 'listen: ["127.0.0.1:0"]\npools: {main: {servers: ["h:1"]}}\n');
    expect((await run(['route', '-c', one, 'a\tb'])).stdout).toBe('"a\\tb"  main  h:1\n');
  });

  it.each([
    [[], 'give at least one KEY'],
    [['has space'], '"has space" is not a memcached key'],
    [['x'.repeat(251)], 'is not a memcached key (1 to 250 bytes'],
    [[''], '"" is not a memcached key'],
  ])('refuses %j with exit 64', async (keys, message) => {
    const r = await run(['route', '-c', demo, ...keys]);
    expect(r.status).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
  });

  it('accepts a 250-byte key and keys that look like options after --', async () => {
    expect((await run(['route', '-c', demo, 'k'.repeat(250)])).status).toBe(0);
    const r = await run(['route', '-c', demo, '--', '--json']);
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith('--json  main  ')).toBe(true);
  });

  it('exits 78 on an invalid config', async () => {
    const r = await run(['route', '-c', files.write('bad.yml', 'listen: []\n'), 'k']);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('bad.yml:1:9 listen: at least one listen address is required');
  });
});
