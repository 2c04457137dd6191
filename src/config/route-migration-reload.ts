/**
 * What a reload may do with routes' `migration:` blocks (pure; reload.ts). A route's keys are
 * served by its `from_pool` until its migration is done (and after a rollback), then by its pool:
 * `servedRoutes` is the running config's routes as they serve keys now, which reload.ts compares
 * with the next config's to find the keys that move (route-diff.ts). A move that a new block of the
 * next config carries starts that route migration; any other needs force (cold). Here:
 *
 *   a route migration runs     refused: its route or block changes, or the routes change at all
 *                              (they decide which keys it moves), or the servers, hashing, tls or
 *                              auth of either of its pools (it moves keys between those rings, over
 *                              those connections); it must finish or be aborted first
 *   a block added or replaced  refused unless its from_pool is the pool serving the prefix now
 *   a block removed once done  applied: the route's pool serves its keys already (a no-op)
 */
import type { Config, RouteConfig } from './types.js';
import { ringChanges, same } from './pool-diff.js';

export interface RouteMigrationContext {
  /** The id of the route's migration while it runs (not planned, done or aborted), else null. */
  routeRunning?: (prefix: string) => string | null;
  /** The phase of the route's migration (`done`, `aborted`, ...), or null when it has none. */
  routePhase?: (prefix: string) => string | null;
}

/** A route without its migration block: where its keys go once any migration is done. */
export const routeTarget = (r: RouteConfig): { prefix: string; pool: string } => ({ prefix: r.prefix, pool: r.pool });

const sorted = (routes: readonly RouteConfig[]): unknown => routes.map(routeTarget).sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));

/** The running config's routes as they serve keys now: a route migration not done serves from its from_pool. */
export function servedRoutes(current: Config, ctx: RouteMigrationContext): RouteConfig[] {
  return current.routes.map((r) => (r.migration !== undefined && ctx.routePhase?.(r.prefix) !== 'done' ? { prefix: r.prefix, pool: r.migration.fromPool } : routeTarget(r)));
}

/** The pool serving keys under `prefix` (and under no longer prefix) in `routes`. */
function poolOf(prefix: string, routes: readonly RouteConfig[], defaultPool: string): string {
  let best: RouteConfig | undefined;
  for (const r of routes) if (prefix.startsWith(r.prefix) && (best === undefined || r.prefix.length > best.prefix.length)) best = r;
  return best?.pool ?? defaultPool;
}

/** The refusals and the changes of the routes' migration blocks (the moves are reload.ts's). */
export function checkRouteMigrationReload(current: Config, next: Config, ctx: RouteMigrationContext): { refused: string[]; changes: string[] } {
  const refused: string[] = [];
  const changes: string[] = [];
  const served = servedRoutes(current, ctx);
  for (const before of current.routes) {
    const running = before.migration === undefined ? null : (ctx.routeRunning?.(before.prefix) ?? null);
    if (running === null) continue;
    const after = next.routes.find((r) => r.prefix === before.prefix);
    if (after === undefined || !same(before, after)) refused.push(`route "${before.prefix}": migration "${running}" is running; its route and block cannot change until it is done (or aborted)`);
    else if (!same(sorted(current.routes), sorted(next.routes))) refused.push(`routes changed while route migration "${running}" runs: they decide which keys it moves; change them once it is done (or aborted)`);
    for (const pool of new Set([before.pool, before.migration!.fromPool])) {
      const changed = next.pools.has(pool) ? ringChanges(current.pools.get(pool), next.pools.get(pool)) : [];
      if (changed.length > 0) refused.push(`route "${before.prefix}": migration "${running}" is running; pool ${pool}'s ${changed.join(', ')} cannot change until it is done (or aborted)`);
    }
  }
  for (const after of next.routes) {
    const before = current.routes.find((r) => r.prefix === after.prefix);
    if (same(before?.migration, after.migration) || (before !== undefined && (ctx.routeRunning?.(before.prefix) ?? null) !== null)) continue;
    const now = poolOf(after.prefix, served, current.defaultPool);
    const m = after.migration;
    if (m !== undefined && m.fromPool !== now) refused.push(`route "${after.prefix}": the migration's from_pool (${m.fromPool}) must be the pool its keys are served by now (${now})`);
    if (m === undefined && before?.migration !== undefined && now === after.pool) changes.push(`route "${after.prefix}": migration block removed (its keys are on pool ${after.pool})`);
  }
  return { refused, changes };
}
