/**
 * What a reload may change while memshift runs, decided before anything is touched (pure):
 *
 *   applied          limits (new client connections; the backend bounds at once), flush_all, backend
 *                    settings and pool timeouts (applied to the kept backend connections in place),
 *                    a pool added (its backends connect), a pool removed that no route or default
 *                    uses any more (its backends close), route edits that move no key, a pool's
 *                    `migration:` block added (the migration starts), or removed once done; a
 *                    route's likewise: its keys move by its migration (route-migration-reload.ts);
 *                    a listener added (bound before anything else changes: one that cannot bind
 *                    refuses the reload) or removed (it stops accepting; its clients stay).
 *                    The order of the pools (and of the listeners) is not a change.
 *   needs force      anything that would move keys without a migration: a pool's servers, weights,
 *                    node names, hash, distribution or hash_tag, or routes / default_pool moving keys
 *                    between pools (route-diff.ts names each class of keys that moves). `force`
 *                    accepts these: the keys are remapped cold (they start empty where they go).
 *                    A pool's tls or auth applies too (new connections to its servers; the old ones
 *                    close once idle), and with force its servers or hashing, where nothing kept across
 *                    the reload uses them: see below.
 *   needs a restart  a listener's tls or mode, admin, workers, server_connections, replica groups and their settings (write,
 *                    read, write_log, failover); a pool's tls, auth or hashing when it has replica groups,
 *                    and its servers, hashing, tls or auth when it has failover_after: its replica groups
 *                    and its failover watch are kept across a reload with the connections and rings they
 *                    were made with (a reload that changed them would close connections they still use)
 *   discovered pools their servers and migration block are the autopilot's; their discovery blocks
 *                    are checked by discovery-reload.ts
 *   refused          what the running state forbids: a migration block changed or removed while its
 *                    migration runs, a pool removed while its migration runs, a migration on a new pool,
 *                    a pool's servers, hashing, tls or auth changed while its migration runs (even with
 *                    force: the migration moves keys between the rings it started with). "Runs" includes
 *                    a rolled-back migration whose cleanup is not done yet.
 *
 * `checkReload` returns the refusals (empty: the reload may go ahead), split by what would make
 * them apply, and the changes it found.
 */
import type { Config, ListenSpec, PoolConfig, RouteConfig } from './types.js';
import { groupRings, hashChanged, isDiscovered, ring, same, securityChange, serversChanged } from './pool-diff.js';
import { checkDiscoveryReload } from './discovery-reload.js';
import { listenKeys } from './listen.js';
import { describeMove, routeMigrationOf, routeMoves } from './route-diff.js';
import { checkRouteMigrationReload, routeTarget, servedRoutes, type RouteMigrationContext } from './route-migration-reload.js';

export interface ReloadCheck {
  /** Why the new config cannot be applied (every one of the lists below, and more); empty when it can. */
  refused: string[];
  /** The refusals `force` would accept (keys move cold). */
  needsForce: string[];
  /** The refusals only a restart applies. */
  needsRestart: string[];
  /** What changes, one line each (for the log and the POST /reload answer). */
  changes: string[];
}

export interface ReloadContext extends RouteMigrationContext {
  /** Accept changes that move keys without a migration. */
  force?: boolean;
  /** The id of the pool's migration (or failover) while it runs (not done), else null. */
  running: (pool: string) => string | null;
  /** The phase of the pool's configured migration (`done`, `aborted`, ...), or null when it has none. */
  phase?: (pool: string) => string | null;
  /** The pool has a failover on record (running or done): its ring is not its config's any more. */
  failedOver?: (pool: string) => boolean;
}

const replicationOf = (p: PoolConfig): unknown =>
  p.groups.length < 2 ? null : [groupRings(p), p.write, p.read, p.localGroup, p.readFailover, p.writeLog, p.resync];
/** A migration block less its `from` servers' tls and auth (the pool's: a change of those is the pool's, not the block's). */
const blockOf = (m: PoolConfig['migration']): unknown => (m === undefined ? null : { ...m, from: m.from.map((g) => ({ name: g.name, ring: ring(g.servers) })) });

const SERVERS_ADVICE = 'Write a migration (a "migration:" block with "from" set to the current servers), or reload with force';
const ROUTES_ADVICE = 'reload with force to move them cold (they start empty on their new pool)';

export function checkReload(current: Config, next: Config, ctx: ReloadContext): ReloadCheck {
  const check: ReloadCheck = { refused: [], needsForce: [], needsRestart: [], changes: [] };
  const { refused, changes } = check;
  const restart = (what: string): void => {
    refused.push(`${what}: needs a restart`);
    check.needsRestart.push(refused.at(-1)!);
  };
  const moves = (what: string, advice = SERVERS_ADVICE): void => {
    if (ctx.force === true) changes.push(`${what} (forced: keys are remapped without a migration)`);
    else {
      refused.push(`${what}: this would move keys without a migration. ${advice}`);
      check.needsForce.push(refused.at(-1)!);
    }
  };
  checkListen(current.listen, next.listen, changes, restart);
  if (!same(current.admin, next.admin)) restart('admin changed');
  if (current.workers !== next.workers) restart(`workers changed (${current.workers} to ${next.workers})`);
  checkPoolSet(current, next, ctx, check);
  checkRoutes(current, next, ctx, moves, changes);
  const routeMigrations = checkRouteMigrationReload(current, next, ctx);
  refused.push(...routeMigrations.refused);
  changes.push(...routeMigrations.changes);
  if (!same(current.limits, next.limits)) changes.push('limits (for new client connections)');
  if (!same(current.backend, next.backend)) changes.push('backend settings');
  if (current.flushAll !== next.flushAll) changes.push(`flush_all: ${String(next.flushAll)}`);
  for (const [name, before] of current.pools) {
    const after = next.pools.get(name);
    if (after !== undefined) checkPool(name, before, after, ctx, check, restart, moves);
  }
  return check;
}

/** Pools added (they connect) and removed (they close); the order of the pools is no change. */
function checkPoolSet(current: Config, next: Config, ctx: ReloadContext, check: ReloadCheck): void {
  for (const [name, pool] of next.pools) {
    if (current.pools.has(name)) continue;
    if (pool.migration !== undefined) check.refused.push(`pool ${name} is new: it cannot start with a migration block (it serves no keys to migrate yet); add the pool, then its migration`);
    else check.changes.push(`pool ${name} added: ${pool.groups.map((g) => (pool.groups.length > 1 ? `${g.name} [${ring(g.servers)}]` : ring(g.servers))).join('; ')}`);
  }
  for (const name of current.pools.keys()) {
    if (next.pools.has(name)) continue;
    const running = ctx.running(name);
    if (running !== null) check.refused.push(`pool ${name}: migration "${running}" is running; the pool cannot be removed until it is done (or aborted)`);
    else check.changes.push(`pool ${name} removed: its connections close`);
  }
}

/**
 * Route and default_pool edits: each class of keys that changes pool, from where it is served now
 * (a route migration not done: its from_pool) to where the next config routes it, is a move (cold:
 * needs force), unless a route migration carries it (route-diff.ts, routeMigrationOf): a new block
 * starts it, an unchanged one goes on. Edits that move no key apply.
 */
function checkRoutes(current: Config, next: Config, ctx: ReloadContext, moves: (what: string, advice?: string) => void, changes: string[]): void {
  const now = { routes: servedRoutes(current, ctx), defaultPool: current.defaultPool };
  const after = { routes: next.routes.map(routeTarget), defaultPool: next.defaultPool };
  if (same(sortedRoutes(now.routes), sortedRoutes(after.routes)) && now.defaultPool === after.defaultPool) return;
  const all = routeMoves(now, after);
  for (const move of all) {
    const migration = routeMigrationOf(next, move);
    const goesOn = migration !== null && same(current.routes.find((r) => r.prefix === move.prefix), next.routes.find((r) => r.prefix === move.prefix));
    if (migration === null) moves(describeMove(move), ROUTES_ADVICE);
    else if (!goesOn) changes.push(`${describeMove(move)}: route migration "${migration}" starts`);
  }
  if (all.length === 0) changes.push('routes or default_pool changed; no key changes pool');
}

const sortedRoutes = (routes: readonly RouteConfig[]): unknown => [...routes].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0));

/** A pool in both configs: its settings, servers and migration block. */
function checkPool(name: string, before: PoolConfig, after: PoolConfig, ctx: ReloadContext, check: ReloadCheck, restart: (what: string) => void, moves: (what: string) => void): void {
  const { refused, changes } = check;
  if (!same(replicationOf(before), replicationOf(after))) restart(`pool ${name}: replica groups or their settings changed`);
  if (before.timeoutMs !== after.timeoutMs) changes.push(`pool ${name}: timeout ${after.timeoutMs} ms`);
  if (before.connections !== after.connections) restart(`pool ${name}: server_connections changed`);
  if (before.failoverAfterMs !== after.failoverAfterMs || before.failoverSettleMs !== after.failoverSettleMs) restart(`pool ${name}: failover_after or failover_settle changed`);
  const security = securityChange(before, after);
  const hashing = hashChanged(before, after);
  const servers = serversChanged(before, after);
  // Replica groups and a failover watch are kept across a reload with the connections and rings they
  // were made with: what they use cannot change without a restart.
  const forGroups = [...(security === null ? [] : [security]), ...(hashing ? ['hash, distribution or hash_tag'] : [])];
  const forWatch = [...(servers ? ['servers, weights or node names'] : []), ...forGroups];
  if (before.groups.length >= 2 && forGroups.length > 0) {
    restart(`pool ${name}: ${forGroups.join(', ')} changed; its replica groups keep the connections and rings they started with`);
    return;
  }
  if (before.failoverAfterMs !== undefined && forWatch.length > 0) {
    restart(`pool ${name}: ${forWatch.join(', ')} changed; its failover watch (failover_after) keeps the connections and ring it started with`);
    return;
  }
  if (isDiscovered(before) || isDiscovered(after)) {
    const d = checkDiscoveryReload(name, before, after);
    for (const r of d.restart) restart(r);
    changes.push(...d.changes);
    if (d.restart.length > 0 || isDiscovered(after)) {
      checkDiscoveredPool(name, securityChange(before, after, true), hashing, ctx, check, moves);
      return;
    }
  }
  const running = ctx.running(name);
  const phase = ctx.phase?.(name) ?? null;
  const mBefore = before.migration;
  const mAfter = after.migration;
  const blockChanged = !same(blockOf(mBefore), blockOf(mAfter));
  if (blockChanged && running !== null) {
    refused.push(`pool ${name}: migration "${running}" is running; its block cannot change until it is done (or aborted)`);
    return;
  }
  // Even with force: the migration moves keys between the rings (and over the connections) it started with.
  if (running !== null && forWatch.length > 0) {
    refused.push(`pool ${name}: migration "${running}" is running; its ${forWatch.join(', ')} cannot change until it is done (or aborted)`);
    return;
  }
  if (blockChanged && ctx.failedOver?.(name) === true) {
    refused.push(`pool ${name}: a failover moved its keys; remove the failed server from the config and restart before a new migration`);
    return;
  }
  if (security !== null) changes.push(`pool ${name}: ${security} changed: new connections to its servers (the old ones close once idle)`);
  if (hashing) {
    moves(`pool ${name}: hash, distribution or hash_tag changed`);
    return;
  }
  // What the pool is served by now: `from` until its migration is done (or after a rollback).
  const served = mBefore !== undefined && phase !== 'done' ? ring(mBefore.from[0]!.servers) : ring(before.servers);
  if (blockChanged && mAfter !== undefined) {
    const from = ring(mAfter.from[0]!.servers);
    if (from !== served) refused.push(`pool ${name}: the migration's "from" (${from}) must be the servers the pool is served by now (${served})`);
    else changes.push(`pool ${name}: migration "${mAfter.id}" starts: ${served} -> ${ring(after.servers)}`);
    return;
  }
  if (blockChanged) {
    // The block goes: the pool is served by its servers from now on.
    if (served === ring(after.servers)) changes.push(`pool ${name}: migration block removed`);
    else moves(`pool ${name}: the migration block is removed before its migration is done (phase ${phase ?? 'unknown'}): the pool would move from ${served} to ${ring(after.servers)}`);
    return;
  }
  if (servers) moves(`pool ${name}: servers, weights or node names changed`);
}

/**
 * A discovered pool: its servers and migration block are the autopilot's (which starts a migration
 * only when none of the pool runs), so a reload checks what the file sets of its connections and ring.
 */
function checkDiscoveredPool(name: string, security: string | null, hashing: boolean, ctx: ReloadContext, check: ReloadCheck, moves: (what: string) => void): void {
  const running = ctx.running(name);
  if (running !== null && (security !== null || hashing)) {
    check.refused.push(`pool ${name}: migration "${running}" is running; its ${[...(security === null ? [] : [security]), ...(hashing ? ['hash, distribution or hash_tag'] : [])].join(', ')} cannot change until it is done (or aborted)`);
    return;
  }
  if (security !== null) check.changes.push(`pool ${name}: ${security} changed: new connections to its servers (the old ones close once idle)`);
  if (hashing) moves(`pool ${name}: hash, distribution or hash_tag changed`);
}

/** What a listener is besides its address: a TCP listener's TLS, a unix socket's mode. */
const listenerSettings = (l: ListenSpec): unknown => (l.kind === 'tcp' ? (l.tls ?? null) : (l.mode ?? null));

/** Listeners added and removed apply (the proxy binds the new ones first); a listener's tls or mode changed needs a restart. */
function checkListen(current: readonly ListenSpec[], next: readonly ListenSpec[], changes: string[], restart: (what: string) => void): void {
  const before = new Map(listenKeys(current).map((key, i) => [key, current[i]!]));
  const after = new Map(listenKeys(next).map((key, i) => [key, next[i]!]));
  for (const [key, l] of after) {
    const old = before.get(key);
    if (old === undefined) changes.push(`listen: opens ${l.raw}`);
    else if (!same(listenerSettings(old), listenerSettings(l))) restart(`listen ${l.raw}: its ${l.kind === 'tcp' ? 'tls' : 'mode'} changed`);
  }
  for (const [key, l] of before) if (!after.has(key)) changes.push(`listen: closes ${l.raw} (its clients stay connected)`);
}
