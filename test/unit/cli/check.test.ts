import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/load.js';
import { ringShares } from '../../../src/cli/ring-shares.js';
import type { ConfigSummary } from '../../../src/cli/check.js';
import { createRing } from '../../../src/routing/index.js';
import { DEMO, run, tempConfigs } from './helpers.js';

const files = tempConfigs();
afterAll(() => files.cleanup());

describe('memshift check', () => {
  it('prints listeners, pools and each server with weight, name, points and share', async () => {
    const file = files.write('demo.yml', DEMO);
    const r = await run(['check', '-c', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = r.stdout;
    expect(out.startsWith(`${file}: OK\n\nlisten:\n  127.0.0.1:22122\n  unix:/tmp/memshift-test.sock (mode 0660)\n`)).toBe(true);
    expect(out).toContain('pool main (default): hash fnv1a_64, distribution ketama, hash_tag "{}", timeout 1000 ms, 1 connection per server\n');
    expect(out).toContain('pool sessions: hash md5, distribution node-memcached, timeout 1000 ms, 1 connection per server\n');
    expect(out).toMatch(/^ {2}server +weight +name +points +share$/m);
    // twemproxy gives 160 points per server, split by weight: 3 servers with weights 1, 1, 2 → 120, 120, 240.
    expect(out).toMatch(/^ {2}10\.0\.0\.1:11211 +1 +- +120 +\d+\.\d\d%$/m);
    expect(out).toMatch(/^ {2}10\.0\.0\.2:11211 +1 +node-b +120 +\d+\.\d\d%$/m);
    expect(out).toMatch(/^ {2}10\.0\.0\.3:11212 +2 +- +240 +\d+\.\d\d%$/m);
    expect(out).toMatch(/^ {2}10\.0\.1\.1:11211 +1 +- +160 +\d+\.\d\d%$/m);
    expect(out).toContain('routes:\n  "session:" -> sessions\n  any other key -> main\n');
    expect(out).toContain('flush_all: sent to every backend\n');
    expect(out).toContain('backend: connect_timeout 1000 ms, TKO after 3 failures, probes 1000..30000 ms\n');
  });

  it('prints the summary as JSON with --json; shares add up to 100%', async () => {
    const r = await run(['check', '--json', '-c', files.write('demo.yml', DEMO)]);
    expect(r.status).toBe(0);
    const summary = JSON.parse(r.stdout) as ConfigSummary;
    expect(summary.listen).toEqual(['127.0.0.1:22122', 'unix:/tmp/memshift-test.sock (mode 0660)']);
    expect(summary.pools.map((p) => [p.name, p.default, p.servers.length])).toEqual([
      ['main', true, 3],
      ['sessions', false, 2],
    ]);
    expect(summary.pools[0]?.servers[1]).toMatchObject({ address: '10.0.0.2:11211', name: 'node-b', weight: 1, points: 120 });
    for (const pool of summary.pools) {
      expect(pool.servers.reduce((sum, s) => sum + s.sharePercent, 0)).toBeCloseTo(100, 2);
    }
    expect(summary.limits.maxItemSize).toBe(1048576);
  });

  it('shows the admin listener, every replica group and each migration block, in text and JSON', async () => {
    const file = files.write('full.yml', `listen: ["127.0.0.1:22122"]
admin: {listen: "127.0.0.1:9121", token_file: /run/secrets/token}
pools:
  main:
    servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:1", "10.0.0.3:11211:1", "10.0.0.4:11211:1"]
    migration: {id: grow-to-4, from: ["10.0.0.1:11211:1", "10.0.0.2:11211:1", "10.0.0.3:11211:1"], start: "2026-11-20T10:05:00Z", rate: 5000}
  sessions:
    replicas:
      - {name: a, servers: ["10.0.1.1:11211", "10.0.1.2:11211"]}
      - {name: b, servers: ["10.0.2.1:11211", "10.0.2.2:11211"]}
      - {name: c, servers: ["10.0.3.1:11211"]}
    write: majority
    read_failover: errors_and_misses
    failover_after: 30s
    migration:
      id: grow-a
      from: [{name: a, servers: ["10.0.1.1:11211"]}, {name: b, servers: ["10.0.2.1:11211", "10.0.2.2:11211"]}, {name: c, servers: ["10.0.3.1:11211"]}]
      cleanup: false
routes: [{prefix: "s:", pool: sessions}]
default_pool: main
`);
    const text = await run(['check', '-c', file]);
    expect(text.status).toBe(0);
    const out = text.stdout;
    expect(out).toContain('\nadmin: 127.0.0.1:9121 (HTTP), token from /run/secrets/token\n');
    expect(out).toContain('  migration grow-to-4: start 2026-11-20T10:05:00.000Z\n    copy eager, rate 5000 keys/s, settle 1000 ms, cleanup on\n    from:\n      server ');
    expect(out).toMatch(/^ {6}10\.0\.0\.3:11211 +1 +- +160 +\d+\.\d\d%$/m);
    expect(out).toContain('pool sessions: hash fnv1a_64, distribution ketama, timeout 1000 ms, 1 connection per server, failover_after 30000 ms\n');
    expect(out).toContain('  replica groups: 3; write majority, read primary, read_failover errors_and_misses, write_log in memory, resync 20000 keys/s\n');
    for (const [group, server] of [['a', '10.0.1.2'], ['b', '10.0.2.2'], ['c', '10.0.3.1']] as const) {
      expect(out).toMatch(new RegExp(`^  group ${group}:\\n {4}server .*\\n(?: {4}.*\\n)*? {4}${server.replace(/\./g, '\\.')}:11211 +1 `, 'm'));
    }
    expect(out).toContain('  migration grow-a: start on memshift migrate start\n    copy eager, rate 20000 keys/s, settle 1000 ms, cleanup off\n    from group a:\n');
    expect(out).toMatch(/^ {4}from group c:\n {6}server .*\n {6}10\.0\.3\.1:11211 +1 +- +160 +100\.00%$/m);

    const summary = JSON.parse((await run(['check', '--json', '-c', file])).stdout) as ConfigSummary;
    expect(summary.admin).toEqual({ listen: '127.0.0.1:9121', https: false, clientCertificates: false, token: 'token_file', tokenFile: '/run/secrets/token' });
    const [main, sessions] = summary.pools;
    expect(main?.migration).toMatchObject({ id: 'grow-to-4', copy: 'eager', rateKeysPerSec: 5000, rateBytesPerSec: null, start: '2026-11-20T10:05:00.000Z', settleMs: 1000, cleanup: true, fromTls: false });
    expect(main?.migration?.from.map((g) => g.servers.map((sv) => sv.address))).toEqual([['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211']]);
    expect(main?.groups.map((g) => g.name)).toEqual(['main']);
    expect(main?.replication).toBeNull();
    expect(sessions?.groups.map((g) => [g.name, g.servers.map((sv) => sv.address)])).toEqual([
      ['a', ['10.0.1.1:11211', '10.0.1.2:11211']],
      ['b', ['10.0.2.1:11211', '10.0.2.2:11211']],
      ['c', ['10.0.3.1:11211']],
    ]);
    for (const g of [...(sessions?.groups ?? []), ...(sessions?.migration?.from ?? [])]) expect(g.servers.reduce((sum, sv) => sum + sv.sharePercent, 0)).toBeCloseTo(100, 2);
    expect(sessions?.replication).toMatchObject({ write: 'majority', read: 'primary', readFailover: 'errors_and_misses', localGroup: null, writeLog: null });
    expect(sessions?.migration?.from.map((g) => g.name)).toEqual(['a', 'b', 'c']);
    expect(sessions?.migration?.start).toBe('command');
    expect(sessions?.failoverAfterMs).toBe(30_000);
    // Without an admin block: none.
    expect((JSON.parse((await run(['check', '--json', '-c', files.write('demo.yml', DEMO)])).stdout) as ConfigSummary).admin).toBeNull();
    expect((await run(['check', '-c', files.write('demo.yml', DEMO)])).stdout).toContain('\nadmin: none\n');
  });

  it('gives a one-server pool all of the hash space', async () => {
    const r = await run(['check', '--json', '-c', files.write('one.yml', 'listen: ["127.0.0.1:0"]\npools: {main: {servers: ["h:11211"]}}\n')]);
    const summary = JSON.parse(r.stdout) as ConfigSummary;
    expect(summary.pools[0]?.servers).toEqual([{ address: 'h:11211', name: null, weight: 1, points: 160, sharePercent: 100 }]);
    expect(summary.routes).toEqual([]);
  });

  it('reads $MEMSHIFT_CONFIG when there is no -c', async () => {
    const file = files.write('env.yml', DEMO);
    const r = await run(['check'], { MEMSHIFT_CONFIG: file });
    expect(r.status).toBe(0);
    expect(r.stdout.startsWith(`${file}: OK`)).toBe(true);
  });

  it('prints every problem with file:line:column and exits 78', async () => {
    const file = files.write('bad.yml', `listen: ["127.0.0.1:11211"]
pools:
  main:
    servers: ["10.0.0.1:11211:0", "10.0.0.2"]
    hash: sha1
default_pool: other
`);
    const r = await run(['check', '-c', file]);
    expect(r.status).toBe(78);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      [
        `${file}:4:15 pools.main.servers[0]: weight must be a positive integer, got "0"`,
        `${file}:4:35 pools.main.servers[1]: missing port: expected "host:port[:weight] [name]", got "10.0.0.2"`,
        `${file}:5:11 pools.main.hash: must be one of "fnv1a_64", "md5", "one_at_a_time", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins", got "sha1"`,
        `${file}:6:15 default_pool: unknown pool "other"; pools are "main"`,
        `memshift: 4 problems in ${file}`,
        '',
      ].join('\n'),
    );
  });

  it('shows where discovered servers come from and the autopilot, in text and JSON', async () => {
    const file = files.write(
      'discovery.yml',
      `listen: ["127.0.0.1:0"]
pools:
  main:
    discovery: {dns: memcached.cache.svc.cluster.local, resolver: "10.96.0.10:53"}
    autopilot: {migrate: auto, min_stable: 45s}
  zones:
    replicas:
      - {name: a, discovery: {dns: _memcache._tcp.a.mc.test, names: address, interval: 5s}}
      - {name: b, servers: ["10.0.2.1:11211"]}
default_pool: main
`,
    );
    const text = await run(['check', '-c', file]);
    expect(text.status).toBe(0);
    expect(text.stdout).toContain(
      'pool main (default): hash fnv1a_64, distribution ketama, timeout 1000 ms, 1 connection per server\n' +
        '  servers from DNS: A/AAAA records of memcached.cache.svc.cluster.local, port 11211, every 10000 ms, ring names by hostname, resolver 10.96.0.10:53\n' +
        '  autopilot: migrate auto, min_stable 45000 ms, max_moved_share 0.5, rebalance off\n',
    );
    expect(text.stdout).toContain(
      '  group a:\n' +
        '    servers from DNS: SRV records of _memcache._tcp.a.mc.test, every 5000 ms, ring names by address, resolver the system\'s\n' +
        '  group b:\n',
    );
    expect(text.stdout).toMatch(/ {4}10\.0\.2\.1:11211 +1 +- +160 +100\.00%\n {2}autopilot: migrate approve, min_stable 30000 ms, max_moved_share 0\.5, rebalance off\n/);
    const json = JSON.parse((await run(['check', '--json', '-c', file])).stdout) as ConfigSummary;
    expect(json.pools.map((p) => [p.name, p.servers, p.groups, p.autopilot])).toEqual([
      [
        'main',
        [],
        [{ name: 'main', servers: [], discovery: { dns: 'memcached.cache.svc.cluster.local', records: 'A/AAAA', port: 11211, intervalMs: 10_000, names: 'hostname', resolver: '10.96.0.10:53' } }],
        { migrate: 'auto', minStableMs: 45_000, maxMovedShare: 0.5, rebalance: 'off' },
      ],
      [
        'zones',
        [],
        [
          { name: 'a', servers: [], discovery: { dns: '_memcache._tcp.a.mc.test', records: 'SRV', port: null, intervalMs: 5_000, names: 'address', resolver: null } },
          { name: 'b', servers: [{ address: '10.0.2.1:11211', name: null, weight: 1, points: 160, sharePercent: 100 }], discovery: null },
        ],
        { migrate: 'approve', minStableMs: 30_000, maxMovedShare: 0.5, rebalance: 'off' },
      ],
    ]);
    const plain = JSON.parse((await run(['check', '--json', '-c', files.write('plain.yml', DEMO)])).stdout) as ConfigSummary;
    expect(plain.pools.map((p) => [p.groups.map((g) => g.discovery), p.autopilot])).toEqual([[[null], null], [[null], null]]);
  });

  it('exits 66 when the file cannot be read', async () => {
    const r = await run(['check', '-c', '/nonexistent/memshift.yml']);
    expect(r.status).toBe(66);
    expect(r.stderr).toMatch(/^memshift: cannot read config file \/nonexistent\/memshift\.yml: ENOENT.* \[MS_ERR_CONFIG_READ\]\n$/);
  });
});

describe('ringShares', () => {
  it('matches where sampled keys land', () => {
    const config = parseConfig(DEMO);
    for (const pool of config.pools.values()) {
      const ring = createRing(pool);
      const hits = new Array<number>(pool.servers.length).fill(0);
      const samples = 40_000;
      for (let i = 0; i < samples; i++) {
        const owner = ring.ownerOf(randomBytes(12));
        hits[owner] = (hits[owner] ?? 0) + 1;
      }
      ringShares(pool).forEach((s, i) => expect(Math.abs(s.share - (hits[i] ?? 0) / samples)).toBeLessThan(0.015));
    }
  });

  it('counts each server\'s points on the continuum', () => {
    const pool = parseConfig(DEMO).pools.get('main');
    if (pool === undefined) throw new Error('no main pool');
    expect(ringShares(pool).map((s) => s.points)).toEqual([120, 120, 240]);
    expect(ringShares(pool).reduce((sum, s) => sum + s.share, 0)).toBeCloseTo(1, 12);
  });
});
