/**
 * What a migration moves, as its data path (route.ts, phased-route.ts) and its jobs (jobs.ts) ask
 * it: does a key move, and which server owns it before and after. Two kinds answer:
 *
 *   MovedArcs    (arcs.ts)  a pool's server list changes: arcs of the hash space change owner
 *                           between the pool's old ring and its new ring
 *   MovedPrefix  (here)     a route's prefix changes pool: every key the route takes (the longest
 *                           matching prefix, as the route table picks it) moves from the old
 *                           pool's ring to the new pool's; no other key moves
 *
 * `locate(key)` hashes once and gives a location that `moved`, `oldOwner` and `newOwner` read
 * without hashing again: the data path does one lookup per request.
 */
import type { ServerSpec } from '../config/types.js';
import type { Ring, RouteTable } from '../routing/index.js';

export interface MovedKeys {
  /** The servers keys move from, in the old ring's order (`oldOwner` indexes them). */
  readonly oldServers: readonly ServerSpec[];
  /** The servers keys move to, in the new ring's order (`newOwner` indexes them). */
  readonly newServers: readonly ServerSpec[];
  /** The share of the hash space whose owner changes (a prefix: 1, all of the route's keys). */
  readonly movedShare: number;
  /** Where `key` is (after hash_tag and the key hash), for the three below. */
  locate(key: Buffer | Uint8Array): number;
  /** Whether the key at location i lives on another server after the change. */
  moved(i: number): boolean;
  /** Index in `oldServers` of the key's owner before (a MovedPrefix: for a moved key only). */
  oldOwner(i: number): number;
  /** Index in `newServers` of the key's owner after (a MovedPrefix: for a moved key only). */
  newOwner(i: number): number;
  /** The owner of any key the route handles, before the change (index in `oldServers`). */
  oldOwnerOf(key: Buffer): number;
  /** The owner of any key the route handles, after the change (index in `newServers`). */
  newOwnerOf(key: Buffer): number;
  /** Whether a request names a moved key: its hash key, or any key of a multi-key get. */
  movesAny(req: { readonly keys: readonly Buffer[]; readonly hashKey: Buffer | null }): boolean;
  /** Old servers that lose keys, and new servers that gain keys. */
  movingServers(): { losing: ServerSpec[]; gaining: ServerSpec[] };
}

/** Owners are packed in a location as old * 2^15 + new: both must fit 15 bits. */
const OWNER_LIMIT = 1 << 15;

/**
 * The keys of one route (index `route` in the route table) moving from one pool's ring to
 * another's. The two pools may hash differently (hash, distribution, hash_tag): each ring places
 * the key as its pool would. A moved key's location packs both owners (no allocation); any other
 * key's is -1.
 */
export class MovedPrefix implements MovedKeys {
  readonly movedShare = 1;

  constructor(
    readonly routes: RouteTable,
    /** The route's index in the config's `routes`. */
    readonly route: number,
    readonly oldRing: Ring,
    readonly oldServers: readonly ServerSpec[],
    readonly newRing: Ring,
    readonly newServers: readonly ServerSpec[],
  ) {
    if (oldRing.size !== oldServers.length || newRing.size !== newServers.length) throw new RangeError('moved prefix: a ring and its server list differ in size');
    if (oldServers.length > OWNER_LIMIT || newServers.length > OWNER_LIMIT) throw new RangeError(`moved prefix: at most ${OWNER_LIMIT} servers per pool`);
  }

  /** Whether the route table sends `key` to this route. */
  takes(key: Buffer | Uint8Array): boolean {
    return this.routes.routeOf(key) === this.route;
  }

  locate(key: Buffer | Uint8Array): number {
    if (!this.takes(key)) return -1;
    const k = key as Buffer;
    return this.oldRing.ownerOf(k) * OWNER_LIMIT + this.newRing.ownerOf(k);
  }

  moved(i: number): boolean {
    return i >= 0;
  }

  oldOwner(i: number): number {
    return Math.floor(i / OWNER_LIMIT);
  }

  newOwner(i: number): number {
    return i % OWNER_LIMIT;
  }

  oldOwnerOf(key: Buffer): number {
    return this.oldRing.ownerOf(key);
  }

  newOwnerOf(key: Buffer): number {
    return this.newRing.ownerOf(key);
  }

  movesAny(req: { readonly keys: readonly Buffer[]; readonly hashKey: Buffer | null }): boolean {
    const keys = req.keys;
    if (keys.length <= 1) {
      const key = req.hashKey ?? keys[0];
      return key !== undefined && this.takes(key);
    }
    for (let k = 0; k < keys.length; k++) if (this.takes(keys[k]!)) return true;
    return false;
  }

  /** Any server of the old pool may hold the prefix's keys, any of the new pool's may get them. */
  movingServers(): { losing: ServerSpec[]; gaining: ServerSpec[] } {
    return { losing: [...this.oldServers], gaining: [...this.newServers] };
  }
}
