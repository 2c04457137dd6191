import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { problems } from './problems.js';

const LISTEN = 'listen: ["127.0.0.1:11211"]\npools:\n  main:\n';
const pool = (body: string) => parseConfig(`${LISTEN}${body}`).pools.get('main')!;

describe('discovery and autopilot', () => {
  it('reads a discovery block with its defaults, and gives the pool the default autopilot', () => {
    const p = pool('    discovery: {dns: memcached.cache.svc.cluster.local}\n');
    expect(p.groups).toEqual([{ name: 'main', servers: [], discovery: { dns: 'memcached.cache.svc.cluster.local', port: 11211, intervalMs: 10_000, names: 'hostname' } }]);
    expect(p.servers).toEqual([]);
    expect(p.autopilot).toEqual({ migrate: 'approve', minStableMs: 30_000, maxMovedShare: 0.5, rebalance: 'off' });
  });

  it('reads every field of both blocks', () => {
    const p = pool(`    discovery:
      dns: memcached.cache.svc.cluster.local.
      port: 11311
      interval: 2s
      names: address
      resolver: "10.96.0.10:53"
    autopilot: {migrate: auto, min_stable: 1m, max_moved_share: 0.25, rebalance: suggest}
`);
    expect(p.groups[0]?.discovery).toEqual({ dns: 'memcached.cache.svc.cluster.local.', port: 11311, intervalMs: 2_000, names: 'address', resolver: '10.96.0.10:53' });
    expect(p.autopilot).toEqual({ migrate: 'auto', minStableMs: 60_000, maxMovedShare: 0.25, rebalance: 'suggest' });
  });

  it('an SRV name carries the port: none is set, and giving one is refused', () => {
    expect(pool('    discovery: {dns: _memcache._tcp.mc.test}\n').groups[0]?.discovery).toEqual({ dns: '_memcache._tcp.mc.test', intervalMs: 10_000, names: 'hostname' });
    expect(problems(`${LISTEN}    discovery: {dns: _memcache._tcp.mc.test, port: 11211}\n`)).toEqual([
      'm.yml:4:52 pools.main.discovery.port: SRV records carry the port: remove port, or give a name with A/AAAA records',
    ]);
  });

  it('takes a resolver as an IPv4 or IPv6 address with or without a port', () => {
    for (const resolver of ['10.96.0.10', '10.96.0.10:5353', 'fd00::a', '[fd00::a]:53']) {
      expect(pool(`    discovery: {dns: mc.test, resolver: "${resolver}"}\n`).groups[0]?.discovery?.resolver).toBe(resolver);
    }
    expect(problems(`${LISTEN}    discovery: {dns: mc.test, resolver: kube-dns.kube-system}\n`)).toEqual([
      'm.yml:4:41 pools.main.discovery.resolver: expected an IP address with an optional port, such as "10.96.0.10:53" or "[fd00::a]:53", got "kube-dns.kube-system"',
    ]);
    expect(problems(`${LISTEN}    discovery: {dns: mc.test, resolver: "10.0.0.1:99999"}\n`)[0]).toMatch(/discovery\.resolver: port must be an integer from 1 to 65535/);
  });

  it('refuses servers and discovery in one pool, at the line of discovery', () => {
    expect(problems(`${LISTEN}    servers: ["10.0.0.1:11211"]\n    discovery: {dns: mc.test}\n`)).toEqual(['m.yml:5:16 pools.main.discovery: give either servers or discovery, not both']);
    expect(problems(`${LISTEN}    discovery: {dns: mc.test}\n    replicas: [{name: a, servers: ["10.0.0.1:11211"]}]\n`)).toEqual(['m.yml:5:15 pools.main.replicas: give either discovery or replicas, not both']);
  });

  it('lets each replica group have its own discovery, or servers, never both nor neither', () => {
    const p = pool(`    replicas:
      - {name: zone-a, discovery: {dns: _memcache._tcp.a.mc.test}}
      - {name: zone-b, discovery: {dns: b.mc.test, names: address}}
      - {name: zone-c, servers: ["10.0.3.1:11211"]}
`);
    expect(p.groups.map((g) => [g.name, g.discovery?.dns ?? g.servers.map((s) => s.address).join()])).toEqual([
      ['zone-a', '_memcache._tcp.a.mc.test'],
      ['zone-b', 'b.mc.test'],
      ['zone-c', '10.0.3.1:11211'],
    ]);
    expect(p.autopilot?.migrate).toBe('approve');
    expect(problems(`${LISTEN}    replicas:\n      - {name: a, servers: ["10.0.0.1:11211"], discovery: {dns: a.test}}\n      - {name: b}\n`)).toEqual([
      'm.yml:5:59 pools.main.replicas[0].discovery: give either servers or discovery, not both',
      'm.yml:6:9 pools.main.replicas[1]: a group needs servers or discovery',
    ]);
  });

  it('refuses a bad name, a short interval, a bad share and unknown keys, each at its line', () => {
    const text = `${LISTEN}    discovery:
      dns: "10.0.0.1"
      interval: 500ms
      names: ip
      zone: x
    autopilot:
      migrate: yes
      max_moved_share: 1.5
      min_stable: soon
`;
    expect(problems(text)).toEqual([
      'm.yml:5:12 pools.main.discovery.dns: expected a DNS name, got the address "10.0.0.1"; fixed addresses go in servers',
      'm.yml:6:17 pools.main.discovery.interval: interval must be at least 1s, got "500ms"',
      'm.yml:7:14 pools.main.discovery.names: must be one of "hostname", "address", got "ip"',
      'm.yml:8:7 pools.main.discovery.zone: unknown key "zone"; expected one of "dns", "port", "interval", "names", "resolver"',
      'm.yml:10:16 pools.main.autopilot.migrate: must be one of "auto", "approve", got "yes"',
      'm.yml:11:24 pools.main.autopilot.max_moved_share: expected a share of the keys above 0 and at most 1, such as 0.5, got 1.5',
      'm.yml:12:19 pools.main.autopilot.min_stable: expected milliseconds or a duration such as "250ms", "1s", "2m", got "soon"',
    ]);
    expect(problems(`${LISTEN}    discovery: {dns: "bad name"}\n`)[0]).toMatch(/discovery\.dns: expected a DNS name such as/);
  });

  it('refuses autopilot without discovery, and discovery with a migration block, modula, or failover_after without replica groups', () => {
    expect(problems(`${LISTEN}    servers: ["10.0.0.1:11211"]\n    autopilot: {migrate: auto}\n`)).toEqual([
      'm.yml:5:16 pools.main.autopilot: autopilot acts on discovered servers: give the pool (or its replica groups) a discovery block',
    ]);
    expect(problems(`${LISTEN}    discovery: {dns: mc.test}\n    migration: {id: m1, from: ["10.0.0.1:11211"]}\n`)).toEqual([
      'm.yml:5:16 pools.main.migration: a pool with discovery migrates when its DNS records change (autopilot); a migration block needs a servers list',
    ]);
    expect(problems(`${LISTEN}    discovery: {dns: mc.test}\n    failover_after: 30s\n`)).toEqual([
      'm.yml:5:21 pools.main.failover_after: a pool with discovery and no replica groups takes no failover_after: the autopilot takes its servers out of the ring when they leave DNS (failover_after is for replica groups)',
    ]);
    expect(pool('    replicas: [{name: a, discovery: {dns: a.test}}, {name: b, discovery: {dns: b.test}}]\n    failover_after: 30s\n').failoverAfterMs).toBe(30_000);
    expect(problems(`${LISTEN}    discovery: {dns: mc.test}\n    distribution: modula\n`)).toEqual([
      'm.yml:5:19 pools.main.distribution: modula places a key on slot hash % total weight, so a server added or removed by DNS would move nearly every key; use ketama with discovery',
    ]);
  });
});
