/**
 * twemproxy's ketama continuum (src/hashkit/nc_ketama.c, ketama_update), byte for byte.
 *
 * - Points per server: `floorf((float)(pct * 160 / 4 * (float)nserver + 0.0000000001)) * 4` with
 *   `pct = (float)weight / (float)total_weight`, all in float32: `Math.fround` after every operation.
 *   The float32 rounding is visible: 25, 47, 50, 55… equal servers get 156 points each, not 160,
 *   and some weights lose 4 points too; the same expression in doubles gives 160. (npm hashring's
 *   `weight / total * 40 * n` in doubles is off elsewhere: 156 at n = 7, 14, 28…; issue #43.)
 * - Point names: `"<name>-<i>"` for i in [0, points/4), where `<name>` is the server's configured
 *   node name if any, else `host` when the port is 11211 (libmemcached compatibility), else
 *   `host:port` (nc_conf.c, conf_add_server). snprintf into a 273-byte buffer truncates the name.
 * - Each md5 digest of a point name gives 4 points: little-endian u32s at bytes 0, 4, 8, 12.
 * - Build order: nc_conf.c (conf_validate_server) sorts a pool's servers by name before anything
 *   else (string_compare: shorter name first, then bytes), to reject duplicate names; ketama_update
 *   then walks them in that order. So the continuum is built in name order, not config order, and
 *   since the point sort is stable (see continuum.ts), two servers sharing a point value split
 *   the tie in favour of the name that sorts first. Duplicate names are refused, as nutcracker does.
 * - Sorted; a key hash goes to the first point >= it (ketama_dispatch).
 *
 * Every server counts as live: memshift does not eject hosts from the ring (auto_eject_hosts: false).
 */
import { createHash } from 'node:crypto';
import type { ServerSpec } from '../config/types.js';
import { CONTINUUM_MAX_SERVERS, type Continuum, continuumSort } from './continuum.js';

export const KETAMA_POINTS_PER_SERVER = 160;
export const KETAMA_POINTS_PER_HASH = 4;
/** A server on this port is named by its host alone (CONF_DEFAULT_KETAMA_PORT). */
export const KETAMA_DEFAULT_PORT = 11211;
/** snprintf's buffer for `"<name>-<i>"`, terminating NUL included. */
export const KETAMA_MAX_HOSTLEN = 273;

export type KetamaServer = Pick<ServerSpec, 'host' | 'port' | 'weight' | 'name'>;

/** The `<name>` in a server's point names: node name, else `host` on port 11211, else `host:port`. */
export function ketamaServerName(server: Pick<ServerSpec, 'host' | 'port' | 'name'>): string {
  if (server.name !== undefined && server.name !== '') return server.name;
  return server.port === KETAMA_DEFAULT_PORT ? server.host : `${server.host}:${server.port}`;
}

/** pointer_per_server for each weight, in float32 exactly as ketama_update computes it. */
export function ketamaPointCounts(weights: readonly number[]): number[] {
  const f = Math.fround;
  let total = 0;
  for (const w of weights) {
    if (!Number.isInteger(w) || w <= 0) throw new RangeError(`ketama: weight ${w} is not a positive integer`);
    total += w;
  }
  if (total > 0xffffffff) throw new RangeError(`ketama: total weight ${total} overflows a uint32_t`);
  const nserver = f(weights.length);
  return weights.map((w) => {
    const pct = f(f(w) / f(total));
    const perHashCount = f(f(f(pct * KETAMA_POINTS_PER_SERVER) / 4) * nserver);
    // `+ 0.0000000001` is a double literal: the sum is a double, then cast back to float.
    return f(Math.floor(f(perHashCount + 0.0000000001)) * KETAMA_POINTS_PER_HASH);
  });
}

/** The bytes snprintf writes for `"%.*s-%u"`, truncated to KETAMA_MAX_HOSTLEN - 1 as twemproxy does. */
function pointNameBytes(name: string, index: number): Buffer {
  const bytes = Buffer.from(`${name}-${index}`, 'utf8');
  return bytes.length >= KETAMA_MAX_HOSTLEN ? bytes.subarray(0, KETAMA_MAX_HOSTLEN - 1) : bytes;
}

/**
 * The order nutcracker keeps a pool's servers in: by name, shorter first, then byte by byte
 * (nc_string.c string_compare). Returns indexes into `names`; throws on a duplicate name.
 */
export function ketamaServerOrder(names: readonly string[]): number[] {
  const bytes = names.map((n) => Buffer.from(n, 'utf8'));
  const order = names.map((_, i) => i);
  order.sort((x, y) => {
    const a = bytes[x]!;
    const b = bytes[y]!;
    return a.length !== b.length ? a.length - b.length : Buffer.compare(a, b);
  });
  for (let i = 1; i < order.length; i++) {
    if (bytes[order[i - 1]!]!.equals(bytes[order[i]!]!)) {
      throw new RangeError(`ketama: two servers have the ring name "${names[order[i]!]!}"`);
    }
  }
  return order;
}

/** Builds the sorted continuum (owner = index in `servers`, the config order). */
export function ketamaContinuum(servers: readonly KetamaServer[]): Continuum {
  if (servers.length === 0) throw new RangeError('ketama: a pool needs at least one server');
  if (servers.length > CONTINUUM_MAX_SERVERS) throw new RangeError(`ketama: more than ${CONTINUUM_MAX_SERVERS} servers`);
  const counts = ketamaPointCounts(servers.map((s) => s.weight));
  const names = servers.map(ketamaServerName);
  const values: number[] = [];
  const owners: number[] = [];
  for (const owner of ketamaServerOrder(names)) {
    const name = names[owner]!;
    const hashes = (counts[owner] ?? 0) / KETAMA_POINTS_PER_HASH;
    for (let i = 0; i < hashes; i++) {
      const digest = createHash('md5').update(pointNameBytes(name, i)).digest();
      for (let x = 0; x < KETAMA_POINTS_PER_HASH; x++) {
        values.push(digest.readUInt32LE(x * 4));
        owners.push(owner);
      }
    }
  }
  return continuumSort(values, owners);
}
