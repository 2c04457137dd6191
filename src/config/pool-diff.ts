/**
 * What of a pool a reload changes that the objects kept across it depend on (pure): its ring (servers,
 * weights, node names, hash, distribution, hash_tag) and the TLS and login of its connections. A
 * migration, a route migration, replica groups and a failover watch are made with a pool's
 * connections and rings; a reload keeps them only while none of these change (app/generation.ts),
 * and config/reload.ts refuses the changes while they cannot be rebuilt.
 */
import type { PoolConfig, ServerSpec } from './types.js';

/** The pool (or one of its replica groups) takes its servers from DNS (src/discovery). */
export const isDiscovered = (pool: PoolConfig): boolean => pool.groups.some((g) => g.discovery !== undefined);

/** Two config values are equal (plain data: their JSON is). */
export const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** A server list as the ring sees it (address, weight, node name), for comparison and messages. */
export const ring = (servers: readonly ServerSpec[]): string => servers.map((s) => `${s.address}:${s.weight}${s.name === undefined ? '' : ` ${s.name}`}`).join(', ');

/** Every replica group by name with its ring. */
export const groupRings = (p: PoolConfig): unknown => p.groups.map((g) => [g.name, ring(g.servers)]);

const hashing = (p: PoolConfig): unknown => [p.hash, p.distribution, p.hashTag ?? null];

/**
 * What of a pool's TLS and login changed (its migration's `from` servers' included, unless `ownOnly`:
 * an autopilot's block takes the pool's): 'tls', 'auth', 'tls and auth', or null.
 */
export function securityChange(before: PoolConfig, after: PoolConfig, ownOnly = false): string | null {
  const of = (p: PoolConfig, field: 'tls' | 'auth'): unknown => [p[field] ?? null, ownOnly ? null : (p.migration?.from.map((g) => g.servers.map((s) => s[field] ?? null)) ?? null)];
  const changed = (['tls', 'auth'] as const).filter((f) => !same(of(before, f), of(after, f)));
  return changed.length === 0 ? null : changed.join(' and ');
}

export const hashChanged = (before: PoolConfig, after: PoolConfig): boolean => !same(hashing(before), hashing(after));

/** The pool's first group's servers (its ring) changed. */
export const serversChanged = (before: PoolConfig, after: PoolConfig): boolean => ring(before.servers) !== ring(after.servers);

/**
 * What changed of what a pool's kept objects use, one name per field ('servers', 'hash, distribution
 * or hash_tag', 'tls', 'auth'); empty when nothing did. Every replica group's servers count.
 */
export function ringChanges(before: PoolConfig | undefined, after: PoolConfig | undefined): string[] {
  if (before === undefined || after === undefined) return before === after ? [] : ['pool'];
  const security = securityChange(before, after);
  return [
    ...(serversChanged(before, after) || !same(groupRings(before), groupRings(after)) ? ['servers'] : []),
    ...(hashChanged(before, after) ? ['hash, distribution or hash_tag'] : []),
    ...(security === null ? [] : [security]),
  ];
}
