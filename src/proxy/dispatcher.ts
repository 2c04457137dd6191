/**
 * Request -> backend ops. The only place that turns keys into backends:
 * keyed commands go to their key's owner, a multi-key get is split by owner,
 * flush_all fans out, version and stats are answered here.
 */
import type { Config } from '../config/types.js';
import { Router } from '../routing/index.js';
import { Cmd, R, ReplyKind, isReserved, isRetrieval, noreplyHidesErrors, writeFlushAll, type Request } from '../protocol/index.js';
import { sendRequest } from './send-request.js';
import { Op, type Backend, type BackendPool } from '../backend/index.js';
import { FanoutSlot, KeyedSlot, LocalSlot, MultiGetSlot, type Slot, type SlotOwner } from './reply-slots.js';
import type { ProxyStats } from './stats.js';
import { MEMSHIFT_VERSION } from '../version.js';
import type { ReplicaGroups } from '../replication/replica-groups.js';

/** A key of the request (or its decoded meta key) is under __memshift__. */
function touchesReserved(req: Request): boolean {
  if (req.hashKey !== null && isReserved(req.hashKey)) return true;
  for (const k of req.keys) if (isReserved(k)) return true;
  return false;
}

/** A pool's own data path for keyed requests (a migration's route). */
export interface KeyRoute {
  dispatch(req: Request, owner: SlotOwner): Slot;
  /** Where a plain read of `key` goes in the current phase (for requests that span pools). */
  readOwner(key: Buffer): Backend;
}

/** The VERSION memshift reports when no backend has told its own yet. */
export const FALLBACK_MEMCACHED_VERSION = '1.6.0';

export class Dispatcher {
  readonly router: Router;
  readonly #byPool: Backend[][];
  readonly #flushTargets: Backend[];
  /** Per pool: its replica groups' data path, or undefined (one group: the plain path). */
  #replicated: readonly (ReplicaGroups | undefined)[] = [];
  /** Per pool: the route of its migration, or undefined. */
  #migrating: readonly (KeyRoute | undefined)[] = [];
  /** Per route (index in config.routes): the data path of its migration, or undefined. */
  #byRoute: readonly (KeyRoute | undefined)[] = [];
  readonly #backendFor = (key: Buffer): Backend => this.backendFor(key);

  constructor(
    readonly config: Config,
    readonly backends: BackendPool,
    readonly stats: ProxyStats,
  ) {
    this.router = new Router(config);
    this.#byPool = backends.byPool;
    this.#flushTargets = backends.all;
  }

  /** Hands pools with replica groups to their own data path. */
  useReplication(byPool: readonly (ReplicaGroups | undefined)[]): void {
    this.#replicated = byPool;
  }

  /** The replicated pool of a request, when all its keys are in one pool that has replica groups. */
  #replicatedPool(req: Request): ReplicaGroups | undefined {
    if (this.#replicated.length === 0) return undefined;
    const p = this.router.poolOf(req.hashKey ?? req.keys[0]!);
    const rg = this.#replicated[p];
    if (rg === undefined) return undefined;
    for (let i = 1; i < req.keys.length; i++) if (this.router.poolOf(req.keys[i]!) !== p) return undefined;
    return rg;
  }

  backendFor(key: Buffer): Backend {
    if (this.#byRoute.length > 0) {
      const r = this.router.routes.routeOf(key);
      const route = r < 0 ? undefined : this.#byRoute[r];
      if (route !== undefined) return route.readOwner(key);
    }
    const pool = this.router.poolOf(key);
    // A multi-get across pools lands here for a migrating pool's keys too: read them where its phase says.
    const route = this.#migrating[pool];
    if (route !== undefined) return route.readOwner(key);
    return this.#byPool[pool]![this.router.ring(pool).ownerOf(key)]!;
  }

  /** Whether a migration is running (flush_all is refused then); set by the migration. */
  migrationRunning: () => boolean = () => false;

  /** Hands pools with a migration configured to their route (src/migration). */
  useMigration(byPool: readonly (KeyRoute | undefined)[]): void {
    this.#migrating = byPool;
  }

  /** Hands the keys of routes with a migration configured to its route (src/migration), by route index. */
  useRouteMigrations(byRoute: readonly (KeyRoute | undefined)[]): void {
    this.#byRoute = byRoute;
  }

  /** The migration route of a request's route when all its keys are taken by one route with a migration. */
  #migratingRoute(req: Request): KeyRoute | undefined {
    const routes = this.router.routes;
    const r = routes.routeOf(req.hashKey ?? req.keys[0]!);
    const route = r < 0 ? undefined : this.#byRoute[r];
    if (route === undefined) return undefined;
    for (let i = 1; i < req.keys.length; i++) if (routes.routeOf(req.keys[i]!) !== r) return undefined;
    return route;
  }

  /** Routes pool `p` by `route` from now on (a failover that starts while memshift runs). */
  setRoute(p: number, route: KeyRoute): void {
    const routes = [...this.#migrating];
    routes[p] = route;
    this.#migrating = routes;
  }

  /** The route of a request's pool when all its keys are in one pool with a migration configured. */
  #migratingPool(req: Request): KeyRoute | undefined {
    const p = this.router.poolOf(req.hashKey ?? req.keys[0]!);
    const route = this.#migrating[p];
    if (route === undefined) return undefined;
    for (let i = 1; i < req.keys.length; i++) if (this.router.poolOf(req.keys[i]!) !== p) return undefined;
    return route;
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const cmd = req.cmd;
    if (req.keys.length > 0 && touchesReserved(req)) {
      return new LocalSlot(owner, noreplyHidesErrors(req) ? null : R.RESERVED_KEY);
    }
    if (req.keys.length > 0 && this.#byRoute.length > 0) {
      // A route migration's keys, before their pools' paths (neither pool replicates nor migrates: config/route-migration.ts).
      const route = this.#migratingRoute(req);
      if (route !== undefined) return route.dispatch(req, owner);
    }
    if (req.keys.length > 0 && this.#replicated.length > 0) {
      const rg = this.#replicatedPool(req);
      if (rg !== undefined) return rg.dispatch(req, owner);
    }
    if (req.keys.length > 0 && this.#migrating.length > 0) {
      const route = this.#migratingPool(req);
      if (route !== undefined) return route.dispatch(req, owner);
    }
    if (isRetrieval(cmd)) return this.plain(req, owner, this.#backendFor);
    switch (cmd) {
      case Cmd.Version:
        return new LocalSlot(owner, Buffer.from(`VERSION ${this.version()}\r\n`));
      case Cmd.Stats:
        return new LocalSlot(owner, this.#stats(req.sub));
      case Cmd.FlushAll:
        return this.#flushAll(req, owner);
      default:
        return this.#keyed(req, owner, this.backendFor(req.hashKey!), false);
    }
  }

  /**
   * A keyed request on one ring: `backendFor` gives each key's server. A multi-key get is split by
   * server. (The migration route uses it with the old or the new ring.)
   */
  /** A one-key request to a server already looked up (the migration route's unmoved keys). */
  keyed(req: Request, owner: SlotOwner, backend: Backend): Slot {
    return this.#keyed(req, owner, backend, false);
  }

  plain(req: Request, owner: SlotOwner, backendFor: (key: Buffer) => Backend): Slot {
    if (isRetrieval(req.cmd)) return this.#retrieval(req, owner, backendFor);
    return this.#keyed(req, owner, backendFor(req.hashKey!), false);
  }

  #keyed(req: Request, owner: SlotOwner, backend: Backend, failAsMisses: boolean): Slot {
    const slot = new KeyedSlot(owner, req, this.stats, failAsMisses);
    const refused = sendRequest(backend, req, null, slot, 0);
    if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Line, 0), refused);
    return slot;
  }

  #retrieval(req: Request, owner: SlotOwner, backendFor: (key: Buffer) => Backend): Slot {
    const keys = req.keys;
    if (keys.length === 0) return new LocalSlot(owner, R.END); // `gat 10` with no key
    if (keys.length === 1) return this.#keyed(req, owner, backendFor(keys[0]!), false);
    const owners = new Array<Backend>(keys.length);
    const first = (owners[0] = backendFor(keys[0]!));
    let single = true;
    for (let i = 1; i < keys.length; i++) {
      const b = (owners[i] = backendFor(keys[i]!));
      if (b !== first) single = false;
    }
    if (single) return this.#keyed(req, owner, first, true);
    const partOf = new Map<Backend, number>();
    const parts: number[][] = [];
    const partBackends: Backend[] = [];
    for (let i = 0; i < keys.length; i++) {
      const b = owners[i]!;
      let p = partOf.get(b);
      if (p === undefined) {
        p = parts.length;
        partOf.set(b, p);
        parts.push([]);
        partBackends.push(b);
      }
      parts[p]!.push(i);
    }
    const slot = new MultiGetSlot(owner, req, parts, this.stats);
    for (let p = 0; p < parts.length; p++) {
      const refused = sendRequest(partBackends[p]!, req, parts[p]!, slot, p);
      if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Retrieval, p), refused);
    }
    return slot;
  }

  #flushAll(req: Request, owner: SlotOwner): Slot {
    this.stats.cmdFlush++;
    if (!this.config.flushAll) return new LocalSlot(owner, req.noreply ? null : R.FLUSH_ALL_DISABLED);
    if (this.migrationRunning()) return new LocalSlot(owner, req.noreply ? null : R.FLUSH_ALL_MIGRATING);
    const targets = this.#flushTargets;
    const slot = new FanoutSlot(owner, req, targets.length, this.stats);
    for (const b of targets) {
      // One connection per backend is enough: flush_all acts on the whole server.
      const conn = b.connections[0]!;
      const op = new Op(slot, ReplyKind.Line, 0);
      const refused = conn.refuse();
      if (refused !== null) {
        slot.onOpError(op, refused);
        continue;
      }
      conn.push(op);
      writeFlushAll(conn.writer, req);
    }
    return slot;
  }

  /** The lowest memcached version among the backends that told theirs. */
  version(): string {
    let best: number[] | null = null;
    let text = FALLBACK_MEMCACHED_VERSION;
    for (const b of this.backends.all) {
      for (const c of b.connections) {
        if (c.version === null || c.state !== 'up') continue;
        const parts = c.version.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
        if (best === null || compareVersions(parts, best) < 0) {
          best = parts;
          text = c.version;
        }
      }
    }
    return text;
  }

  #stats(sub: string): Buffer {
    switch (sub) {
      case '':
        return Buffer.from(
          this.stats.format(this.version(), [
            ['memshift_version', MEMSHIFT_VERSION],
            ['memshift_pools', this.router.pools.length],
            ['memshift_backends', this.backends.all.length],
            ['memshift_backends_up', this.backends.all.filter((b) => b.state === 'up').length],
          ]),
        );
      case 'backends':
        return Buffer.from(this.#backendStats());
      case 'reset':
        this.stats.reset();
        return R.RESET;
      default:
        return R.ERROR;
    }
  }

  #backendStats(): string {
    const lines: string[] = [];
    this.router.pools.forEach((pool, p) => {
      pool.servers.forEach((server, s) => {
        const b = this.#byPool[p]![s]!;
        let requests = 0;
        let errors = 0;
        let refused = 0;
        let timeouts = 0;
        let inFlight = 0;
        for (const c of b.connections) {
          requests += c.counters.requests;
          errors += c.counters.errors;
          refused += c.counters.refused;
          timeouts += c.counters.timeouts;
          inFlight += c.inFlight;
        }
        const name = `${pool.name}:${server.name ?? server.address}`;
        lines.push(
          `STAT ${name}:address ${server.address}`,
          `STAT ${name}:state ${b.state}`,
          `STAT ${name}:version ${b.version ?? '-'}`,
          `STAT ${name}:weight ${server.weight}`,
          `STAT ${name}:connections ${b.connections.length}`,
          `STAT ${name}:requests ${requests}`,
          `STAT ${name}:errors ${errors}`,
          `STAT ${name}:refused ${refused}`,
          `STAT ${name}:timeouts ${timeouts}`,
          `STAT ${name}:in_flight ${inFlight}`,
        );
      });
    });
    return lines.map((l) => `${l}\r\n`).join('') + 'END\r\n';
  }
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
