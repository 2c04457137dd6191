/**
 * A pool's ring: key bytes in, index into `pool.servers` out. `createRing` applies the pool's
 * hash_tag, key hash and distribution:
 *
 *   ketama          twemproxy's server_pool_idx: one server -> 0 without hashing; hash_tag; an empty
 *                   (hashed part of the) key hashes to 0 (server_pool_hash); ketama_dispatch.
 *   modula          twemproxy's modula_dispatch (ModulaRing): the same steps as ketama, then slot
 *                   `hash % total weight` (modula.ts).
 *   node-memcached  npm memcached 2.2.2: one server -> 0; md5 of the key (pool.hash must be md5);
 *                   hash_tag too when set (a memshift extension: the npm client has none).
 *
 * `ownerOf` is on the proxy's hot path: no allocation, one hash over the key bytes in place, one
 * binary search over typed arrays (modula: one remainder).
 */
import type { DistributionName, PoolConfig } from '../config/types.js';
import { type Continuum, continuumIndex } from './continuum.js';
import { HashTag } from './hash-tag.js';
import { KEY_HASHES, type KeyHash, type TwemproxyHashName } from './hash.js';
import { hashFnv1a64 } from './hashkit/fnv.js';
import { hashMd5 } from './hashkit/md5.js';
import { ketamaContinuum } from './ketama.js';
import { modulaContinuum, modulaPoint, modulaSlots } from './modula.js';
import { nodeMemcachedContinuum } from './node-memcached.js';

export interface Ring {
  /** Number of servers in the pool; `ownerOf` returns an index in [0, size). */
  readonly size: number;
  /** Index into `pool.servers` of the server that owns `key`. */
  ownerOf(key: Buffer): number;
}

export interface ContinuumRingOptions {
  readonly distribution: DistributionName;
  readonly hash: TwemproxyHashName;
  readonly hashTag?: string | undefined;
  readonly size: number;
  readonly continuum: Continuum;
}

// Hash ids let ownerOf call the two common hashes directly (inlinable), the rest through the table.
const HASH_OTHER = 0;
const HASH_MD5 = 1;
const HASH_FNV1A_64 = 2;

export class ContinuumRing implements Ring {
  readonly size: number;
  readonly distribution: DistributionName;
  readonly hash: TwemproxyHashName;
  readonly hashTag: string | undefined;
  /** The sorted points and their owners (read-only by contract: the ring uses them in place). */
  readonly continuum: Continuum;
  readonly #values: Uint32Array;
  readonly #owners: Uint16Array;
  readonly #hashFn: KeyHash;
  readonly #hashId: number;
  readonly #tag: HashTag | null;
  readonly #emptyHashesToZero: boolean;

  constructor(options: ContinuumRingOptions) {
    if (options.continuum.values.length === 0) throw new RangeError('ring: empty continuum');
    this.size = options.size;
    this.distribution = options.distribution;
    this.hash = options.hash;
    this.hashTag = options.hashTag;
    this.continuum = options.continuum;
    this.#values = options.continuum.values;
    this.#owners = options.continuum.owners;
    this.#hashFn = KEY_HASHES[options.hash];
    this.#hashId = options.hash === 'md5' ? HASH_MD5 : options.hash === 'fnv1a_64' ? HASH_FNV1A_64 : HASH_OTHER;
    this.#tag = options.hashTag === undefined || options.hashTag === '' ? null : new HashTag(options.hashTag);
    // twemproxy's server_pool_hash (ketama and modula); npm memcached md5s an empty key like any other.
    this.#emptyHashesToZero = options.distribution !== 'node-memcached';
  }

  /** Number of points on the continuum. */
  get points(): number {
    return this.#values.length;
  }

  ownerOf(key: Buffer | Uint8Array): number {
    if (this.size === 1) return 0;
    return this.#owners[continuumIndex(this.#values, this.keyHashOf(key))]!;
  }

  /**
   * The point `ownerOf` looks up on the continuum for `key`: `owners[continuumIndex(values, hashOf(key))]`
   * is its owner. For ketama and node-memcached it is the key hash itself; modula maps it (ModulaRing).
   */
  hashOf(key: Buffer | Uint8Array): number {
    return this.keyHashOf(key);
  }

  /** The key hash, as twemproxy computes it: the pool's hash over the key (after hash_tag). */
  keyHashOf(key: Buffer | Uint8Array): number {
    let start = 0;
    let end = key.length;
    const tag = this.#tag;
    if (tag !== null) {
      tag.locate(key);
      start = tag.start;
      end = tag.end;
    }
    if (end === start && this.#emptyHashesToZero) return 0;
    switch (this.#hashId) {
      case HASH_FNV1A_64:
        return hashFnv1a64(key, start, end);
      case HASH_MD5:
        return hashMd5(key, start, end);
      default:
        return this.#hashFn(key, start, end);
    }
  }
}

/**
 * twemproxy's modula: slot `keyHash % N` of the pool's N = total weight slots (modula.ts). `ownerOf`
 * reads the slot directly; the continuum and `hashOf` are modula.ts's exact equivalent of the slots
 * on the 32-bit circle, for the tools that read rings as continua.
 */
export class ModulaRing extends ContinuumRing {
  /** `slots[i]`: the index in `pool.servers` of slot i's server (read-only by contract). */
  readonly slots: Uint16Array;
  readonly #n: number;

  constructor(options: Omit<ContinuumRingOptions, 'continuum' | 'distribution'>, slots: Uint16Array) {
    super({ ...options, distribution: 'modula', continuum: modulaContinuum(slots) });
    this.slots = slots;
    this.#n = slots.length;
  }

  override ownerOf(key: Buffer | Uint8Array): number {
    if (this.size === 1) return 0;
    return this.slots[this.keyHashOf(key) % this.#n]!;
  }

  override hashOf(key: Buffer | Uint8Array): number {
    return modulaPoint(this.keyHashOf(key), this.#n);
  }
}

/** What a ring needs from a pool (PoolConfig fits; `hash` may be any twemproxy hash). */
export interface RingSpec {
  readonly name?: string;
  readonly servers: PoolConfig['servers'];
  readonly hash: TwemproxyHashName;
  readonly distribution: DistributionName;
  readonly hashTag?: string | undefined;
}

/** Builds the ring for a pool: its hash_tag, hash and distribution. Throws on an unusable pool. */
export function createRing(pool: RingSpec): ContinuumRing {
  const label = pool.name === undefined ? 'pool' : `pool "${pool.name}"`;
  if (pool.servers.length === 0) throw new RangeError(`${label}: no servers`);
  if (!Object.hasOwn(KEY_HASHES, pool.hash)) throw new RangeError(`${label}: unknown hash "${pool.hash}"`);
  switch (pool.distribution) {
    case 'ketama':
      return new ContinuumRing({ ...ringOptions(pool), continuum: ketamaContinuum(pool.servers) });
    case 'modula':
      return new ModulaRing(ringOptions(pool), modulaSlots(pool.servers));
    case 'node-memcached':
      if (pool.hash !== 'md5') {
        throw new RangeError(`${label}: the node-memcached distribution hashes keys with md5 (as npm memcached does), not "${pool.hash}"`);
      }
      return new ContinuumRing({ ...ringOptions(pool), continuum: nodeMemcachedContinuum(pool.servers) });
    default:
      throw new RangeError(`${label}: unknown distribution "${String(pool.distribution)}"`);
  }
}

function ringOptions(pool: RingSpec): Omit<ContinuumRingOptions, 'continuum'> {
  return { distribution: pool.distribution, hash: pool.hash, hashTag: pool.hashTag, size: pool.servers.length };
}
