/**
 * The cross-checks of a route's `migration:` block (a route migration: the route's keys move from
 * `from_pool` to the route's pool; src/migration/route-space.ts). They read the parsed file as
 * `unknown` (they run even when other fields failed) and report at the field to fix:
 *
 *   from_pool       names a pool, not the route's own
 *   both pools      plain (servers, not replicas), no migration block of their own, no
 *                   failover_after (a pool's ring must not change under the move), no shared server
 *   the prefix      at most 150 bytes (it names the migration's record, a memcached key)
 *   every id        unique among all migration blocks, pools' and routes' (ids name records and metrics)
 */
import type { z } from 'zod';
import { addIssue } from './schema-parts.js';

/** The longest prefix a migrating route may have: its record key holds it base64url-encoded (250 bytes at most). */
export const MAX_MIGRATING_PREFIX_BYTES = 150;

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const addresses = (pool: Record<string, unknown>): string[] =>
  Array.isArray(pool.servers) ? pool.servers.filter(isRecord).flatMap((s) => (typeof s.address === 'string' ? [s.address.toLowerCase()] : [])) : [];

export function checkRouteMigrations(root: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const pools = isRecord(root.pools) ? root.pools : {};
  const ids = new Map<string, string>();
  for (const [name, pool] of Object.entries(pools)) {
    if (isRecord(pool) && isRecord(pool.migration) && typeof pool.migration.id === 'string') ids.set(pool.migration.id, `pool ${name}`);
  }
  if (!Array.isArray(root.routes)) return;
  root.routes.forEach((route: unknown, i) => {
    if (!isRecord(route) || !isRecord(route.migration)) return;
    const m = route.migration;
    const at = (...path: PropertyKey[]): PropertyKey[] => ['routes', i, ...path];
    if (typeof m.id === 'string') {
      const other = ids.get(m.id);
      if (other !== undefined) addIssue(ctx, at('migration', 'id'), `migration id "${m.id}" is also the id of ${other}'s migration; ids must be unique`);
      else ids.set(m.id, `routes[${i}]`);
    }
    if (typeof route.prefix === 'string' && Buffer.byteLength(route.prefix) > MAX_MIGRATING_PREFIX_BYTES) {
      addIssue(ctx, at('prefix'), `a migrating route's prefix is at most ${MAX_MIGRATING_PREFIX_BYTES} bytes (it names the migration's record)`);
    }
    if (typeof m.from_pool !== 'string' || typeof route.pool !== 'string') return;
    if (!Object.hasOwn(pools, m.from_pool)) {
      const known = Object.keys(pools).map((p) => `"${p}"`).join(', ');
      addIssue(ctx, at('migration', 'from_pool'), `unknown pool "${m.from_pool}"; pools are ${known}`);
      return;
    }
    if (m.from_pool === route.pool) {
      addIssue(ctx, at('migration', 'from_pool'), `from_pool is the route's own pool "${route.pool}": nothing would move`);
      return;
    }
    const from = pools[m.from_pool];
    const to = pools[route.pool];
    if (!isRecord(from) || !isRecord(to)) return;
    for (const [name, pool] of [[m.from_pool, from], [route.pool, to]] as const) {
      const why = poolProblem(pool);
      if (why !== null) addIssue(ctx, at('migration', 'from_pool'), `pool ${name} ${why}`);
    }
    const shared = addresses(from).filter((a) => addresses(to).includes(a));
    if (shared.length > 0) {
      addIssue(ctx, at('migration', 'from_pool'), `pools ${m.from_pool} and ${route.pool} share ${shared.join(', ')}: a route migration moves keys between pools with different servers`);
    }
  });
}

/** Why a pool cannot take part in a route migration, or null. */
function poolProblem(pool: Record<string, unknown>): string | null {
  if (pool.replicas !== undefined) return 'has replicas: a route migration moves keys between pools with plain servers';
  if (pool.migration !== undefined) return 'has a migration block of its own: a pool takes part in one migration at a time; finish that one first';
  if (pool.failover_after !== undefined) return 'has failover_after: a failover would change its ring under the route migration; leave it out while the route moves';
  return null;
}
