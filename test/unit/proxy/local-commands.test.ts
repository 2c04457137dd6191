/**
 * The commands memshift answers itself (src/proxy/local-commands.ts): version, stats and its
 * sub-commands, flush_all. Reply bytes as a client reads them; backends in memory (memory-backend.ts).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import type { Backend, BackendPool } from '../../../src/backend/index.js';
import { Router } from '../../../src/routing/index.js';
import { FALLBACK_MEMCACHED_VERSION, flushAll, memcachedVersion, statsReply, versionReply } from '../../../src/proxy/local-commands.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import { MEMSHIFT_VERSION } from '../../../src/version.js';
import { MemoryClient, memoryBackend, request, shown, type MemoryConnection } from './memory-backend.js';

const CONFIG = `
listen: ["127.0.0.1:11211"]
pools:
  main: { servers: ["10.0.0.1:11211:2 one", "10.0.0.2:11211"] }
  tenant: { servers: ["10.0.1.1:11211"] }
default_pool: main
`;

/** The config's pools with a memory backend per server. */
function setup() {
  const pools = new Router(parseConfig(CONFIG)).pools;
  const conns: MemoryConnection[] = [];
  const byPool: Backend[][] = pools.map((pool) =>
    pool.servers.map((s) => {
      const { backend, conn } = memoryBackend(s.address);
      conns.push(conn);
      return backend;
    }),
  );
  const backends = { all: byPool.flat(), byPool } as unknown as BackendPool;
  return { pools, backends, conns, stats: new ProxyStats(), client: new MemoryClient() };
}

/** `STAT name value` lines of a stats reply, by name. */
function statLines(reply: Buffer): Map<string, string> {
  const text = reply.toString('latin1');
  expect(text.endsWith('END\r\n')).toBe(true);
  const lines = text.split('\r\n').filter((l) => l.startsWith('STAT '));
  return new Map(lines.map((l) => l.slice(5).split(' ', 2) as [string, string]));
}

describe('version', () => {
  it('is the lowest version among the connections that are up and told theirs', () => {
    const { backends, conns } = setup();
    expect(memcachedVersion(backends.all)).toBe(FALLBACK_MEMCACHED_VERSION);
    conns[0]!.version = '1.6.21';
    conns[1]!.version = '1.6.9';
    conns[2]!.version = '1.5.22';
    conns[2]!.state = 'tko';
    expect(memcachedVersion(backends.all)).toBe('1.6.9');
    expect(versionReply(backends.all).toString('latin1')).toBe('VERSION 1.6.9\r\n');
    conns[2]!.state = 'up';
    expect(versionReply(backends.all).toString('latin1')).toBe('VERSION 1.5.22\r\n');
  });

  it('compares the numbers, not the text (1.6.10 is after 1.6.9)', () => {
    const { backends, conns } = setup();
    conns[0]!.version = '1.6.10';
    conns[1]!.version = '1.6.9';
    conns[2]!.version = '1.10.0';
    expect(memcachedVersion(backends.all)).toBe('1.6.9');
  });
});

describe('stats', () => {
  it('plain stats: memcached\'s fields with the backends\' version, then memshift\'s own, then END', () => {
    const { pools, backends, conns, stats } = setup();
    conns[0]!.version = '1.6.21';
    conns[1]!.state = 'tko';
    stats.cmdGet = 7;
    const s = statLines(statsReply('', stats, pools, backends));
    expect(s.get('version')).toBe('1.6.21');
    expect(s.get('cmd_get')).toBe('7');
    expect(s.get('memshift_version')).toBe(MEMSHIFT_VERSION);
    expect([s.get('memshift_pools'), s.get('memshift_backends'), s.get('memshift_backends_up')]).toEqual(['2', '3', '2']);
  });

  it('stats backends: one block per server of every pool, named pool:server', () => {
    const { pools, backends, conns, stats } = setup();
    conns[0]!.version = '1.6.21';
    conns[0]!.counters.requests = 12;
    conns[0]!.counters.errors = 1;
    conns[2]!.state = 'tko';
    conns[2]!.counters.refused = 4;
    conns[2]!.counters.timeouts = 2;
    const block = (name: string, address: string, state: string, version: string, weight: number, counts: number[]): string =>
      [
        `address ${address}`,
        `state ${state}`,
        `version ${version}`,
        `weight ${weight}`,
        'connections 1',
        ...['requests', 'errors', 'refused', 'timeouts', 'in_flight'].map((c, i) => `${c} ${counts[i]}`),
      ]
        .map((l) => `STAT ${name}:${l}\r\n`)
        .join('');
    expect(statsReply('backends', stats, pools, backends).toString('latin1')).toBe(
      block('main:one', '10.0.0.1:11211', 'up', '1.6.21', 2, [12, 1, 0, 0, 0]) +
        block('main:10.0.0.2:11211', '10.0.0.2:11211', 'up', '-', 1, [0, 0, 0, 0, 0]) +
        block('tenant:10.0.1.1:11211', '10.0.1.1:11211', 'tko', '-', 1, [0, 0, 4, 2, 0]) +
        'END\r\n',
    );
  });

  it('stats reset zeroes the counters and answers RESET; another sub-command is ERROR', () => {
    const { pools, backends, stats } = setup();
    stats.cmdGet = 3;
    stats.currConnections = 2;
    expect(statsReply('reset', stats, pools, backends).toString('latin1')).toBe('RESET\r\n');
    expect([stats.cmdGet, stats.currConnections]).toEqual([0, 2]);
    expect(statsReply('slabs', stats, pools, backends).toString('latin1')).toBe('ERROR\r\n');
  });
});

describe('flush_all', () => {
  it('goes to every backend; OK once all said OK', () => {
    const { backends, conns, stats, client } = setup();
    const slot = flushAll(request('flush_all 10\r\n'), client, stats, backends.all, true, () => false);
    expect(conns.map((c) => c.sent())).toEqual(['flush_all 10\r\n', 'flush_all 10\r\n', 'flush_all 10\r\n']);
    conns[0]!.answer('OK\r\n');
    conns[1]!.answer('OK\r\n');
    expect(shown(slot)).toBeUndefined();
    conns[2]!.answer('OK\r\n');
    expect(shown(slot)).toBe('OK\r\n');
    expect(stats.cmdFlush).toBe(1);
  });

  it('answers the first error when a backend refuses or fails; noreply shows nothing', () => {
    const { backends, conns, stats, client } = setup();
    conns[1]!.refusal = Buffer.from('SERVER_ERROR backend unavailable\r\n');
    const slot = flushAll(request('flush_all\r\n'), client, stats, backends.all, true, () => false);
    expect(conns.map((c) => c.sent())).toEqual(['flush_all\r\n', '', 'flush_all\r\n']);
    conns[0]!.answer('OK\r\n');
    conns[2]!.fail();
    expect(shown(slot)).toBe('SERVER_ERROR backend unavailable\r\n');
    expect(stats.backendErrors).toBe(2);

    // The backends are asked with a reply (the slot waits for it), and the client is shown none.
    const quiet = flushAll(request('flush_all noreply\r\n'), client, stats, backends.all, true, () => false);
    expect(conns[0]!.sent()).toBe('flush_all\r\n');
    expect(shown(quiet)).toBeUndefined();
    conns[0]!.answer('OK\r\n');
    conns[2]!.fail();
    expect(shown(quiet)).toBeNull();
  });

  it('is refused, and sent nowhere, while disabled or while a migration runs', () => {
    const { backends, conns, stats, client } = setup();
    let asked = false;
    const running = (): boolean => (asked = true);
    expect(shown(flushAll(request('flush_all\r\n'), client, stats, backends.all, false, running))).toBe('SERVER_ERROR flush_all disabled\r\n');
    expect(asked).toBe(false);
    expect(shown(flushAll(request('flush_all\r\n'), client, stats, backends.all, true, running))).toBe('SERVER_ERROR flush_all refused while a migration runs\r\n');
    expect(shown(flushAll(request('flush_all noreply\r\n'), client, stats, backends.all, true, running))).toBeNull();
    expect(conns.map((c) => c.sent())).toEqual(['', '', '']);
    expect(stats.cmdFlush).toBe(3);
  });
});
