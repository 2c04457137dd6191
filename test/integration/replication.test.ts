/**
 * Replica groups with real memcached: writes reach every group, deletes remove
 * from every group, reads fail over while a backend is down, `write: one` hides
 * a dead backend from clients, and the order-dependent commands (incr, cas,
 * append, add) keep the groups from drifting apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keysOnServer, spreadKeys, stopAll, TextClient, waitUntil, type ServerHandle } from '../support/harness.js';
import { startReplicatedPool, type ReplicatedPool } from '../support/replication-scenario.js';

afterAll(stopAll);

type Setup = ReplicatedPool;

function setup(extra: Record<string, unknown>): Promise<Setup> {
  return startReplicatedPool({ timeout: 300, ...extra });
}

/** The value a group holds for `key`, read from its servers directly (null when none has it). */
async function groupValue(servers: ServerHandle[], key: string): Promise<string | null> {
  for (const s of servers) {
    const c = await TextClient.connect(s.port);
    const r = await c.request(`get ${key}`);
    c.close();
    const m = /^VALUE \S+ \d+ \d+\r\n(.*)\r\nEND\r\n$/s.exec(r);
    if (m) return m[1]!;
  }
  return null;
}

describe('write: all, read: primary', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup({});
  });

  it('every write is on both groups, every delete leaves neither', async () => {
    const c = await TextClient.connect(s.proxy.port);
    const keys = Array.from({ length: 200 }, (_, i) => `rep:${i}`);
    for (const k of keys) expect(await c.request(`set ${k} 3 0 ${k.length}\r\n${k}`)).toBe('STORED\r\n');
    for (const group of [s.zoneA, s.zoneB]) {
      let held = 0;
      for (const srv of group) held += (await keysOnServer(srv.port, keys)).size;
      expect(held).toBe(keys.length);
    }
    for (const k of keys.slice(0, 100)) expect(await c.request(`delete ${k}`)).toBe('DELETED\r\n');
    for (const group of [s.zoneA, s.zoneB]) {
      let held = 0;
      for (const srv of group) held += (await keysOnServer(srv.port, keys.slice(0, 100))).size;
      expect(held).toBe(0);
    }
    c.close();
  });

  it('incr runs on the primary and the other group is synced to its result before the reply', async () => {
    const c = await TextClient.connect(s.proxy.port);
    expect(await c.request('set ctr 0 0 1\r\n5')).toBe('STORED\r\n');
    expect(await c.request('incr ctr 10')).toBe('15\r\n');
    expect(await c.request('get ctr')).toBe('VALUE ctr 0 2\r\n15\r\nEND\r\n');
    expect(await groupValue(s.zoneA, 'ctr')).toBe('15');
    // write: all waits for the other group to follow, so no pause is needed here.
    expect(await groupValue(s.zoneB, 'ctr')).toBe('15');
    c.close();
  });

  it('gets tokens come from the primary; cas there stores and the value is copied to the other group', async () => {
    const c = await TextClient.connect(s.proxy.port);
    expect(await c.request('set casme 7 0 3\r\nold')).toBe('STORED\r\n');
    const g = await c.request('gets casme');
    const cas = /^VALUE casme 7 3 (\d+)\r\n/.exec(g)![1];
    expect(await c.request(`cas casme 7 0 3 ${cas}\r\nnew`)).toBe('STORED\r\n');
    expect(await c.request(`cas casme 7 0 3 ${cas}\r\nbad`)).toBe('EXISTS\r\n');
    await waitUntil('casme copied to both groups', async () => (await groupValue(s.zoneA, 'casme')) === 'new' && (await groupValue(s.zoneB, 'casme')) === 'new', 5_000, 10);
    expect(await groupValue(s.zoneA, 'casme')).toBe('new');
    expect(await groupValue(s.zoneB, 'casme')).toBe('new');
    c.close();
  });

  it('add decides on the primary only, so the groups agree', async () => {
    const c = await TextClient.connect(s.proxy.port);
    expect(await c.request('add addme 0 0 1\r\nx')).toBe('STORED\r\n');
    expect(await c.request('add addme 0 0 1\r\ny')).toBe('NOT_STORED\r\n');
    await waitUntil('addme copied to both groups', async () => (await groupValue(s.zoneA, 'addme')) === 'x' && (await groupValue(s.zoneB, 'addme')) === 'x', 5_000, 10);
    expect(await groupValue(s.zoneA, 'addme')).toBe('x');
    expect(await groupValue(s.zoneB, 'addme')).toBe('x');
    expect(await c.request('append addme 0 0 1\r\nz')).toBe('STORED\r\n');
    expect(await c.request('get addme')).toBe('VALUE addme 0 2\r\nxz\r\nEND\r\n');
    expect(await groupValue(s.zoneB, 'addme')).toBe('xz');
    c.close();
  });
});

describe('write: one, read: local, a dead backend', () => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup({ write: 'one', read: 'local', local_group: 'zone-b' });
  });

  it('clients see no errors for writes or reads while one backend of zone-b is down', async () => {
    const c = await TextClient.connect(s.proxy.port);
    // Keys that spread over any ring, so the victim holds some (dead:0 .. dead:299 missed it for 4.4% of the port pairs).
    const keys = spreadKeys('dead:', 300);
    for (const k of keys) expect(await c.request(`set ${k} 0 0 1\r\nv`)).toBe('STORED\r\n');
    const victim = s.zoneB[0]!;
    victim.kill('SIGKILL');
    await victim.waitExit();
    const errors: string[] = [];
    for (const k of keys) {
      const w = await c.request(`set ${k} 0 0 1\r\nw`);
      if (w !== 'STORED\r\n') errors.push(`set ${k}: ${w}`);
      const r = await c.request(`get ${k}`);
      if (r !== `VALUE ${k} 0 1\r\nw\r\nEND\r\n`) errors.push(`get ${k}: ${r}`);
    }
    const multi = await c.request(`get ${keys.slice(0, 50).join(' ')}`, 5_000);
    expect([...multi.matchAll(/^VALUE /gm)].length).toBe(50);
    expect(errors.slice(0, 5)).toEqual([]);
    c.close();
  });
});

describe('read_failover: errors_and_misses', () => {
  it('a multi-get of keys no group holds counts misses, not errors', async () => {
    const s = await setup({ read_failover: 'errors_and_misses' });
    const c = await TextClient.connect(s.proxy.port);
    expect(await c.request('set present 0 0 1\r\nx')).toBe('STORED\r\n');
    const keys = ['present', ...Array.from({ length: 20 }, (_, i) => `absent:${i}`)];
    expect(await c.request(`get ${keys.join(' ')}`)).toBe('VALUE present 0 1\r\nx\r\nEND\r\n');
    const stats = await c.request('stats');
    expect(stats).toMatch(/STAT get_misses 20\r\n/);
    expect(stats).toMatch(/STAT get_hits 1\r\n/);
    expect(stats).toMatch(/STAT memshift_get_errors 0\r\n/);
    c.close();
  });
});
