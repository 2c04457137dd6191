/**
 * twemproxy's modula distribution (src/hashkit/nc_modula.c, modula_update and modula_dispatch), slot
 * for slot:
 *
 * - The "continuum" is one slot per unit of weight: for each server in the pool's server order,
 *   `weight` slots that name it. N = the total weight. A key goes to slot `hash % N`.
 * - The pool's server order is nutcracker's, not the config's: nc_conf.c (conf_validate_server)
 *   sorts a pool's servers by name (shorter first, then bytes), where the name is the node name if
 *   given, else `host` on port 11211, else `host:port`, exactly as for ketama (ketama.ts). So
 *   servers ["b:1", "a:2"] give the slots [a, a, b], whatever order the config lists them in.
 * - server_pool_idx skips hashing for a one-server pool (slot 0), and server_pool_hash hashes an
 *   empty key (or an empty hash_tag part) to 0. ContinuumRing does both.
 * - twemproxy skips ejected servers when it rebuilds the slots (auto_eject_hosts); memshift never
 *   ejects a server from a ring, so every server always keeps its slots (as with auto_eject_hosts:
 *   false, twemproxy's default). A dead server's keys fail rather than move.
 *
 * memshift's tools read a ring as a sorted continuum (`memshift check` reads each server's share off
 * it, migrations merge two of them), so a modula ring also has one: the bijection `modulaPoint`
 * sorts the 2^32 key hashes by slot (slot r's hashes, in order, fill one contiguous arc whose length
 * is the number of hashes h with h % N = r), and the continuum has one point per slot, at the end of
 * its arc. So `owners[continuumIndex(values, modulaPoint(h))]` is `slots[h % N]` for every h, and
 * arc lengths are exact shares. Two modula rings with the same N share the bijection, so the arcs
 * between them (src/migration/arcs.ts) are exact too; rings with different N do not (changing N
 * moves nearly every key, which a continuum merge cannot express), and the config refuses such a
 * migration.
 */
import { MODULA_MAX_SLOTS, type ServerSpec } from '../config/types.js';
import { CONTINUUM_MAX_SERVERS, type Continuum } from './continuum.js';
import { ketamaServerName, ketamaServerOrder } from './ketama.js';

export type ModulaServer = Pick<ServerSpec, 'host' | 'port' | 'weight' | 'name'>;

const HASH_SPACE = 2 ** 32;

/** The slots of a modula pool: `slots[i]` is the index in `servers` (config order) of slot i's server. */
export function modulaSlots(servers: readonly ModulaServer[]): Uint16Array {
  if (servers.length === 0) throw new RangeError('modula: a pool needs at least one server');
  if (servers.length > CONTINUUM_MAX_SERVERS) throw new RangeError(`modula: more than ${CONTINUUM_MAX_SERVERS} servers`);
  let total = 0;
  for (const s of servers) {
    if (!Number.isInteger(s.weight) || s.weight <= 0) throw new RangeError(`modula: weight ${s.weight} is not a positive integer`);
    total += s.weight;
  }
  if (total > MODULA_MAX_SLOTS) throw new RangeError(`modula: total weight ${total} is over ${MODULA_MAX_SLOTS}`);
  const slots = new Uint16Array(total);
  let at = 0;
  for (const owner of ketamaServerOrder(servers.map(ketamaServerName))) {
    const weight = servers[owner]!.weight;
    slots.fill(owner, at, at + weight);
    at += weight;
  }
  return slots;
}

/**
 * Where hash `h` lies on a modula ring of `n` slots: slot r = h % n's arc starts after the arcs of
 * slots 0..r-1, and h is the (h / n)-th hash of its slot. A bijection of [0, 2^32) onto itself.
 */
export function modulaPoint(h: number, n: number): number {
  const q = Math.floor(h / n);
  const r = h - q * n;
  const base = Math.floor(HASH_SPACE / n);
  const extra = HASH_SPACE - base * n;
  return r * base + (r < extra ? r : extra) + q;
}

/** The continuum of a modula ring: one point per slot, at the last hash of its arc (see the header). */
export function modulaContinuum(slots: Uint16Array): Continuum {
  const n = slots.length;
  if (n === 0) throw new RangeError('modula: no slots');
  const values = new Uint32Array(n);
  // Slot i's last hash is the point of the largest h < 2^32 with h % n = i.
  for (let i = 0; i < n; i++) {
    const lastQ = Math.floor((HASH_SPACE - 1 - i) / n);
    values[i] = modulaPoint(lastQ * n + i, n);
  }
  return { values, owners: Uint16Array.from(slots) };
}
