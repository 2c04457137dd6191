/**
 * Prefix routes: a key goes to the pool of the longest route prefix it starts with, else to the
 * default pool (as mcrouter's PrefixSelectorRoute). Prefixes and keys are compared as bytes; a
 * prefix given as a string is its UTF-8 bytes. Keys never become object properties: routes are
 * bucketed by first byte in an array, longest first, so a lookup compares a few prefixes in place.
 * An empty prefix matches every key (it overrides the default pool).
 */

export interface PrefixRoute {
  readonly prefix: string | Uint8Array;
  /** Pool id (index in Router.pools). */
  readonly pool: number;
}

interface Entry {
  readonly prefix: Uint8Array;
  readonly pool: number;
}

export class RouteTable {
  readonly defaultPool: number;
  /** `byFirstByte[b]`: routes whose prefix starts with byte b, longest prefix first. */
  readonly #byFirstByte: (readonly Entry[] | undefined)[];
  /** Pool of the empty prefix, or the default pool. */
  readonly #fallback: number;
  readonly #size: number;

  constructor(routes: readonly PrefixRoute[], defaultPool: number) {
    this.defaultPool = defaultPool;
    const buckets: Entry[][] = [];
    let fallback = defaultPool;
    const seen: Uint8Array[] = [];
    for (const route of routes) {
      const prefix = typeof route.prefix === 'string' ? Buffer.from(route.prefix, 'utf8') : Uint8Array.from(route.prefix);
      if (seen.some((p) => sameBytes(p, prefix))) {
        throw new RangeError(`route prefix "${Buffer.from(prefix).toString('utf8')}" is listed twice`);
      }
      seen.push(prefix);
      if (prefix.length === 0) {
        fallback = route.pool;
        continue;
      }
      (buckets[prefix[0]!] ??= []).push({ prefix, pool: route.pool });
    }
    this.#byFirstByte = [];
    for (let b = 0; b < 256; b++) {
      const bucket = buckets[b];
      // Stable sort: longest first; equal lengths cannot both match one key unless equal (refused above).
      this.#byFirstByte.push(bucket === undefined ? undefined : bucket.sort((x, y) => y.prefix.length - x.prefix.length));
    }
    this.#fallback = fallback;
    this.#size = seen.length;
  }

  /** Number of routes. */
  get size(): number {
    return this.#size;
  }

  /** Pool id for a key: the longest matching prefix's pool, else the default pool. */
  lookup(key: Uint8Array): number {
    if (key.length === 0) return this.#fallback;
    const bucket = this.#byFirstByte[key[0]!];
    if (bucket !== undefined) {
      for (let r = 0; r < bucket.length; r++) {
        const entry = bucket[r]!;
        if (startsWith(key, entry.prefix)) return entry.pool;
      }
    }
    return this.#fallback;
  }
}

/** Whether key starts with prefix; byte 0 already matched (the bucket). */
function startsWith(key: Uint8Array, prefix: Uint8Array): boolean {
  const n = prefix.length;
  if (key.length < n) return false;
  for (let i = 1; i < n; i++) if (key[i] !== prefix[i]) return false;
  return true;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
