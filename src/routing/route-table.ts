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
  /** The route's index in the list given (routeOf). */
  readonly index: number;
}

export class RouteTable {
  readonly defaultPool: number;
  /** `byFirstByte[b]`: routes whose prefix starts with byte b, longest prefix first. */
  readonly #byFirstByte: (readonly Entry[] | undefined)[];
  /** Pool of the empty prefix, or the default pool. */
  readonly #fallback: number;
  /** Index of the empty prefix's route, or -1 (the default pool). */
  readonly #fallbackRoute: number;
  readonly #size: number;

  constructor(routes: readonly PrefixRoute[], defaultPool: number) {
    this.defaultPool = defaultPool;
    const buckets: Entry[][] = [];
    let fallback = defaultPool;
    let fallbackRoute = -1;
    const seen: Uint8Array[] = [];
    for (const [index, route] of routes.entries()) {
      const prefix = typeof route.prefix === 'string' ? Buffer.from(route.prefix, 'utf8') : Uint8Array.from(route.prefix);
      if (seen.some((p) => sameBytes(p, prefix))) {
        throw new RangeError(`route prefix "${Buffer.from(prefix).toString('utf8')}" is listed twice`);
      }
      seen.push(prefix);
      if (prefix.length === 0) {
        fallback = route.pool;
        fallbackRoute = index;
        continue;
      }
      (buckets[prefix[0]!] ??= []).push({ prefix, pool: route.pool, index });
    }
    this.#byFirstByte = [];
    for (let b = 0; b < 256; b++) {
      const bucket = buckets[b];
      // Stable sort: longest first; equal lengths cannot both match one key unless equal (refused above).
      this.#byFirstByte.push(bucket === undefined ? undefined : bucket.sort((x, y) => y.prefix.length - x.prefix.length));
    }
    this.#fallback = fallback;
    this.#fallbackRoute = fallbackRoute;
    this.#size = seen.length;
  }

  /** Number of routes. */
  get size(): number {
    return this.#size;
  }

  /** Pool id for a key: the longest matching prefix's pool, else the default pool. */
  lookup(key: Uint8Array): number {
    const entry = this.#match(key);
    return entry === null ? this.#fallback : entry.pool;
  }

  /** The index (in the list given) of the route that takes `key`, or -1 for the default pool. */
  routeOf(key: Uint8Array): number {
    const entry = this.#match(key);
    return entry === null ? this.#fallbackRoute : entry.index;
  }

  /** The longest matching prefix's entry, or null. */
  #match(key: Uint8Array): Entry | null {
    if (key.length === 0) return null;
    const bucket = this.#byFirstByte[key[0]!];
    if (bucket !== undefined) {
      for (let r = 0; r < bucket.length; r++) {
        const entry = bucket[r]!;
        if (startsWith(key, entry.prefix)) return entry;
      }
    }
    return null;
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
