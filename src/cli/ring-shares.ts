/**
 * How a pool's hash space is split between its servers, read exactly off the ring's continuum:
 * a key whose hash h lands on point i (the first point >= h, wrapping to point 0) belongs to
 * `owners[i]`, so point i owns the arc (values[i-1], values[i]] and point 0 also owns the wrap
 * (values[n-1], 2^32). Shares are exact fractions of the 2^32 hashes, not samples.
 */
import type { PoolConfig } from '../config/types.js';
import { createRing } from '../routing/index.js';

export interface ServerShare {
  /** Points this server has on the continuum. */
  readonly points: number;
  /** Fraction of the 32-bit hash space that maps to this server, in [0, 1]. */
  readonly share: number;
}

const HASH_SPACE = 2 ** 32;

export function ringShares(pool: PoolConfig): ServerShare[] {
  const { values, owners } = createRing(pool).continuum;
  const points = new Array<number>(pool.servers.length).fill(0);
  const owned = new Array<number>(pool.servers.length).fill(0);
  const n = values.length;
  for (let i = 0; i < n; i++) {
    const owner = owners[i]!;
    const value = values[i]!;
    const arc = i === 0 ? value + HASH_SPACE - values[n - 1]! : value - values[i - 1]!;
    points[owner] = (points[owner] ?? 0) + 1;
    owned[owner] = (owned[owner] ?? 0) + arc;
  }
  // A one-server pool skips the ring entirely: the server gets every key.
  if (pool.servers.length === 1) return [{ points: points[0] ?? 0, share: 1 }];
  return points.map((p, i) => ({ points: p, share: (owned[i] ?? 0) / HASH_SPACE }));
}
