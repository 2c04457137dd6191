/**
 * Which keys move when a pool's server list changes. The old and the new continuum are merged once
 * into one sorted list of boundaries (the union of both rings' point values); between two
 * consecutive boundaries neither ring has a point, so every hash in the arc (b[i-1], b[i]] (and,
 * for boundary 0, the wrap past the last boundary) has one owner on each ring:
 *
 *   boundaries  ...   b[i-1]          b[i]          b[i+1] ...
 *   oldOwners          A               A              B
 *   newOwners          A               C              B
 *   movedFlags         0               1              0        arc (b[i-1], b[i]] moves A -> C
 *
 * The owner of boundary i on a ring is what `continuumIndex` gives there for a hash equal to b[i]
 * (the first point >= hash, wrapping to point 0), so `oldOwner(indexOf(h))` is exactly
 * `oldRing.ownerOf` for any key hashing to h, and the same for the new ring.
 *
 * Servers are matched by address, not by index: old [A, B] -> new [A, B, C] keeps A's keys on A.
 * Addresses compare case-insensitively (as the config's duplicate check does).
 *
 * `indexOf`, `locate`, `oldOwner`, `newOwner` and `moved` are on the proxy's hot path during a
 * migration: no allocation, one hash, one binary search over a typed array, array reads.
 */
import type { ServerSpec } from '../config/types.js';
import { type ContinuumRing, continuumIndex } from '../routing/index.js';
import type { MovedKeys } from './moved-keys.js';

const HASH_SPACE = 2 ** 32;

/** A part of the hash space that moves from one server address to another. */
export interface MovedShare {
  readonly from: string;
  readonly to: string;
  /** Fraction of the 2^32 hashes, in [0, 1]. */
  readonly share: number;
}

/** A part of the hash space owned by old server `from` and new server `to` (indexes), moved or not. */
export interface ArcFlow {
  readonly from: number;
  readonly to: number;
  readonly share: number;
}

export class MovedArcs implements MovedKeys {
  readonly oldRing: ContinuumRing;
  readonly newRing: ContinuumRing;
  readonly oldServers: readonly ServerSpec[];
  readonly newServers: readonly ServerSpec[];
  /** The union of both rings' point values, ascending, without duplicates (read-only by contract). */
  readonly boundaries: Uint32Array;
  /** Per boundary, the owner's index in `oldServers`. */
  readonly oldOwners: Uint16Array;
  /** Per boundary, the owner's index in `newServers`. */
  readonly newOwners: Uint16Array;
  /** Per boundary, 1 when the old and the new owner have different addresses. */
  readonly movedFlags: Uint8Array;
  /** Fraction of the hash space whose owner changes, in [0, 1]. */
  readonly movedShare: number;

  private constructor(
    oldRing: ContinuumRing,
    oldServers: readonly ServerSpec[],
    newRing: ContinuumRing,
    newServers: readonly ServerSpec[],
    merged: { boundaries: Uint32Array; oldOwners: Uint16Array; newOwners: Uint16Array; movedFlags: Uint8Array },
  ) {
    this.oldRing = oldRing;
    this.newRing = newRing;
    this.oldServers = oldServers;
    this.newServers = newServers;
    this.boundaries = merged.boundaries;
    this.oldOwners = merged.oldOwners;
    this.newOwners = merged.newOwners;
    this.movedFlags = merged.movedFlags;
    let moved = 0;
    for (let i = 0; i < this.boundaries.length; i++) if (this.movedFlags[i] === 1) moved += this.arcLength(i);
    this.movedShare = moved / HASH_SPACE;
  }

  /**
   * Merges the two rings' continua. Both rings must hash keys the same way (hash, distribution,
   * hash_tag) and be built from `oldServers` and `newServers` respectively.
   */
  static between(oldRing: ContinuumRing, oldServers: readonly ServerSpec[], newRing: ContinuumRing, newServers: readonly ServerSpec[]): MovedArcs {
    const tag = (r: ContinuumRing): string => r.hashTag ?? '';
    if (oldRing.hash !== newRing.hash || oldRing.distribution !== newRing.distribution || tag(oldRing) !== tag(newRing)) {
      const describe = (r: ContinuumRing): string => `hash ${r.hash}, distribution ${r.distribution}, hash_tag ${JSON.stringify(tag(r))}`;
      throw new RangeError(`moved arcs: the rings hash keys differently (${describe(oldRing)} vs ${describe(newRing)})`);
    }
    if (oldRing.distribution === 'modula' && oldRing.continuum.values.length !== newRing.continuum.values.length) {
      // Each ring maps hashes onto its own slot layout (h % total weight): arcs of two of them do not line up.
      throw new RangeError(`moved arcs: a modula pool whose total weight changes (${oldRing.continuum.values.length} -> ${newRing.continuum.values.length}) moves nearly every key (a key's slot is its hash % the total weight); keep the total weight, or use ketama`);
    }
    if (oldRing.size !== oldServers.length) throw new RangeError(`moved arcs: the old ring has ${oldRing.size} servers, the old list ${oldServers.length}`);
    if (newRing.size !== newServers.length) throw new RangeError(`moved arcs: the new ring has ${newRing.size} servers, the new list ${newServers.length}`);
    return new MovedArcs(oldRing, oldServers, newRing, newServers, merge(oldRing, oldServers, newRing, newServers));
  }

  /** Number of boundaries (arcs). */
  get size(): number {
    return this.boundaries.length;
  }

  /** The arc a hash falls in: the first boundary >= hash, wrapping to 0. */
  indexOf(hash: number): number {
    return continuumIndex(this.boundaries, hash);
  }

  /** The arc `key` falls in (after hash_tag and the key hash, as both rings hash it). */
  locate(key: Buffer | Uint8Array): number {
    return continuumIndex(this.boundaries, this.newRing.hashOf(key));
  }

  /** Index in `oldServers` of arc i's owner. */
  oldOwner(i: number): number {
    return this.oldOwners[i]!;
  }

  /** Index in `newServers` of arc i's owner. */
  newOwner(i: number): number {
    return this.newOwners[i]!;
  }

  /** Whether arc i's keys live on another address after the change. */
  moved(i: number): boolean {
    return this.movedFlags[i] === 1;
  }

  /** `oldRing.ownerOf`: the same as `oldOwner(locate(key))`. */
  oldOwnerOf(key: Buffer): number {
    return this.oldRing.ownerOf(key);
  }

  /** `newRing.ownerOf`: the same as `newOwner(locate(key))`. */
  newOwnerOf(key: Buffer): number {
    return this.newRing.ownerOf(key);
  }

  /** Old servers that lose keys, and new servers that gain keys (in ring order). */
  movingServers(): { losing: ServerSpec[]; gaining: ServerSpec[] } {
    const losing = new Set<number>();
    const gaining = new Set<number>();
    for (let i = 0; i < this.size; i++) {
      if (!this.moved(i)) continue;
      losing.add(this.oldOwner(i));
      gaining.add(this.newOwner(i));
    }
    return { losing: [...losing].sort((a, b) => a - b).map((i) => this.oldServers[i]!), gaining: [...gaining].sort((a, b) => a - b).map((i) => this.newServers[i]!) };
  }

  /** Whether a request names a key on a moved arc: its hash key, or any key of a multi-key get. */
  movesAny(req: { readonly keys: readonly Buffer[]; readonly hashKey: Buffer | null }): boolean {
    const keys = req.keys;
    if (keys.length <= 1) {
      const key = req.hashKey ?? keys[0];
      return key !== undefined && this.moved(this.locate(key));
    }
    for (let k = 0; k < keys.length; k++) if (this.moved(this.locate(keys[k]!))) return true;
    return false;
  }

  /** How many of the 2^32 hashes arc i holds: (b[i-1], b[i]], and for i = 0 also the wrap. */
  arcLength(i: number): number {
    const b = this.boundaries;
    return i === 0 ? b[0]! + HASH_SPACE - b[b.length - 1]! : b[i]! - b[i - 1]!;
  }

  /**
   * Every (old owner, new owner) pair and the share of the hash space it holds, moved or not,
   * ordered by old index then new index. Exact: sums of arc lengths.
   */
  flows(): ArcFlow[] {
    const m = this.newServers.length;
    const owned = new Map<number, number>();
    for (let i = 0; i < this.boundaries.length; i++) {
      const pair = this.oldOwners[i]! * m + this.newOwners[i]!;
      owned.set(pair, (owned.get(pair) ?? 0) + this.arcLength(i));
    }
    return [...owned.entries()]
      .sort((a, b) => a[0] - b[0])
      .map(([pair, length]) => ({ from: Math.floor(pair / m), to: pair % m, share: length / HASH_SPACE }));
  }

  /** The share of the hash space moving from each old address to each new address (moved pairs only). */
  shares(): MovedShare[] {
    return this.flows()
      .filter((f) => sameAddress(this.oldServers[f.from]!, this.newServers[f.to]!) === false)
      .map((f) => ({ from: this.oldServers[f.from]!.address, to: this.newServers[f.to]!.address, share: f.share }));
  }

  /** Each old server's share of the hash space on the old ring (by index in `oldServers`). */
  oldShares(): number[] {
    return this.#ownedShares(this.oldOwners, this.oldServers.length);
  }

  /** Each new server's share of the hash space on the new ring (by index in `newServers`). */
  newShares(): number[] {
    return this.#ownedShares(this.newOwners, this.newServers.length);
  }

  #ownedShares(owners: Uint16Array, n: number): number[] {
    const owned = new Array<number>(n).fill(0);
    for (let i = 0; i < owners.length; i++) owned[owners[i]!] = (owned[owners[i]!] ?? 0) + this.arcLength(i);
    return owned.map((o) => o / HASH_SPACE);
  }
}

function sameAddress(a: ServerSpec, b: ServerSpec): boolean {
  return a.address.toLowerCase() === b.address.toLowerCase();
}

/**
 * One pass over both sorted continua. `i` and `j` always point at the first point of each ring
 * >= the current boundary (so their owner is continuumIndex's answer), or past the end (wrap to 0).
 */
function merge(oldRing: ContinuumRing, oldServers: readonly ServerSpec[], newRing: ContinuumRing, newServers: readonly ServerSpec[]) {
  const a = oldRing.continuum;
  const b = newRing.continuum;
  const n = a.values.length;
  const m = b.values.length;
  const values = new Uint32Array(n + m);
  const oldOwners = new Uint16Array(n + m);
  const newOwners = new Uint16Array(n + m);
  // A one-server ring owns everything (ring.ownerOf skips the lookup): its owner is always 0.
  const oldSingle = oldRing.size === 1;
  const newSingle = newRing.size === 1;
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < n || j < m) {
    const v = i >= n ? b.values[j]! : j >= m ? a.values[i]! : Math.min(a.values[i]!, b.values[j]!);
    values[k] = v;
    oldOwners[k] = oldSingle ? 0 : a.owners[i < n ? i : 0]!;
    newOwners[k] = newSingle ? 0 : b.owners[j < m ? j : 0]!;
    k++;
    while (i < n && a.values[i] === v) i++;
    while (j < m && b.values[j] === v) j++;
  }
  // Which new index, if any, has each old server's address.
  const byAddress = new Map<string, number>();
  newServers.forEach((s, x) => byAddress.set(s.address.toLowerCase(), x));
  const sameAt = Int32Array.from(oldServers, (s) => byAddress.get(s.address.toLowerCase()) ?? -1);
  const movedFlags = new Uint8Array(k);
  for (let x = 0; x < k; x++) movedFlags[x] = sameAt[oldOwners[x]!] === newOwners[x] ? 0 : 1;
  return { boundaries: values.slice(0, k), oldOwners: oldOwners.slice(0, k), newOwners: newOwners.slice(0, k), movedFlags };
}
