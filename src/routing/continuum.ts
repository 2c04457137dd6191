/**
 * A continuum: the sorted points of a consistent-hash ring and the server that owns each point, as
 * twemproxy's `struct continuum { index, value }` array (src/hashkit/nc_ketama.c), but as two typed
 * arrays so a lookup touches no object.
 *
 * Sorting: twemproxy qsorts with a comparator that returns 0 for equal values. glibc's qsort is a
 * merge sort (stable) in every released version, so points with the same value keep their build
 * order: the lower server index first. npm `hashring` sorts with Array.prototype.sort, stable in V8
 * too. So ties are broken by build order here, and the lookup (first point >= hash) then picks the
 * first of the tied points, like ketama_dispatch. (musl's qsort is not stable; a nutcracker built on
 * musl could break a tie the other way.)
 */

export interface Continuum {
  /** Point values, ascending. */
  readonly values: Uint32Array;
  /** `owners[i]` is the index, in the pool's server list, of the server that owns `values[i]`. */
  readonly owners: Uint16Array;
}

/** Largest number of points a continuum may hold (the build packs the point index into 21 bits). */
export const CONTINUUM_MAX_POINTS = 1 << 21;
/** Largest number of servers (the owner index is a u16). */
export const CONTINUUM_MAX_SERVERS = 0x10000;

/**
 * Sorts points given in build order into a Continuum, stably (ties keep build order).
 * `values[i]` and `owners[i]` describe the i-th point built.
 */
export function continuumSort(values: ArrayLike<number>, owners: ArrayLike<number>): Continuum {
  const n = values.length;
  if (n !== owners.length) throw new RangeError('continuum: values and owners differ in length');
  if (n > CONTINUUM_MAX_POINTS) throw new RangeError(`continuum: ${n} points, at most ${CONTINUUM_MAX_POINTS}`);
  // value * 2^21 + build index is below 2^53: a plain numeric sort of these keys is a stable sort by value.
  const keys = new Float64Array(n);
  for (let i = 0; i < n; i++) keys[i] = (values[i]! >>> 0) * CONTINUUM_MAX_POINTS + i;
  keys.sort();
  const sortedValues = new Uint32Array(n);
  const sortedOwners = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const key = keys[i]!;
    const at = key % CONTINUUM_MAX_POINTS;
    sortedValues[i] = (key - at) / CONTINUUM_MAX_POINTS;
    sortedOwners[i] = owners[at]!;
  }
  return { values: sortedValues, owners: sortedOwners };
}

/**
 * ketama_dispatch: the owner of the first point >= hash, wrapping to the first point past the last.
 * The continuum must not be empty.
 */
export function continuumDispatch(values: Uint32Array, owners: Uint16Array, hash: number): number {
  return owners[continuumIndex(values, hash)]!;
}

/** The index of the point a hash lands on: the first point >= hash, or 0 past the last point. */
export function continuumIndex(values: Uint32Array, hash: number): number {
  let left = 0;
  let right = values.length;
  while (left < right) {
    const middle = (left + right) >>> 1;
    if (values[middle]! < hash) left = middle + 1;
    else right = middle;
  }
  return right === values.length ? 0 : right;
}
