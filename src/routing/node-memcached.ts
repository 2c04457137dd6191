/**
 * The `node-memcached` distribution: keys land where the npm `memcached` client (2.2.2) puts them.
 *
 * That client (lib/memcached.js, Client) builds `new HashRing(args, 'md5', { compatibility: 'ketama',
 * 'default port': 11211 })` with npm `hashring` 3.2.0, where `args` is its server list: an array of
 * "host:port" strings, or an object `{ "host:port": weight }` when weights are used. hashring then
 * gives each server `Math.floor(weight / total * 40 * nservers)` md5 digests of `"<host:port>-<i>"`
 * (`"<host>-<i>"` on port 11211), 4 points each, in doubles, not float32: with 7 equal servers that
 * is 39 digests, not 40, unlike twemproxy (hashring issue #43). Ties keep build order
 * (Array.prototype.sort is stable).
 *
 * A key's hash is the first 4 bytes of md5(key) as a little-endian u32 (hashring's hashValue), over
 * the UTF-8 bytes of the JS string, which are the bytes the client sends. memshift hashes the raw
 * key bytes it received, so any key the npm client can send routes as the client routes it; a key
 * that is not valid UTF-8 (from another client) simply hashes as its bytes.
 *
 * hashring is used only to build the continuum. Its `get()` caches keys in a plain object, so a key
 * such as `__proto__` or `constructor` breaks it (and can pollute Object.prototype); the lookup here
 * is our own binary search, equal to hashring's `find()` (first point >= hash, wrapping to 0).
 *
 * A server's ring string is its node name when set (write there the exact string the application
 * gives the npm client, e.g. "cache-1.internal:11211"), else `host:port`. The npm client also md5s
 * keys longer than 250 characters before sending them but routes on the original key; memshift only
 * sees the md5, so such keys cannot be placed as the client placed them.
 */
import HashRing from 'hashring';
import type { ServerSpec } from '../config/types.js';
import { CONTINUUM_MAX_SERVERS, type Continuum } from './continuum.js';

export type NodeMemcachedServer = Pick<ServerSpec, 'host' | 'port' | 'weight' | 'name'>;

/** What the npm client is given for this server: the node name, else `host:port`. */
export function nodeMemcachedServerString(server: Pick<ServerSpec, 'host' | 'port' | 'name'>): string {
  if (server.name !== undefined && server.name !== '') return server.name;
  return `${server.host}:${server.port}`;
}

interface HashRingNode {
  readonly value: number;
  readonly server: string;
}

/** The continuum npm `memcached` builds for these servers (owner = index in `servers`). */
export function nodeMemcachedContinuum(servers: readonly NodeMemcachedServer[]): Continuum {
  if (servers.length === 0) throw new RangeError('node-memcached: a pool needs at least one server');
  if (servers.length > CONTINUUM_MAX_SERVERS) throw new RangeError(`node-memcached: more than ${CONTINUUM_MAX_SERVERS} servers`);
  const index = new Map<string, number>();
  servers.forEach((server, i) => {
    const s = nodeMemcachedServerString(server);
    if (index.has(s)) throw new RangeError(`node-memcached: server "${s}" is listed twice`);
    index.set(s, i);
  });
  const strings = [...index.keys()];
  // The client passes an array when there are no weights, an object of weights otherwise.
  const weighted = servers.some((s) => s.weight !== 1);
  let args: HashRing.Servers = strings;
  if (weighted) {
    const byServer: Record<string, Partial<HashRing.ServerConfig>> = Object.create(null) as Record<string, never>;
    servers.forEach((server, i) => {
      byServer[strings[i]!] = { weight: server.weight };
    });
    args = byServer;
  }
  const hashRing = new HashRing(args, 'md5', { compatibility: 'ketama', 'default port': 11211 });
  const nodes = (hashRing as unknown as { ring: readonly HashRingNode[] }).ring;
  const values = new Uint32Array(nodes.length);
  const owners = new Uint16Array(nodes.length);
  nodes.forEach((node, i) => {
    const owner = index.get(node.server);
    if (owner === undefined) throw new Error(`node-memcached: hashring returned unknown server "${node.server}"`);
    values[i] = node.value;
    owners[i] = owner;
  });
  for (let i = 1; i < values.length; i++) {
    if (values[i - 1]! > values[i]!) throw new Error('node-memcached: hashring continuum is not sorted');
  }
  return { values, owners };
}
