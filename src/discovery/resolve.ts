/**
 * One DNS look-up of a pool's (or replica group's) servers, with node:dns's `Resolver` (c-ares: it
 * asks the resolver every time, it keeps no cache):
 *
 *   mc.cache.svc.cluster.local      A records (AAAA when the name has no A), each address with `port`
 *   _memcache._tcp.mc.cache.svc…    SRV records: each target's address (A, else AAAA) with the record's port
 *
 * Ring names (`names`): `hostname` names each server by its stable DNS name, the SRV target or the
 * PTR name of its address (a StatefulSet pod that comes back with a new address keeps its name, so
 * none of its keys move). When several servers share a DNS name (one host, several ports in SRV
 * records) each is named `name:port`. `address` gives no name: the ring identity is the address, as
 * for a static `servers:` entry (`host` on port 11211, else `host:port`), so a pool that switches from
 * a static list of the same addresses keeps its keys.
 *
 * The result is sorted (by ring identity, then address) and names are lower case without a trailing
 * dot: every sidecar computes the same list from the same records. Anything that could make two
 * sidecars disagree is an error rather than a guess: a missing PTR record, a name on two addresses,
 * an address under two names, zero records.
 */
import { Resolver } from 'node:dns/promises';
import type { DiscoveredRingServer, DiscoveryConfig, PoolConfig, ServerSpec } from '../config/types.js';
import { formatHostPort } from '../config/address.js';
import { ketamaServerName } from '../routing/ketama.js';

/** What a look-up needs from a `discovery:` block. */
export type DiscoveryTarget = Pick<DiscoveryConfig, 'dns' | 'port' | 'names'>;

/** The port of A/AAAA records when the config gives none (memcached's). */
export const DEFAULT_DISCOVERY_PORT = 11211;

/**
 * A server found in DNS: its IP address (`host`, `port`, `address`), the DNS name it was found under
 * (SRV target or PTR name; absent for A/AAAA with `names: address`) and its ring name (`names:
 * hostname`; absent with `names: address`).
 */
export type DiscoveredServer = DiscoveredRingServer;

export interface Resolution {
  /** Sorted by ring identity, then address; never empty. */
  readonly servers: readonly DiscoveredServer[];
  /** The smallest TTL of the A/AAAA records used, in seconds (SRV and PTR answers carry none in node). */
  readonly ttlSeconds: number | undefined;
}

/** Why a look-up gave no usable set: `dns` (an error answer or none), `empty` (zero records), `ambiguous`. */
export type DiscoveryFailure = 'dns' | 'empty' | 'ambiguous';

export class DiscoveryError extends Error {
  constructor(
    readonly reason: DiscoveryFailure,
    message: string,
  ) {
    super(message);
    this.name = 'DiscoveryError';
  }
}

export interface ResolverOptions {
  /** `ip`, `ip:port` or `[v6]:port`; absent: the system's resolvers (/etc/resolv.conf). */
  readonly resolver?: string;
  /** Per attempt, default 2000 ms. */
  readonly timeoutMs?: number;
  /** Attempts per query (each resolver), default 2. */
  readonly tries?: number;
}

export function createResolver(opts: ResolverOptions = {}): Resolver {
  const resolver = new Resolver({ timeout: opts.timeoutMs ?? 2_000, tries: opts.tries ?? 2 });
  if (opts.resolver !== undefined) resolver.setServers([opts.resolver]);
  return resolver;
}

export const isSrvName = (dns: string): boolean => dns.startsWith('_');

/** The ring identity, as routing computes it: the node name, else `host` on 11211, else `host:port`. */
export const ringIdentity = (s: Pick<DiscoveredServer, 'host' | 'port' | 'name'>): string => ketamaServerName(s);

const normalName = (name: string): string => name.toLowerCase().replace(/\.$/, '');

function dnsError(what: string, err: unknown): DiscoveryError {
  const code = (err as { code?: unknown }).code;
  return new DiscoveryError('dns', `${what}: ${typeof code === 'string' ? code : (err as Error).message}`);
}

/** A name's addresses: its A records, or its AAAA records when it has no A record. */
async function addressesOf(resolver: Resolver, name: string): Promise<{ address: string; ttl: number }[]> {
  try {
    const a = await resolver.resolve4(name, { ttl: true });
    if (a.length > 0) return a;
  } catch (err) {
    if ((err as { code?: unknown }).code !== 'ENODATA') throw dnsError(`A ${name}`, err);
  }
  try {
    return await resolver.resolve6(name, { ttl: true });
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ENODATA') return [];
    throw dnsError(`AAAA ${name}`, err);
  }
}

interface Found {
  readonly host: string;
  readonly port: number;
  readonly dnsName?: string;
}

async function fromSrv(resolver: Resolver, dns: string): Promise<{ found: Found[]; ttls: number[] }> {
  let records;
  try {
    records = await resolver.resolveSrv(dns);
  } catch (err) {
    throw dnsError(`SRV ${dns}`, err);
  }
  // RFC 2782: a target of "." says the service is not offered there.
  const usable = records.filter((r) => r.name !== '' && r.name !== '.');
  const targets = [...new Set(usable.map((r) => normalName(r.name)))];
  const addresses = new Map(await Promise.all(targets.map(async (t) => [t, await addressesOf(resolver, t)] as const)));
  const found: Found[] = [];
  const ttls: number[] = [];
  for (const r of usable) {
    const target = normalName(r.name);
    const list = addresses.get(target) ?? [];
    if (list.length === 0) throw new DiscoveryError('dns', `SRV ${dns}: its target ${target} has no A or AAAA record`);
    for (const a of list) {
      found.push({ host: a.address, port: r.port, dnsName: target });
      ttls.push(a.ttl);
    }
  }
  return { found, ttls };
}

async function fromAddresses(resolver: Resolver, target: DiscoveryTarget): Promise<{ found: Found[]; ttls: number[] }> {
  const port = target.port ?? DEFAULT_DISCOVERY_PORT;
  const list = await addressesOf(resolver, target.dns);
  if (target.names === 'address') return { found: list.map((a) => ({ host: a.address, port })), ttls: list.map((a) => a.ttl) };
  const found = await Promise.all(
    list.map(async (a): Promise<Found> => {
      let names: string[];
      try {
        names = await resolver.reverse(a.address);
      } catch (err) {
        const why = dnsError(`PTR ${a.address}`, err).message;
        throw new DiscoveryError('dns', `${why} (names: hostname names each address by its PTR record; use SRV records or names: address)`);
      }
      const sorted = names.map(normalName).sort();
      if (sorted[0] === undefined) throw new DiscoveryError('dns', `PTR ${a.address}: no name`);
      return { host: a.address, port, dnsName: sorted[0] };
    }),
  );
  return { found, ttls: list.map((a) => a.ttl) };
}

/**
 * Names each server, then refuses what two sidecars could read two ways: the same address twice
 * under different names, or two servers with one ring identity.
 */
function nameServers(found: readonly Found[], names: DiscoveryConfig['names']): DiscoveredServer[] {
  const byAddress = new Map<string, Found>();
  // Records come in any order (DNS servers rotate them): sort first, so even errors read the same everywhere.
  const ordered = [...found].sort((a, b) => ((a.dnsName ?? '') < (b.dnsName ?? '') ? -1 : (a.dnsName ?? '') > (b.dnsName ?? '') ? 1 : a.port - b.port));
  for (const f of ordered) {
    const address = formatHostPort(f.host, f.port);
    const seen = byAddress.get(address);
    if (seen !== undefined && seen.dnsName !== f.dnsName) {
      throw new DiscoveryError('ambiguous', `${address} is both ${seen.dnsName ?? '?'} and ${f.dnsName ?? '?'}`);
    }
    byAddress.set(address, f);
  }
  const ports = new Map<string, Set<number>>();
  for (const f of byAddress.values()) if (f.dnsName !== undefined) ports.set(f.dnsName, (ports.get(f.dnsName) ?? new Set()).add(f.port));
  const servers = [...byAddress].map(([address, f]): DiscoveredServer => {
    const base = { host: f.host, port: f.port, address, ...(f.dnsName === undefined ? {} : { dnsName: f.dnsName }) };
    if (names === 'address' || f.dnsName === undefined) return base;
    const shared = (ports.get(f.dnsName)?.size ?? 0) > 1;
    return { ...base, name: shared ? `${f.dnsName}:${f.port}` : f.dnsName };
  });
  servers.sort(compareServers);
  for (let i = 1; i < servers.length; i++) {
    const [a, b] = [servers[i - 1]!, servers[i]!];
    if (ringIdentity(a) === ringIdentity(b)) throw new DiscoveryError('ambiguous', `${ringIdentity(a)} is on two addresses: ${a.address} and ${b.address}`);
  }
  return servers;
}

export function compareServers(a: DiscoveredServer, b: DiscoveredServer): number {
  const [x, y] = [ringIdentity(a), ringIdentity(b)];
  if (x !== y) return x < y ? -1 : 1;
  return a.address < b.address ? -1 : a.address > b.address ? 1 : 0;
}

/** Resolves `target.dns` to the sorted server list; rejects with a DiscoveryError. */
export async function resolveServers(target: DiscoveryTarget, resolver: Resolver): Promise<Resolution> {
  const { found, ttls } = isSrvName(target.dns) ? await fromSrv(resolver, target.dns) : await fromAddresses(resolver, target);
  if (found.length === 0) throw new DiscoveryError('empty', `${target.dns}: the answer holds no records`);
  const servers = nameServers(found, target.names);
  return { servers, ttlSeconds: ttls.length === 0 ? undefined : Math.min(...ttls) };
}

/**
 * The ServerSpec a pool runs for a discovered server: weight 1 (SRV weights are for picking one
 * server, not for sharing keys), its ring name, and the pool's TLS and auth. A server with a ring
 * name (`names: hostname`) is configured by its DNS name (`mc-0.mc.svc…:11211` is its address in
 * /backends, metrics and logs): the discovery points that name at the address it resolved to
 * (backend/dial.ts pointName), so a pod back with a new address is the same backend, reconnected.
 * With `names: address` the address is the server. TLS checks the certificate against the pool's
 * `server_name`, else the server's DNS name, else its address.
 */
export function toServerSpec(s: DiscoveredServer, pool: Pick<PoolConfig, 'tls' | 'auth'>): ServerSpec {
  const tls = pool.tls === undefined ? undefined : pool.tls.serverName === undefined && s.dnsName !== undefined ? { ...pool.tls, serverName: s.dnsName } : pool.tls;
  const host = s.name !== undefined && s.dnsName !== undefined ? s.dnsName : s.host;
  const address = formatHostPort(host, s.port);
  return {
    host,
    port: s.port,
    weight: 1,
    address,
    raw: s.name === undefined ? `${address}:1` : `${address}:1 ${s.name}`,
    ...(s.name === undefined ? {} : { name: s.name }),
    ...(tls === undefined ? {} : { tls }),
    ...(pool.auth === undefined ? {} : { auth: pool.auth }),
  };
}
