/**
 * Discovery against a real DNS server (issue 16): dnsmasq on a loopback port serves A, AAAA, PTR and
 * SRV records from a hosts file the test edits and SIGHUPs. Nothing here mocks the resolver: the
 * look-ups are node:dns queries to that dnsmasq. First the dnsmasq the tests rely on, then
 * resolveServers, then a DiscoveryWatch with short intervals (floor lowered for the test).
 */
import { Resolver } from 'node:dns/promises';
import { afterAll, describe, expect, it } from 'vitest';
import { startDnsmasq, stopAll, type DnsmasqHandle, type HostsLine } from '../support/harness.js';
import { hold, waitUntil } from '../support/process.js';
import { createResolver, DiscoveryError, DiscoveryWatch, resolveServers, ringIdentity, type DiscoveryChange } from '../../src/discovery/index.js';
import type { DiscoveryConfig } from '../../src/config/types.js';
import { createLogger, type Logger } from '../../src/observability/logger.js';

afterAll(stopAll);

const queryResolver = (dns: DnsmasqHandle, timeoutMs = 500): Resolver => createResolver({ resolver: dns.address, timeoutMs, tries: 1 });

async function errorCode(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String((err as { code?: unknown }).code);
  }
  throw new Error('expected the query to fail');
}

/** A StatefulSet's pods mc-<i> behind the headless name mc.test, at 127.0.1.<i>. */
const pod = (i: number, ip = `127.0.1.${10 + i}`): HostsLine => [ip, `mc-${i}.mc.test`, 'mc.test'];
const pods = (...ids: number[]): HostsLine[] => ids.map((i) => pod(i));

const until = (what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> => waitUntil(what, () => Promise.resolve(cond()), timeoutMs, 20);

describe('the dnsmasq the tests run', () => {
  it('serves A, AAAA and PTR from the hosts file, re-read on SIGHUP, with --local-ttl', async () => {
    const dns = await startDnsmasq({ hosts: [...pods(0, 1), ['fd00::10', 'v6.mc.test']], ttl: 7 });
    const r = queryResolver(dns);
    expect((await r.resolve4('mc.test', { ttl: true })).sort((a, b) => a.address.localeCompare(b.address))).toEqual([
      { address: '127.0.1.10', ttl: 7 },
      { address: '127.0.1.11', ttl: 7 },
    ]);
    expect(await r.resolve6('v6.mc.test', { ttl: true })).toEqual([{ address: 'fd00::10', ttl: 7 }]);
    expect(await r.reverse('127.0.1.11')).toEqual(['mc-1.mc.test']); // the first name of its line
    await dns.setHosts(pods(0, 1, 2));
    expect((await r.resolve4('mc.test')).sort()).toEqual(['127.0.1.10', '127.0.1.11', '127.0.1.12']);
    expect(await r.reverse('127.0.1.12')).toEqual(['mc-2.mc.test']);
    await dns.setHosts(pods(0));
    expect(await r.resolve4('mc.test')).toEqual(['127.0.1.10']);
  });

  it('answers NXDOMAIN, NODATA and REFUSED as measured, times out when paused and refuses when stopped', async () => {
    const dns = await startDnsmasq({ hosts: pods(0) });
    const r = queryResolver(dns, 2_000);
    expect(await errorCode(r.resolve4('gone.mc.test'))).toBe('ENOTFOUND');
    expect(await errorCode(r.resolve6('mc.test'))).toBe('ENODATA');
    expect(await errorCode(r.resolve4('mc.example.com'))).toBe('EREFUSED');
    dns.pause();
    expect(await errorCode(queryResolver(dns, 300).resolve4('mc.test'))).toBe('ETIMEOUT');
    dns.resume();
    expect(await r.resolve4('mc.test')).toEqual(['127.0.1.10']);
    await dns.stop();
    expect(await errorCode(r.resolve4('mc.test'))).toBe('ECONNREFUSED');
    await dns.restart();
    expect(await r.resolve4('mc.test')).toEqual(['127.0.1.10']);
  });

  it('replaces SRV records by a restart on the same port (SIGHUP does not re-read them)', async () => {
    const dns = await startDnsmasq({ hosts: pods(0, 1), srv: [{ service: '_memcache._tcp.mc.test', target: 'mc-0.mc.test', port: 11211 }] });
    const r = queryResolver(dns);
    expect(await r.resolveSrv('_memcache._tcp.mc.test')).toEqual([{ name: 'mc-0.mc.test', port: 11211, priority: 0, weight: 0 }]);
    const { port } = dns;
    await dns.setSrv([
      { service: '_memcache._tcp.mc.test', target: 'mc-0.mc.test', port: 11211 },
      { service: '_memcache._tcp.mc.test', target: 'mc-1.mc.test', port: 11311 },
    ]);
    expect(dns.port).toBe(port);
    expect((await r.resolveSrv('_memcache._tcp.mc.test')).map((s) => `${s.name}:${s.port}`).sort()).toEqual(['mc-0.mc.test:11211', 'mc-1.mc.test:11311']);
    // The hosts file is kept across the restart, and still re-read on SIGHUP.
    await dns.setHosts(pods(0, 1, 2));
    expect(await r.reverse('127.0.1.12')).toEqual(['mc-2.mc.test']);
  });
});

describe('resolveServers', () => {
  it('A records: ring names from PTR (names: hostname) or the address (names: address), sorted', async () => {
    const dns = await startDnsmasq({ hosts: pods(2, 0, 1), ttl: 5 });
    const r = queryResolver(dns);
    const byName = await resolveServers({ dns: 'mc.test', port: 11211, names: 'hostname' }, r);
    expect(byName.ttlSeconds).toBe(5);
    expect(byName.servers).toEqual([0, 1, 2].map((i) => ({ host: `127.0.1.${10 + i}`, port: 11211, address: `127.0.1.${10 + i}:11211`, dnsName: `mc-${i}.mc.test`, name: `mc-${i}.mc.test` })));
    const byAddress = await resolveServers({ dns: 'mc.test', port: 11311, names: 'address' }, r);
    expect(byAddress.servers).toEqual([0, 1, 2].map((i) => ({ host: `127.0.1.${10 + i}`, port: 11311, address: `127.0.1.${10 + i}:11311` })));
    expect(byAddress.servers.map(ringIdentity)).toEqual(['127.0.1.10:11311', '127.0.1.11:11311', '127.0.1.12:11311']);
    // On memcached's port the identity is the host alone, as for a static servers entry.
    expect((await resolveServers({ dns: 'mc.test', port: 11211, names: 'address' }, r)).servers.map(ringIdentity)).toEqual(['127.0.1.10', '127.0.1.11', '127.0.1.12']);
  });

  it('a name with AAAA records only gives IPv6 servers', async () => {
    const dns = await startDnsmasq({ hosts: [['fd00::11', 'mc-1.v6.test', 'v6.test'], ['fd00::10', 'mc-0.v6.test', 'v6.test']] });
    const { servers } = await resolveServers({ dns: 'v6.test', port: 11211, names: 'hostname' }, queryResolver(dns));
    expect(servers.map((s) => [s.name, s.address])).toEqual([
      ['mc-0.v6.test', '[fd00::10]:11211'],
      ['mc-1.v6.test', '[fd00::11]:11211'],
    ]);
  });

  it('SRV records carry the port; targets are resolved; a host with two ports is named name:port', async () => {
    const service = '_memcache._tcp.mc.test';
    const dns = await startDnsmasq({
      hosts: pods(0, 1),
      ttl: 9,
      srv: [
        { service, target: 'mc-1.mc.test', port: 11311 },
        { service, target: 'MC-0.mc.test', port: 11211 },
      ],
    });
    const r = queryResolver(dns);
    const res = await resolveServers({ dns: service, names: 'hostname' }, r);
    expect(res.ttlSeconds).toBe(9);
    expect(res.servers.map((s) => [s.name, s.address])).toEqual([
      ['mc-0.mc.test', '127.0.1.10:11211'],
      ['mc-1.mc.test', '127.0.1.11:11311'],
    ]);
    expect((await resolveServers({ dns: service, names: 'address' }, r)).servers.map(ringIdentity)).toEqual(['127.0.1.10', '127.0.1.11:11311']);
    await dns.setSrv([
      { service, target: 'mc-0.mc.test', port: 11211 },
      { service, target: 'mc-0.mc.test', port: 11212 },
    ]);
    expect((await resolveServers({ dns: service, names: 'hostname' }, r)).servers.map((s) => s.name)).toEqual(['mc-0.mc.test:11211', 'mc-0.mc.test:11212']);
  });

  it('refuses what sidecars could read two ways, and an answer with no records', async () => {
    const service = '_memcache._tcp.mc.test';
    const dns = await startDnsmasq({
      hosts: [['127.0.1.20', 'a.mc.test'], ['127.0.1.20', 'b.mc.test']],
      srv: [
        { service, target: 'a.mc.test', port: 11211 },
        { service, target: 'b.mc.test', port: 11211 },
      ],
      args: ['--address=/noptr.test/127.0.1.30', '--srv-host=_memcache._tcp.none.test'],
    });
    const r = queryResolver(dns);
    const failure = async (dnsName: string, names: 'hostname' | 'address' = 'hostname'): Promise<[string, string]> => {
      try {
        await resolveServers({ dns: dnsName, port: 11211, names }, r);
      } catch (err) {
        expect(err).toBeInstanceOf(DiscoveryError);
        return [(err as DiscoveryError).reason, (err as Error).message];
      }
      throw new Error(`${dnsName} resolved`);
    };
    expect(await failure(service)).toEqual(['ambiguous', '127.0.1.20:11211 is both a.mc.test and b.mc.test']);
    expect(await failure('noptr.test')).toEqual(['dns', 'PTR 127.0.1.30: ENOTFOUND (names: hostname names each address by its PTR record; use SRV records or names: address)']);
    expect((await resolveServers({ dns: 'noptr.test', port: 11211, names: 'address' }, r)).servers.map((s) => s.address)).toEqual(['127.0.1.30:11211']);
    expect(await failure('_memcache._tcp.none.test')).toEqual(['empty', '_memcache._tcp.none.test: the answer holds no records']);
    expect(await failure('gone.mc.test')).toEqual(['dns', 'A gone.mc.test: ENOTFOUND']);
    expect(await failure('_memcache._tcp.gone.test')).toEqual(['dns', 'SRV _memcache._tcp.gone.test: ENOTFOUND']);
  });
});

describe('DiscoveryWatch', () => {
  const MIN_STABLE = 1_500;
  /** A watch on dnsmasq that resolves every 200 ms (the 1 s floor lowered for the test). */
  function watch(dns: DnsmasqHandle, discovery: Partial<DiscoveryConfig>, minStableMs = MIN_STABLE, log?: Logger): { w: DiscoveryWatch; changes: (DiscoveryChange & { at: number })[] } {
    const w = new DiscoveryWatch({
      pool: 'main',
      discovery: { dns: 'mc.test', port: 11211, intervalMs: 200, names: 'hostname', resolver: dns.address, ...discovery },
      ...(log === undefined ? {} : { log }),
      minStableMs,
      settings: { floorMs: 100, flapWindowMs: 6_000 },
      timeoutMs: 1_000,
      tries: 1,
    });
    const changes: (DiscoveryChange & { at: number })[] = [];
    w.onChange((c) => changes.push({ ...c, at: performance.now() }));
    w.start();
    return { w, changes };
  }
  const stableNames = (w: DiscoveryWatch): (string | undefined)[] | undefined => w.stable?.map((s) => s.name ?? s.address);

  it('sees a new A record after a hosts edit and SIGHUP, only once min_stable has passed', async () => {
    const dns = await startDnsmasq({ hosts: pods(0, 1, 2) });
    const { w, changes } = watch(dns, {});
    try {
      await until('the first set', () => w.stable !== undefined);
      expect(stableNames(w)).toEqual(['mc-0.mc.test', 'mc-1.mc.test', 'mc-2.mc.test']);
      const edited = performance.now(); // no answer can show mc-3 before this
      await dns.setHosts(pods(0, 1, 2, 3));
      await until('the new set', () => changes.some((c) => c.type === 'stable'), 10_000);
      const change = changes.find((c) => c.type === 'stable')!;
      expect(change.at - edited).toBeGreaterThanOrEqual(MIN_STABLE);
      expect(stableNames(w)).toEqual(['mc-0.mc.test', 'mc-1.mc.test', 'mc-2.mc.test', 'mc-3.mc.test']);
      expect(w.counters).toMatchObject({ changes: 1, failures: 0, flaps: 0 });
      expect(w.counters.resolves).toBeGreaterThan(5);
      expect(w.counters.lastSuccessMs).toBeGreaterThan(Date.now() - 5_000);
    } finally {
      w.stop();
    }
  });

  it('follows a pod back with a new address under its name at once, and SRV ports with names by address', async () => {
    const dns = await startDnsmasq({ hosts: pods(0, 1) });
    const { w, changes } = watch(dns, {}, 60_000);
    const srv = await startDnsmasq({ hosts: pods(0, 1), srv: [{ service: '_mc._tcp.mc.test', target: 'mc-0.mc.test', port: 11311 }, { service: '_mc._tcp.mc.test', target: 'mc-1.mc.test', port: 11312 }] });
    const bySrv = watch(srv, { dns: '_mc._tcp.mc.test', names: 'address' });
    try {
      await until('the first set', () => w.stable !== undefined);
      await dns.setHosts([pod(0), pod(1, '127.0.1.99')]);
      await until('the new address', () => changes.some((c) => c.type === 'addresses'), 5_000);
      expect(w.stable?.map((s) => `${s.name}=${s.address}`)).toEqual(['mc-0.mc.test=127.0.1.10:11211', 'mc-1.mc.test=127.0.1.99:11211']);
      expect(w.counters.changes).toBe(0); // no key moves: min_stable (60 s) did not apply
      await until('the SRV set', () => bySrv.w.stable !== undefined);
      expect(bySrv.w.stable?.map(ringIdentity)).toEqual(['127.0.1.10:11311', '127.0.1.11:11312']);
    } finally {
      w.stop();
      bySrv.w.stop();
    }
  });

  it('keeps the last set while DNS is down or answers no records, counts and logs the failures, and recovers', async () => {
    const service = '_memcache._tcp.mc.test';
    const records = [{ service, target: 'mc-0.mc.test' }, { service, target: 'mc-1.mc.test' }];
    const dns = await startDnsmasq({ hosts: pods(0, 1), srv: records });
    const lines: string[] = [];
    const log = createLogger({ level: 'info', destination: { write: (line: string) => lines.push(line) } });
    const { w, changes } = watch(dns, { dns: service, port: undefined }, MIN_STABLE, log);
    const logged = (msg: string): number => lines.filter((l) => l.includes(msg)).length;
    try {
      await until('the first set', () => w.stable !== undefined);
      await dns.stop();
      await until('failures', () => w.counters.failures >= 3);
      expect(stableNames(w)).toEqual(['mc-0.mc.test', 'mc-1.mc.test']);
      expect(w.snapshot().failing).toBeGreaterThanOrEqual(3);
      expect(w.snapshot().lastError).toBe(`SRV ${service}: ECONNREFUSED`);
      expect(logged('discovery: DNS look-up failed; the last good servers are kept')).toBe(1); // once per outage
      await dns.restart();
      await until('an answer', () => w.snapshot().failing === 0);
      expect(logged('discovery: DNS answers again')).toBe(1);
      // A record that names no target: an answer with zero records, a failure too, never an empty ring.
      await dns.setSrv([{ service }]);
      await until('the empty answer', () => w.counters.emptyAnswers >= 2);
      await hold(MIN_STABLE, 'min_stable passes: the last good servers must stay');
      expect(stableNames(w)).toEqual(['mc-0.mc.test', 'mc-1.mc.test']);
      expect(w.snapshot().lastError).toBe(`${service}: the answer holds no records`);
      expect(logged('the answer holds no records')).toBe(1);
      expect(changes.map((c) => c.type)).toEqual(['initial']);
      expect(w.counters.changes).toBe(0);
    } finally {
      w.stop();
    }
  });

  it('holds the stable set while a record flaps, then takes the set that stays', async () => {
    const dns = await startDnsmasq({ hosts: pods(0, 1) });
    const { w, changes } = watch(dns, {});
    try {
      await until('the first set', () => w.stable !== undefined);
      for (let i = 0; i < 3; i++) {
        const before = w.counters.resolves;
        await dns.setHosts(pods(0, 1, 2));
        await until('an answer with mc-2', () => w.counters.resolves >= before + 2);
        const again = w.counters.resolves;
        await dns.setHosts(pods(0, 1));
        await until('an answer without mc-2', () => w.counters.resolves >= again + 2);
      }
      expect(w.snapshot().flapping).toBe(true);
      expect(w.counters.flaps).toBe(1);
      await dns.setHosts(pods(0, 1, 2));
      await hold(MIN_STABLE + 1_000, 'steady for longer than min_stable, yet held while flapping');
      expect(stableNames(w)).toEqual(['mc-0.mc.test', 'mc-1.mc.test']); // held, though steady for min_stable
      expect(w.counters.changes).toBe(0);
      // Once the returns leave the flap window (6 s), the set that stayed becomes stable.
      await until('the change after the flapping', () => w.counters.changes === 1, 10_000);
      expect(stableNames(w)).toEqual(['mc-0.mc.test', 'mc-1.mc.test', 'mc-2.mc.test']);
      expect(changes.map((c) => c.type)).toEqual(['initial', 'stable']);
    } finally {
      w.stop();
    }
  });
});
