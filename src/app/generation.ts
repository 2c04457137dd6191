/**
 * Everything one config builds behind the listeners: the rings, the backend connections, the
 * dispatcher, replication, migrations and failover watches. A reload (reload.ts) builds the next
 * generation from the previous one, keeping what did not change, matched by pool name (a pool's
 * index may change: pools are added, removed and reordered): backends whose address and settings
 * stay (with their connections), a pool's replication state, a migration whose block and pool's ring
 * and connections (servers, hashing, tls, auth: config/pool-diff.ts) are unchanged (a route's, while
 * the routes and both its pools' rings stay the same), a pool's failover watch. A kept object keeps
 * the backends and rings it was made with, so config/reload.ts refuses what would change those under
 * replica groups and failover watches (needs a restart) and under a migration that runs; a migration
 * that does not run is built again. A pool added gets its own; a removed pool's, and a migration built
 * again, are closed once the next generation serves (switchGeneration).
 * Client connections pick up the new dispatcher for their next request; requests in flight finish
 * on the generation they started on, whose backends a reload dropped close once they have nothing
 * in flight.
 */
import type { Config, PoolConfig, RouteConfig } from '../config/types.js';
import { ringChanges } from '../config/pool-diff.js';
import type { Logger } from '../observability/logger.js';
import { BackendPool, type Backend } from '../backend/index.js';
import { onTlsReloadError, secureContext } from '../tls/index.js';
import { configWarnings, everyServer } from '../config/warnings.js';
import { Router } from '../routing/index.js';
import { ketamaServerName } from '../routing/ketama.js';
import { Dispatcher } from '../proxy/dispatcher.js';
import type { PoolRoute } from '../proxy/pool-route.js';
import type { ProxyStats } from '../proxy/stats.js';
import { Replication } from '../replication/index.js';
import { ReplicatedRoute } from '../replication/replica-groups.js';
import { Migration } from '../migration/runtime.js';
import { DeadOwnerRoute, MigrationRoute } from '../migration/route.js';
import { activeSpace, failoverSpace, goneSpace, plainFailoverSpace, replicatedSpace, routeSpace, type FailoverSpec, type MigrationSpace } from '../migration/space.js';
import { FailoverWatch } from '../migration/failover.js';
import { rebuildHistory } from '../migration/history-store.js';
import { ONE_PROCESS, type WorkerRole } from './worker-role.js';

export interface Generation {
  readonly config: Config;
  readonly backends: BackendPool;
  readonly dispatcher: Dispatcher;
  readonly replication: Replication;
  /** Per pool: its configured migration, or undefined. */
  readonly migrations: readonly (Migration | undefined)[];
  /** Per route (index in config.routes): its configured migration, or undefined. */
  readonly routeMigrations: readonly (Migration | undefined)[];
  readonly failovers: readonly FailoverWatch[];
  /** What the failover watches route through: this generation's (a reload keeps the watches and updates it). */
  readonly live: Live;
  /** This process's part among the workers (a reload keeps it). */
  readonly role: WorkerRole;
}

interface Live {
  dispatcher: Dispatcher;
  backends: BackendPool;
}

/** Every migration of a generation: the configured ones and the failovers that exist so far. */
export function migrationsOf(g: Generation): Migration[] {
  const all = [...g.migrations, ...g.routeMigrations].filter((m): m is Migration => m !== undefined);
  for (const f of g.failovers) if (f.migration !== null) all.push(f.migration);
  return all;
}

/** Thrown by startGeneration when `confirm` said no: the generation was built and undone. */
export class GenerationNotConfirmed extends Error {}

/**
 * Builds a generation (and joins running migrations in their phase) before it takes requests.
 * With `prev`: the same replication (pools added get theirs), and its migrations and failover
 * watches for the pools it keeps. `role`: this process's part among the workers (default: prev's,
 * else one process). `confirm`, once it is built and before anything kept from `prev` changes
 * (the kept backends' new timeouts): false undoes it as a failed build is undone, and throws
 * GenerationNotConfirmed (a reload all the workers must apply, which another one did not).
 */
export async function startGeneration(
  config: Config,
  stats: ProxyStats,
  logger: Logger,
  prev?: Generation,
  opts: { role?: WorkerRole; confirm?: () => Promise<boolean> } = {},
): Promise<Generation> {
  const role = opts.role ?? prev?.role ?? ONE_PROCESS;
  onTlsReloadError((err) => logger.error({ err: err.message }, 'TLS files changed but cannot be used: new connections keep the certificates read before'));
  const pools = preflight(config);
  for (const w of configWarnings(config)) if (w.about !== 'admin') logger.warn({ about: w.about }, w.message);
  // (A BackendPool that throws, a password file it cannot read, closes the connections it opened.)
  const backends = new BackendPool(config, pools, logger, prev?.backends);
  const made: Made = { migrations: [], failovers: [] };
  try {
    const g = await build(config, pools, backends, stats, logger, made, role, prev);
    if (opts.confirm !== undefined && !(await opts.confirm())) throw new GenerationNotConfirmed('another worker did not apply it');
    backends.commit();
    return g;
  } catch (err) {
    // A reload that fails leaves nothing behind: the backends it connected, the migrations, failover
    // watches and replication it made.
    await Promise.all([...made.migrations.map((m) => m.close()), ...made.failovers.map((f) => f.close())]);
    if (prev !== undefined) prev.replication.retain(new Set(prev.config.pools.keys()), backends);
    backends.close(prev === undefined ? backends.all : backends.unused(prev.backends));
    throw err;
  }
}

/** What a build made (closed again if it fails). */
interface Made {
  migrations: Migration[];
  failovers: FailoverWatch[];
}

/** The previous generation's migration of pool `name`, if it had one. */
function previousMigration(prev: Generation | undefined, name: string): Migration | undefined {
  return prev?.migrations[[...prev.config.pools.keys()].indexOf(name)];
}

async function build(config: Config, pools: readonly PoolConfig[], backends: BackendPool, stats: ProxyStats, logger: Logger, made: Made, role: WorkerRole, prev?: Generation): Promise<Generation> {
  const track = (m: Migration): Migration => {
    made.migrations.push(m);
    return m;
  };
  const dispatcher = new Dispatcher(config, backends, stats);
  const replication = prev?.replication ?? new Replication(dispatcher.router, backends, stats, logger, rebuildHistory, role.replication);
  if (prev !== undefined) replication.update(dispatcher.router, backends);
  const routes: (PoolRoute | undefined)[] = [];
  const migrations = pools.map((pool, p) => {
    if (pool.migration === undefined) return undefined;
    const before = previousMigration(prev, pool.name);
    if (before !== undefined && JSON.stringify(before.config) === JSON.stringify(pool.migration) && ringChanges(prev!.config.pools.get(pool.name), pool).length === 0) {
      if (before.route instanceof MigrationRoute || before.route instanceof DeadOwnerRoute) routes[p] = before.route;
      return before;
    }
    // A pool with replica groups migrates each group on its own ring, inside its replication path.
    const groups = replication.groupsOf(pool.name);
    if (groups !== undefined) return track(new Migration(pool, replicatedSpace(pool, p, dispatcher.router, backends, groups), logger, 500, pool.migration, role.leads));
    // An autopilot migration that takes out servers gone from DNS while down: their keys start empty.
    const gone = goneAddresses(pool);
    const space = gone.length > 0 ? goneSpace(pool, p, dispatcher.router, backends, stats, gone) : activeSpace(pool, p, dispatcher.router, backends, stats);
    routes[p] = space.route;
    return track(new Migration(pool, space, logger, 500, pool.migration, role.leads));
  });
  const own: Live = { dispatcher, backends };
  const live = prev?.live ?? own;
  // A failover watch routes through the generation that serves (`live`); one of a pool this reload
  // adds, through this one until it serves.
  const liveFor = (name: string): Live => (live.dispatcher.router.poolId(name) === undefined ? own : live);
  const kept = prev?.failovers.filter((f) => config.pools.has(f.pool.name)) ?? [];
  made.failovers.push(...watchFailovers(pools, new Set(kept.map((f) => f.pool.name)), replication, liveFor, stats, logger, role.leads));
  const failovers = [...kept, ...made.failovers];
  const byRoute: (MigrationRoute | undefined)[] = [];
  const routeMigrations = config.routes.map((route, r) => {
    if (route.migration === undefined) return undefined;
    const before = prev?.routeMigrations[prev.config.routes.findIndex((x) => x.prefix === route.prefix)];
    if (before !== undefined && sameRouteMove(prev!.config, config, route)) {
      byRoute[r] = before.route as MigrationRoute;
      return before;
    }
    const space = routeSpace(config.routes, route, dispatcher.router, backends, stats);
    byRoute[r] = space.route;
    return track(new Migration(config.pools.get(route.pool)!, space, logger, 500, route.migration, role.leads));
  });
  if (byRoute.length > 0) dispatcher.useRouteMigrations(byRoute);
  // A pool's route: its migration's, or its replica groups' (which run a migration of theirs inside).
  routes.forEach((route, p) => {
    if (route !== undefined) dispatcher.setRoute(p, route);
  });
  replication.byPool(dispatcher.router).forEach((groups, p) => {
    if (groups !== undefined) dispatcher.setRoute(p, new ReplicatedRoute(groups, dispatcher.route(p)));
  });
  const g: Generation = { config, backends, dispatcher, replication, migrations, routeMigrations, failovers, live, role };
  adoptFailoverRoutes(g);
  dispatcher.migrationRunning = () => migrationsOf(g).some((m) => m.running);
  // Join a running migration (or failover) in its phase before taking clients.
  await Promise.all([...made.migrations.map((m) => m.start()), ...made.failovers.map((f) => f.start())]);
  return g;
}

/** The addresses of the servers an autopilot migration takes out because they left DNS while down (src/discovery). */
function goneAddresses(pool: PoolConfig): string[] {
  const gone = new Set(pool.migration?.discovered?.gone ?? []);
  return (pool.migration?.from[0]?.servers ?? []).filter((s) => gone.has(ketamaServerName(s))).map((s) => s.address);
}

/**
 * A route migration goes on as it is across a reload when its block, the routes (in any order) and
 * both pools' rings and connections are the same: what moves, and where from and to, did not change
 * (a timeout is no such change). Otherwise the next generation builds it again (it joins its record's
 * phase, as a restart does; a reload refuses those edits while one runs: config/route-migration-reload.ts).
 */
function sameRouteMove(before: Config, after: Config, route: RouteConfig): boolean {
  const routes = (c: Config): string => JSON.stringify([...c.routes].sort((a, b) => (a.prefix < b.prefix ? -1 : a.prefix > b.prefix ? 1 : 0)));
  const ringsKept = [route.pool, route.migration!.fromPool].every((p) => ringChanges(before.pools.get(p), after.pools.get(p)).length === 0);
  return routes(before) === routes(after) && ringsKept;
}

/**
 * A failover of a plain pool routes its pool through this generation's dispatcher (one that started
 * under an earlier config, or while this generation was being built).
 */
function adoptFailoverRoutes(g: Generation): void {
  const names = [...g.config.pools.keys()];
  for (const f of g.failovers) {
    const route = f.migration?.route;
    if (route instanceof DeadOwnerRoute) g.dispatcher.setRoute(names.indexOf(f.pool.name), route);
  }
}

/**
 * After a reload, once `next` serves: the failover watches route through it, and what `prev` had
 * that `next` dropped stops: its migrations, failover watches and replication of removed pools, and
 * its backends no longer used, closed once nothing is in flight on them (at most `graceMs` later).
 */
export function switchGeneration(prev: Generation, next: Generation, graceMs: number): void {
  Object.assign(next.live, { dispatcher: next.dispatcher, backends: next.backends });
  adoptFailoverRoutes(next);
  const migrations = new Set(migrationsOf(next));
  for (const m of [...prev.migrations, ...prev.routeMigrations]) if (m !== undefined && !migrations.has(m)) void m.close();
  const failovers = new Set(next.failovers);
  for (const f of prev.failovers) if (!failovers.has(f)) void f.close();
  next.replication.retain(new Set(next.config.pools.keys()), next.backends);
  const unused = prev.backends.unused(next.backends);
  if (unused.length > 0) closeWhenIdle(prev.backends, unused, graceMs);
}

/** How often backends a reload dropped are checked for requests still in flight. */
const IDLE_CHECK_MS = 100;

/** Closes `unused` once none of their connections has a request in flight on two checks in a row, or after `graceMs`. */
function closeWhenIdle(pool: BackendPool, unused: readonly Backend[], graceMs: number): void {
  const deadline = Date.now() + graceMs;
  let idleChecks = 0;
  const check = (): void => {
    const idle = unused.every((b) => b.connections.every((c) => c.inFlight === 0));
    idleChecks = idle ? idleChecks + 1 : 0;
    if (idleChecks >= 2 || Date.now() >= deadline) pool.close(unused);
    else setTimeout(check, IDLE_CHECK_MS).unref();
  };
  setTimeout(check, IDLE_CHECK_MS).unref();
}

export async function closeGeneration(g: Generation): Promise<void> {
  await Promise.all([...g.migrations.map((m) => m?.close()), ...g.routeMigrations.map((m) => m?.close()), ...g.failovers.map((f) => f.close())]);
  g.backends.close();
  await g.replication.close();
}

/**
 * A FailoverWatch per pool with `failover_after` (passive migration): with replica groups the
 * failover copies from a healthy group; without, the dead server's keys start empty elsewhere.
 */
function watchFailovers(pools: readonly PoolConfig[], watched: ReadonlySet<string>, replication: Replication, liveFor: (pool: string) => Live, stats: ProxyStats, logger: Logger, mayLead: boolean): FailoverWatch[] {
  return pools.flatMap((pool) => {
    if (pool.failoverAfterMs === undefined || watched.has(pool.name)) return [];
    const groups = replication.groupsOf(pool.name);
    if (groups !== undefined) {
      // Every server out of the ring (a sidecar that starts later learns earlier failovers from the newest record).
      const mark = (m: Migration, spec: FailoverSpec): void => {
        for (const s of [...(spec.out ?? []), spec]) replication.markResync(pool.name, s.server, `failed over (${m.id})`);
      };
      return [new FailoverWatch(pool, () => groups.backends, (spec) => failoverSpace(pool, groups, spec), logger, mark, 500, mayLead)];
    }
    // The pool's index where it is served now (a reload may move it).
    const at = (): { live: Live; p: number } => {
      const live = liveFor(pool.name);
      return { live, p: live.dispatcher.router.poolId(pool.name)! };
    };
    const spaceFor = (spec: FailoverSpec): MigrationSpace => {
      const { live, p } = at();
      const { dispatcher, backends } = live;
      const space = plainFailoverSpace(pool, p, dispatcher.router, backends, stats, spec);
      dispatcher.setRoute(p, space.route);
      return space;
    };
    const backendsOf = (): Backend[][] => {
      const { live, p } = at();
      return [live.backends.byPool[p]!];
    };
    return [new FailoverWatch(pool, backendsOf, spaceFor, logger, () => undefined, 500, mayLead)];
  });
}

/**
 * What a generation of `config` needs before anything connects (a dry run checks it too): its
 * routes and rings, and its TLS material. Throws what is wrong; returns the pools in ring order.
 */
export function preflight(config: Config): readonly PoolConfig[] {
  const pools = new Router(config).pools;
  checkBackendTls(pools);
  return pools;
}

/**
 * Reads every pool's TLS material (the pool's `tls` and a migration's `from_tls`) before anything
 * connects: a file that cannot be read or parsed stops the start (or refuses the reload), naming it.
 * (`verify: false` is allowed: config/warnings.ts says so at every start and reload.)
 */
function checkBackendTls(pools: readonly PoolConfig[]): void {
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
