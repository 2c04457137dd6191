/**
 * What a reload may change while memshift runs, decided before anything is touched (pure):
 *
 *   applied          limits (new client connections; the backend bounds at once), flush_all, backend
 *                    settings and pool timeouts (applied to the kept backend connections in place),
 *                    a pool's `migration:` block added (the migration starts), or removed once done
 *   refused          anything that would move keys without a migration: a pool's servers, weights,
 *                    node names, hash, distribution or hash_tag, or routes / default_pool (keys move
 *                    between pools). `force` accepts these (the keys are remapped cold).
 *   needs a restart  listen, admin, pools added or removed, server_connections, replica groups and their settings
 *                    (write, read, write_log, failover), a migration block changed or removed while
 *                    its migration runs
 *
 * `checkReload` returns the refusals (empty: the reload may go ahead) and the changes it found.
 */
import type { Config, PoolConfig, ServerSpec } from './types.js';

export interface ReloadCheck {
  /** Why the new config cannot be applied; empty when it can. */
  refused: string[];
  /** What changes, one line each (for the log and the POST /reload answer). */
  changes: string[];
}

export interface ReloadContext {
  /** Accept changes that move keys without a migration. */
  force?: boolean;
  /** The id of the pool's migration (or failover) while it runs (not done), else null. */
  running: (pool: string) => string | null;
  /** The phase of the pool's configured migration (`done`, `aborted`, ...), or null when it has none. */
  phase?: (pool: string) => string | null;
  /** The pool has a failover on record (running or done): its ring is not its config's any more. */
  failedOver?: (pool: string) => boolean;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);
const ring = (servers: readonly ServerSpec[]): string => servers.map((s) => `${s.address}:${s.weight}${s.name === undefined ? '' : ` ${s.name}`}`).join(', ');
const hashing = (p: PoolConfig): unknown => [p.hash, p.distribution, p.hashTag ?? null];
const replicationOf = (p: PoolConfig): unknown =>
  p.groups.length < 2 ? null : [p.groups.map((g) => [g.name, ring(g.servers)]), p.write, p.read, p.localGroup, p.readFailover, p.writeLog, p.resync];


export function checkReload(current: Config, next: Config, ctx: ReloadContext): ReloadCheck {
  const refused: string[] = [];
  const changes: string[] = [];
  const moves = (what: string): void => {
    if (ctx.force === true) changes.push(`${what} (forced: keys are remapped without a migration)`);
    else refused.push(`${what}: this would move keys without a migration. Write a migration (a "migration:" block with "from" set to the current servers), or reload with force`);
  };
  if (!same(current.listen, next.listen)) refused.push('listen changed: needs a restart');
  if (!same(current.admin, next.admin)) refused.push('admin changed: needs a restart');
  const names = [...current.pools.keys()];
  if (!same(names, [...next.pools.keys()])) refused.push(`pools added, removed or reordered (${names.join(', ')} -> ${[...next.pools.keys()].join(', ')}): needs a restart`);
  if (!same(current.routes, next.routes) || current.defaultPool !== next.defaultPool) moves('routes or default_pool changed');
  if (!same(current.limits, next.limits)) changes.push('limits (for new client connections)');
  if (!same(current.backend, next.backend)) changes.push('backend settings');
  if (current.flushAll !== next.flushAll) changes.push(`flush_all: ${String(next.flushAll)}`);
  for (const [name, before] of current.pools) {
    const after = next.pools.get(name);
    if (after === undefined) continue;
    if (!same(replicationOf(before), replicationOf(after))) refused.push(`pool ${name}: replica groups or their settings changed: needs a restart`);
    if (before.timeoutMs !== after.timeoutMs) changes.push(`pool ${name}: timeout ${after.timeoutMs} ms`);
    if (before.connections !== after.connections) refused.push(`pool ${name}: server_connections changed: needs a restart`);
    if (before.failoverAfterMs !== after.failoverAfterMs || before.failoverSettleMs !== after.failoverSettleMs) refused.push(`pool ${name}: failover_after or failover_settle changed: needs a restart`);
    const running = ctx.running(name);
    const phase = ctx.phase?.(name) ?? null;
    const mBefore = before.migration;
    const mAfter = after.migration;
    const blockChanged = !same(mBefore, mAfter);
    if (blockChanged && running !== null) {
      refused.push(`pool ${name}: migration "${running}" is running; its block cannot change until it is done (or aborted)`);
      continue;
    }
    if (blockChanged && ctx.failedOver?.(name) === true) {
      refused.push(`pool ${name}: a failover moved its keys; remove the failed server from the config and restart before a new migration`);
      continue;
    }
    if (!same(hashing(before), hashing(after))) {
      moves(`pool ${name}: hash, distribution or hash_tag changed`);
      continue;
    }
    // What the pool is served by now: `from` until its migration is done (or after a rollback).
    const served = mBefore !== undefined && phase !== 'done' ? ring(mBefore.from[0]!.servers) : ring(before.servers);
    if (blockChanged && mAfter !== undefined) {
      const from = ring(mAfter.from[0]!.servers);
      if (from !== served) refused.push(`pool ${name}: the migration's "from" (${from}) must be the servers the pool is served by now (${served})`);
      else changes.push(`pool ${name}: migration "${mAfter.id}" starts: ${served} -> ${ring(after.servers)}`);
      continue;
    }
    if (blockChanged) {
      // The block goes: the pool is served by its servers from now on.
      if (served === ring(after.servers)) changes.push(`pool ${name}: migration block removed`);
      else moves(`pool ${name}: the migration block is removed before its migration is done (phase ${phase ?? 'unknown'}): the pool would move from ${served} to ${ring(after.servers)}`);
      continue;
    }
    if (ring(before.servers) !== ring(after.servers)) moves(`pool ${name}: servers, weights or node names changed`);
  }
  return { refused, changes };
}
