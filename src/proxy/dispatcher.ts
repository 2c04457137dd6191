/**
 * Request -> the route that runs it. The only place that turns keys into pools, in this order:
 *
 *   a key under __memshift__          refused here (RESERVED_KEY)
 *   all keys in one migrating route   that route migration's route (by route index)
 *   all keys in one pool              the pool's route (PoolRoute: plain, replicated or migrating)
 *   keys in several pools             each key where its pool's route (or its route migration)
 *                                     reads it, a multi-key get split by server (forward.ts)
 *   version, stats, flush_all         answered here (local-commands.ts)
 *
 * A plain pool's keys go the last way too while a route migration is configured: a get whose keys
 * are in one pool but not all in the migrating route reads the route's keys where its phase says.
 */
import type { Config } from '../config/types.js';
import { Router } from '../routing/index.js';
import { Cmd, R, isReserved, isRetrieval, noreplyHidesErrors, type Request } from '../protocol/index.js';
import type { Backend, BackendPool } from '../backend/index.js';
import { LocalSlot, type Slot, type SlotOwner } from './reply-slots.js';
import type { ProxyStats } from './stats.js';
import { forward, forwardTo } from './forward.js';
import { PlainRoute, type PoolRoute } from './pool-route.js';
import { flushAll, statsReply, versionReply } from './local-commands.js';

/** A key of the request (or its decoded meta key) is under __memshift__. */
function touchesReserved(req: Request): boolean {
  if (req.hashKey !== null && isReserved(req.hashKey)) return true;
  for (const k of req.keys) if (isReserved(k)) return true;
  return false;
}

export class Dispatcher {
  readonly router: Router;
  /** Per pool: its route (plain until the assembly hands it a replicated or migrating one). */
  readonly #routes: PoolRoute[];
  /** Per route (index in config.routes): the data path of its migration, or undefined. */
  #byRoute: readonly (PoolRoute | undefined)[] = [];
  /** Where a key goes in a request whose keys span pools (or routes). */
  readonly #backendFor = (key: Buffer): Backend => {
    if (this.#byRoute.length > 0) {
      const r = this.router.routes.routeOf(key);
      const route = r < 0 ? undefined : this.#byRoute[r];
      if (route !== undefined) return route.readOwner(key);
    }
    return this.#routes[this.router.poolOf(key)]!.readOwner(key);
  };

  constructor(
    readonly config: Config,
    readonly backends: BackendPool,
    readonly stats: ProxyStats,
  ) {
    this.router = new Router(config);
    this.#routes = this.router.pools.map((_, p) => new PlainRoute(backends.byPool[p]!, this.router.ring(p), stats));
  }

  /** Whether a migration is running (flush_all is refused then); set by the assembly (app/generation.ts). */
  migrationRunning: () => boolean = () => false;

  /** The route of pool `p`. */
  route(p: number): PoolRoute {
    return this.#routes[p]!;
  }

  /** Routes pool `p` by `route` from now on (replica groups, a migration, or a failover that starts while memshift runs). */
  setRoute(p: number, route: PoolRoute): void {
    this.#routes[p] = route;
  }

  /** Hands the keys of routes with a migration configured to its route (src/migration), by route index. */
  useRouteMigrations(byRoute: readonly (PoolRoute | undefined)[]): void {
    this.#byRoute = byRoute;
  }

  /** The migration route of a request's route when all its keys are taken by one route with a migration. */
  #migratingRoute(req: Request): PoolRoute | undefined {
    const routes = this.router.routes;
    const r = routes.routeOf(req.hashKey ?? req.keys[0]!);
    const route = r < 0 ? undefined : this.#byRoute[r];
    if (route === undefined) return undefined;
    for (let i = 1; i < req.keys.length; i++) if (routes.routeOf(req.keys[i]!) !== r) return undefined;
    return route;
  }

  /** The route of a request's pool when all its keys are in one pool (a plain one: not while route migrations are configured). */
  #poolRoute(req: Request): PoolRoute | undefined {
    const router = this.router;
    const p = router.poolOf(req.hashKey ?? req.keys[0]!);
    for (let i = 1; i < req.keys.length; i++) if (router.poolOf(req.keys[i]!) !== p) return undefined;
    const route = this.#routes[p]!;
    return this.#byRoute.length > 0 && route instanceof PlainRoute ? undefined : route;
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const cmd = req.cmd;
    if (req.keys.length > 0) {
      if (touchesReserved(req)) return new LocalSlot(owner, noreplyHidesErrors(req) ? null : R.RESERVED_KEY);
      if (this.#byRoute.length > 0) {
        // A route migration's keys, before their pools' routes (neither pool replicates nor migrates: config/route-migration.ts).
        const route = this.#migratingRoute(req);
        if (route !== undefined) return route.dispatch(req, owner);
      }
      const route = this.#poolRoute(req);
      if (route !== undefined) return route.dispatch(req, owner);
      return forward(req, owner, this.stats, this.#backendFor);
    }
    if (isRetrieval(cmd)) return forward(req, owner, this.stats, this.#backendFor);
    switch (cmd) {
      case Cmd.Version:
        return new LocalSlot(owner, versionReply(this.backends.all));
      case Cmd.Stats:
        return new LocalSlot(owner, statsReply(req.sub, this.stats, this.router.pools, this.backends));
      case Cmd.FlushAll:
        return flushAll(req, owner, this.stats, this.backends.all, this.config.flushAll, this.migrationRunning);
      default:
        return forwardTo(req, owner, this.stats, this.#backendFor(req.hashKey!));
    }
  }
}
