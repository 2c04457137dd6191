/**
 * Everything one config builds behind the listeners: the rings, the backend connections, the
 * dispatcher, replication, migrations and failover watches. A reload (reload.ts) builds the next
 * generation from the previous one, keeping what did not change: backends whose address and
 * settings stay (with their connections), the replication state, a migration whose block is
 * unchanged, the failover watches. Client connections pick up the new dispatcher for their next
 * request; requests in flight finish on the generation they started on.
 */
import type { Config, PoolConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { BackendPool } from '../backend/index.js';
import { onTlsReloadError, secureContext } from '../tls/index.js';
import { configWarnings, everyServer } from '../config/warnings.js';
import { Router } from '../routing/index.js';
import { Dispatcher, type KeyRoute } from './dispatcher.js';
import type { ProxyStats } from './stats.js';
import { Replication } from '../replication/index.js';
import { DeadOwnerRoute, Migration, MigrationRoute, activeSpace, failoverSpace, plainFailoverSpace, replicatedSpace, type FailoverSpec, type MigrationSpace } from '../migration/index.js';
import { FailoverWatch } from '../migration/failover.js';

export interface Generation {
  readonly config: Config;
  readonly backends: BackendPool;
  readonly dispatcher: Dispatcher;
  readonly replication: Replication;
  /** Per pool: its configured migration, or undefined. */
  readonly migrations: readonly (Migration | undefined)[];
  readonly failovers: readonly FailoverWatch[];
  /** What the failover watches route through: this generation's (a reload keeps the watches and updates it). */
  readonly live: Live;
}

interface Live {
  dispatcher: Dispatcher;
  backends: BackendPool;
}

/** Every migration of a generation: the configured ones and the failovers that exist so far. */
export function migrationsOf(g: Generation): Migration[] {
  const all = g.migrations.filter((m): m is Migration => m !== undefined);
  for (const f of g.failovers) if (f.migration !== null) all.push(f.migration);
  return all;
}

/**
 * Builds a generation (and joins running migrations in their phase) before it takes requests.
 * With `prev`, the same pools in the same order (checkReload made sure) and the same replication.
 */
export async function startGeneration(config: Config, stats: ProxyStats, logger: Logger, prev?: Generation): Promise<Generation> {
  const pools = new Router(config).pools;
  checkBackendTls(pools, logger);
  for (const w of configWarnings(config)) if (w.about !== 'admin') logger.warn({ about: w.about }, w.message);
  const backends = new BackendPool(config, pools, logger, prev?.backends);
  const started: Migration[] = [];
  try {
    const g = await build(config, pools, backends, stats, logger, started, prev);
    backends.commit();
    return g;
  } catch (err) {
    // A reload that fails leaves nothing behind: the backends it connected and the migrations it made.
    await Promise.all(started.map((m) => m.close()));
    backends.close(prev === undefined ? backends.all : backends.unused(prev.backends));
    throw err;
  }
}

async function build(config: Config, pools: readonly PoolConfig[], backends: BackendPool, stats: ProxyStats, logger: Logger, started: Migration[], prev?: Generation): Promise<Generation> {
  const track = (m: Migration): Migration => {
    started.push(m);
    return m;
  };
  const dispatcher = new Dispatcher(config, backends, stats);
  const replication = prev?.replication ?? new Replication(config, dispatcher.router, backends, stats, logger);
  dispatcher.useReplication(replication.byPool);
  const routes: (KeyRoute | undefined)[] = [];
  const migrations = pools.map((pool, p) => {
    if (pool.migration === undefined) return undefined;
    const before = prev?.migrations[p];
    if (before !== undefined && JSON.stringify(before.config) === JSON.stringify(pool.migration)) {
      if (before.route instanceof MigrationRoute) routes[p] = before.route;
      return before;
    }
    // A pool with replica groups migrates each group on its own ring, inside its replication path.
    const groups = replication.byPool[p];
    if (groups !== undefined) return track(new Migration(pool, replicatedSpace(pool, p, dispatcher.router, backends, groups), logger));
    const space = activeSpace(pool, p, dispatcher.router, backends, dispatcher, stats);
    routes[p] = space.route;
    return track(new Migration(pool, space, logger));
  });
  const live = prev?.live ?? { dispatcher, backends };
  const failovers = prev?.failovers ?? watchFailovers(pools, replication, live, stats, logger);
  if (routes.length > 0) dispatcher.useMigration(routes);
  const g: Generation = { config, backends, dispatcher, replication, migrations, failovers, live };
  adoptFailoverRoutes(g);
  dispatcher.migrationRunning = () => migrationsOf(g).some((m) => m.running);
  // Join a running migration (or failover) in its phase before taking clients.
  await Promise.all([...started.map((m) => m.start()), ...(prev === undefined ? failovers.map((f) => f.start()) : [])]);
  return g;
}

/**
 * A failover of a plain pool routes its pool through this generation's dispatcher (one that started
 * under an earlier config, or while this generation was being built).
 */
export function adoptFailoverRoutes(g: Generation): void {
  const names = [...g.config.pools.keys()];
  for (const f of g.failovers) {
    const route = f.migration?.route;
    if (route instanceof DeadOwnerRoute) g.dispatcher.setRoute(names.indexOf(f.pool.name), route);
  }
}

/**
 * After a reload: stops the previous generation's migrations the next one dropped, and closes the
 * backends it no longer uses once the requests in flight on them had time to finish.
 */
export function retireGeneration(prev: Generation, next: Generation, graceMs: number): void {
  const kept = new Set(next.migrations);
  for (const m of prev.migrations) if (m !== undefined && !kept.has(m)) void m.close();
  const unused = prev.backends.unused(next.backends);
  if (unused.length > 0) setTimeout(() => prev.backends.close(unused), graceMs).unref();
}

export async function closeGeneration(g: Generation): Promise<void> {
  await Promise.all([...g.migrations.map((m) => m?.close()), ...g.failovers.map((f) => f.close())]);
  g.backends.close();
  await g.replication.close();
}

/**
 * A FailoverWatch per pool with `failover_after` (passive migration): with replica groups the
 * failover copies from a healthy group; without, the dead server's keys start empty elsewhere.
 */
function watchFailovers(pools: readonly PoolConfig[], replication: Replication, live: Live, stats: ProxyStats, logger: Logger): FailoverWatch[] {
  return pools.flatMap((pool, p) => {
    if (pool.failoverAfterMs === undefined) return [];
    const groups = replication.byPool[p];
    if (groups !== undefined) {
      // Every server out of the ring (a sidecar that starts later learns earlier failovers from the newest record).
      const mark = (m: Migration, spec: FailoverSpec): void => {
        for (const s of [...(spec.out ?? []), spec]) replication.markResync(p, s.server, `failed over (${m.id})`);
      };
      return [new FailoverWatch(pool, () => groups.backends, (spec) => failoverSpace(pool, groups, spec), logger, mark)];
    }
    const spaceFor = (spec: FailoverSpec): MigrationSpace => {
      const { dispatcher, backends } = live;
      const space = plainFailoverSpace(pool, p, dispatcher.router, backends, dispatcher, stats, spec);
      dispatcher.setRoute(p, space.route);
      return space;
    };
    return [new FailoverWatch(pool, () => [live.backends.byPool[p]!], spaceFor, logger, () => undefined)];
  });
}

/**
 * Reads every pool's TLS material (the pool's `tls` and a migration's `from_tls`) before anything
 * connects: a file that cannot be read or parsed stops the start (or refuses the reload), naming it.
 * (`verify: false` is allowed: config/warnings.ts says so at every start and reload.)
 */
function checkBackendTls(pools: readonly PoolConfig[], logger: Logger): void {
  onTlsReloadError((err) => logger.error({ err: err.message }, 'TLS files changed but cannot be used: new connections keep the certificates read before'));
  for (const pool of pools) {
    const configs = new Set(everyServer(pool).flatMap((s) => (s.tls === undefined ? [] : [s.tls])));
    for (const tls of configs) {
      try {
        secureContext(tls);
      } catch (err) {
        throw new Error(`pool ${pool.name}: ${(err as Error).message}`, { cause: err });
      }
    }
  }
}
