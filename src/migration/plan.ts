/**
 * The migration plan, before anything is copied: which part of the hash space moves from each old
 * server to each new one when a pool's server list changes (exact, from MovedArcs), and roughly how
 * many items and bytes that is, from each old server's `stats`, and how long copying takes. (A
 * rebalance, from measured load, is rebalance.ts.)
 *
 * Estimates assume a server's items, bytes and traffic are spread evenly over the hash space it
 * owns, so a fraction f of its share carries f of its items, bytes and ops. Pure: the stats come in
 * as maps; `memshift plan` (src/cli/plan.ts) reads them from the servers.
 */
import type { PoolConfig, ServerSpec } from '../config/types.js';
import { createRing } from '../routing/index.js';
import { MovedArcs } from './arcs.js';

/** A server's `stats` as `STAT name value` pairs; null when it did not answer. */
export type ServerStats = ReadonlyMap<string, string> | null;

/** How a pool hashes keys: a PoolConfig fits. */
export type RingSettings = Pick<PoolConfig, 'name' | 'hash' | 'distribution' | 'hashTag'>;

/** Builds both rings with the pool's hash settings and merges them. */
export function movedArcs(pool: RingSettings, oldServers: readonly ServerSpec[], newServers: readonly ServerSpec[]): MovedArcs {
  const settings = { name: pool.name, hash: pool.hash, distribution: pool.distribution, hashTag: pool.hashTag };
  const oldRing = createRing({ ...settings, servers: oldServers });
  const newRing = createRing({ ...settings, servers: newServers });
  return MovedArcs.between(oldRing, oldServers, newRing, newServers);
}

/** A `stats` counter as a number; null when missing or not a non-negative number. */
export function statNumber(stats: ServerStats | undefined, name: string): number | null {
  const text = stats?.get(name);
  if (text === undefined || !/^\d+(\.\d+)?$/.test(text)) return null;
  return Number(text);
}

// ---- planMigration ----

export interface PlanInput {
  readonly oldServers: readonly ServerSpec[];
  readonly newServers: readonly ServerSpec[];
  readonly pool: RingSettings;
  /** The replica group planned (default: the pool's name, as for a plain pool). */
  readonly group?: string;
  /** `stats` of each old server by address; missing or null: unknown. */
  readonly stats: ReadonlyMap<string, ServerStats>;
  readonly rateKeysPerSec: number;
}

/** One moved pair: its share of the hash space and the items and bytes estimated to go with it. */
export interface PlanMove {
  readonly from: string;
  readonly to: string;
  readonly share: number;
  /** Estimated items; null when `from` gave no stats. */
  readonly items: number | null;
  readonly bytes: number | null;
}

export interface PlanReport {
  readonly pool: string;
  readonly group: string;
  readonly hash: string;
  readonly distribution: string;
  readonly hashTag: string | null;
  /** The old and the new server lists, as written. */
  readonly from: readonly string[];
  readonly to: readonly string[];
  readonly moves: readonly PlanMove[];
  /** Fraction of the hash space that moves, in [0, 1]. */
  readonly movedShare: number;
  /** Totals over the moves; null when a server with moving keys gave no stats. */
  readonly items: number | null;
  readonly bytes: number | null;
  readonly rateKeysPerSec: number;
  /** Estimated T_copy: items / rate, in seconds. */
  readonly copySeconds: number | null;
  /** Old servers with moving keys whose stats are unknown. */
  readonly unknown: readonly string[];
}

export function planMigration(input: PlanInput): PlanReport {
  const { oldServers, newServers, pool } = input;
  const arcs = movedArcs(pool, oldServers, newServers);
  const oldShares = arcs.oldShares();
  const shareOf = new Map(oldServers.map((s, i) => [s.address, oldShares[i] ?? 0]));
  /** What fraction `share` of the hash space is of `from`'s items (or bytes). */
  const estimate = (from: string, share: number, stat: string): number | null => {
    const total = statNumber(input.stats.get(from), stat);
    const owned = shareOf.get(from) ?? 0;
    if (total === null) return null;
    return owned > 0 ? Math.round((total * share) / owned) : 0;
  };
  const moves = arcs.shares().map((m) => ({ ...m, items: estimate(m.from, m.share, 'curr_items'), bytes: estimate(m.from, m.share, 'bytes') }));
  const sum = (values: (number | null)[]): number | null => (values.some((v) => v === null) ? null : values.reduce<number>((t, v) => t + (v ?? 0), 0));
  const items = sum(moves.map((m) => m.items));
  const unknown = [...new Set(moves.filter((m) => m.items === null || m.bytes === null).map((m) => m.from))];
  return {
    pool: pool.name,
    group: input.group ?? pool.name,
    hash: pool.hash,
    distribution: pool.distribution,
    hashTag: pool.hashTag ?? null,
    from: oldServers.map((s) => s.raw),
    to: newServers.map((s) => s.raw),
    moves,
    movedShare: arcs.movedShare,
    items,
    bytes: sum(moves.map((m) => m.bytes)),
    rateKeysPerSec: input.rateKeysPerSec,
    copySeconds: items === null ? null : items / input.rateKeysPerSec,
    unknown,
  };
}
