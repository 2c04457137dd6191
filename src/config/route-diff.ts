/**
 * Which keys change pool between two configs (pure): the prefix routes and `default_pool` decide a
 * key's pool (the longest route prefix it starts with, else the default pool: routing/route-table.ts).
 *
 * A key's pool depends only on the longest prefix, among every prefix either config routes, that the
 * key starts with (or on none matching). So comparing the two configs' pool for each such prefix,
 * and for "no prefix matches", finds every move, each named by the prefix whose keys move. A pool
 * order, a route order or a route edit that leaves every key where it was moves nothing.
 */
import type { Config, RouteConfig } from './types.js';

export interface RouteMove {
  /**
   * The keys that move: those under `prefix` that no longer route prefix of either config claims;
   * '' for the keys no route matches (they go to `default_pool`).
   */
  readonly prefix: string;
  readonly from: string;
  readonly to: string;
}

/** The pool of a key under `prefix` (and under no longer route prefix) in `config`. */
function poolOf(prefix: string, routes: readonly RouteConfig[], defaultPool: string): string {
  let best: RouteConfig | undefined;
  for (const r of routes) if (prefix.startsWith(r.prefix) && (best === undefined || r.prefix.length > best.prefix.length)) best = r;
  return best?.pool ?? defaultPool;
}

/** Every class of keys that changes pool from `current` to `next`, shortest prefix first. */
export function routeMoves(current: Pick<Config, 'routes' | 'defaultPool'>, next: Pick<Config, 'routes' | 'defaultPool'>): RouteMove[] {
  const prefixes = [...new Set(['', ...current.routes.map((r) => r.prefix), ...next.routes.map((r) => r.prefix)])].sort((a, b) => a.length - b.length || (a < b ? -1 : 1));
  const moves: RouteMove[] = [];
  for (const prefix of prefixes) {
    const from = poolOf(prefix, current.routes, current.defaultPool);
    const to = poolOf(prefix, next.routes, next.defaultPool);
    if (from !== to) moves.push({ prefix, from, to });
  }
  return moves;
}

/** `keys under "s:" move from pool main to pool s`, for the reload's answer. */
export function describeMove(m: RouteMove): string {
  const keys = m.prefix === '' ? 'keys no route matches (default_pool)' : `keys under "${m.prefix}"`;
  return `${keys} move from pool ${m.from} to pool ${m.to}`;
}

/**
 * The route migration that carries `move` online, or null when nothing does (the move is cold:
 * the keys start empty on their new pool, so a reload needs force): the route of `next` for
 * `move.prefix` whose `migration:` block moves its keys from pool `move.from` to pool `move.to`.
 * checkReload (config/reload.ts) then lists the move as applying ("route migration ... starts").
 */
export function routeMigrationOf(next: Config, move: RouteMove): string | null {
  const route = next.routes.find((r) => r.prefix === move.prefix);
  const m = route?.migration;
  return m !== undefined && route!.pool === move.to && m.fromPool === move.from ? m.id : null;
}
