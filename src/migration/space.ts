/**
 * What a migration moves and where it copies from, apart from how it runs (runtime.ts):
 *
 *   activeSpace    a pool's `migration:` block: the old ring's owners lose arcs to the new ring's;
 *                  the copy reads the old owners; routing is MigrationRoute (route.ts).
 *   replicatedSpace  the same for a pool with replica groups: each group whose servers change
 *                  migrates on its own ring (one part each); routing is a GroupRemapRoute per group.
 *   failoverSpace  a dead server of one replica group (failover.ts): its arcs move to the group's
 *                  other servers; the copy reads a healthy group; routing is GroupRemapRoute.
 *   routeSpace     a route's `migration:` block: the route's keys (MovedPrefix) move from the old
 *                  pool's ring to the route's pool's; the copy reads every server of the old pool;
 *                  routing is MigrationRoute, for the route's keys only.
 */
import type { LatencyHistogram } from '../observability/histogram.js';
import type { Backend, BackendPool } from '../backend/index.js';
import type { PoolConfig, RouteConfig, ServerSpec } from '../config/types.js';
import type { ProxyStats } from '../proxy/stats.js';
import type { ReplicaGroups } from '../replication/replica-groups.js';
import { RouteTable, createRing, type Router } from '../routing/index.js';
import { MovedArcs } from './arcs.js';
import { MovedPrefix, type MovedKeys } from './moved-keys.js';
import { GroupRemapRoute, GroupsRoute } from './group-remap.js';
import type { RouteMode } from './phases.js';
import { DeadOwnerRoute, MigrationRoute, type RouteCounters } from './route.js';

/** The data path of the moved keys, switched by the record's phase. */
export interface MoveRoute {
  mode: RouteMode;
  /**
   * performance.now() until which this sidecar's phase is known to be current (phase-view.ts); past
   * it, requests for moved keys wait. Infinity when nothing is guarded. Setting it releases them.
   */
  validUntil: number;
  /** performance.now() from which read-modify-writes of moved keys run in cutover (phased-route.ts). */
  rmwFrom: number;
  readonly counters: RouteCounters;
  /** How long held requests waited. */
  readonly holds: LatencyHistogram;
  expireHeld(ms: number): void;
  /**
   * The migration stopped here (memshift stops, or a reload replaced it): held requests fail with
   * SERVER_ERROR now, later ones that would wait fail at once, and background retries stop.
   */
  close(): void;
}

/** A server a failover takes out of its group's ring (of its pool's, without replica groups). */
export interface FailedServer {
  /** The replica group's name (the pool's name without replica groups). */
  group: string;
  /** The server's address. */
  server: string;
}

/**
 * What a failover removes (kept in its record, so that every sidecar builds the same rings): the
 * server that died, and the servers earlier failovers of the pool took out (`out`, oldest first),
 * which stay out. The config's servers less `out` is the ring the failover starts from.
 */
export interface FailoverSpec extends FailedServer {
  out?: FailedServer[];
}

/** The servers of `group` still in the ring before `spec` runs (the config's, less earlier failovers'). */
export function serversBefore(servers: readonly ServerSpec[], group: string, spec: FailoverSpec): ServerSpec[] {
  const out = new Set((spec.out ?? []).filter((o) => o.group === group).map((o) => o.server));
  return servers.filter((s) => !out.has(s.address));
}

/** One ring that changes: a plain pool's, or one replica group's. */
export interface MovePart {
  /** The replica group's name; undefined for a plain pool. */
  readonly group?: string;
  readonly arcs: MovedKeys;
  /** What the copy and verify read the moved keys from (throws when no source is healthy). */
  copySources(): ServerSpec[];
  /** The server holding the reference copy of a moved key. */
  sourceOf(key: Buffer): ServerSpec;
  /** Servers that lose keys (cleanup empties their moved keys); none when they are gone. */
  readonly losing: readonly ServerSpec[];
  /**
   * No copy of the moved keys exists (a failover without replica groups): the copy phase empties
   * the new owners' moved arcs instead, and there is nothing to verify.
   */
  readonly gone?: boolean;
}

export interface MigrationSpace {
  /** The rings that change (one, or one per replica group whose servers change). */
  readonly parts: readonly MovePart[];
  readonly route: MoveRoute;
  /** Every server the record is written to (and read from). */
  readonly recordServers: readonly Backend[];
  /** Where the lease is taken. */
  readonly leaseServer: Backend;
  readonly failover?: FailoverSpec;
  /** A route migration: the route's prefix and the pool its keys leave. */
  readonly prefixMove?: PrefixMove;
}

/** What a route migration moves: the keys its route takes, from `fromPool` to the route's pool. */
export interface PrefixMove {
  readonly prefix: string;
  readonly fromPool: string;
}

/**
 * The name a migration's record and lease are kept under (record.ts): its pool's name, or for a
 * route migration `route:` and the prefix base64url-encoded. Pool names hold no ":", so a route's
 * migration and a migration of its pool's servers never share a record; two sidecars that move the
 * same prefix under different ids see each other's record (and the second waits).
 */
export function recordName(pool: string, move?: PrefixMove): string {
  return move === undefined ? pool : `route:${Buffer.from(move.prefix, 'utf8').toString('base64url')}`;
}

/** The share of the keys that move (of the part that moves most). */
export function movedShare(space: MigrationSpace): number {
  return Math.max(0, ...space.parts.map((p) => p.arcs.movedShare));
}

const firstByAddress = (backends: readonly Backend[]): Backend => [...backends].sort((a, b) => (a.address < b.address ? -1 : 1))[0]!;

/** A pool's configured migration (one group). */
export function activeSpace(pool: PoolConfig, p: number, router: Router, backends: BackendPool, stats: ProxyStats): MigrationSpace & { route: MigrationRoute } {
  const from = pool.migration!.from[0]!.servers;
  const oldRing = createRing({ ...pool, name: `${pool.name} (from)`, servers: from });
  const arcs = MovedArcs.between(oldRing, from, router.ring(p), pool.servers);
  const space = liveOwnersSpace(arcs, backends.byMigration[p]![0]!, backends.byPool[p]!, stats);
  // An autopilot migration takes its lease on the ring it starts from, which sidecars that see
  // different new sets share: one lease for whichever change comes first (src/discovery).
  return pool.migration!.discovered === undefined ? space : { ...space, leaseServer: firstByAddress(backends.byMigration[p]![0]!) };
}

/**
 * Keys moving between live servers of plain pools (a pool's server list, a route's pools): the copy
 * reads the old owners, MigrationRoute routes the moved keys; the record on every old and new
 * server, the lease on the first new one by address.
 */
function liveOwnersSpace(keys: MovedKeys, oldBackends: readonly Backend[], newBackends: readonly Backend[], stats: ProxyStats): MigrationSpace & { route: MigrationRoute } {
  return {
    parts: [oldOwnersPart(keys)],
    route: new MigrationRoute(keys, oldBackends, newBackends, stats),
    recordServers: [...new Set<Backend>([...newBackends, ...oldBackends])],
    leaseServer: firstByAddress(newBackends),
  };
}

/**
 * The migration of `route` (one of `routes`): the keys it takes move from its `from_pool`'s ring to
 * its pool's. Which keys it takes is decided by a route table of its own, in prefix order, so a
 * reload that only reorders the routes keeps it. The record and lease are kept on both pools'
 * servers, the lease on the new pool's first.
 */
export function routeSpace(routes: readonly RouteConfig[], route: RouteConfig, router: Router, backends: BackendPool, stats: ProxyStats): MigrationSpace & { route: MigrationRoute } {
  const fromPool = route.migration!.fromPool;
  const from = router.poolId(fromPool);
  const to = router.poolId(route.pool);
  if (from === undefined || to === undefined) throw new Error(`route "${route.prefix}": unknown pool`);
  const prefixes = routes.map((x) => x.prefix).sort();
  const table = new RouteTable(prefixes.map((prefix) => ({ prefix, pool: 0 })), 0);
  const keys = new MovedPrefix(table, prefixes.indexOf(route.prefix), router.ring(from), router.pools[from]!.servers, router.ring(to), router.pools[to]!.servers);
  return { ...liveOwnersSpace(keys, backends.byPool[from]!, backends.byPool[to]!, stats), prefixMove: { prefix: route.prefix, fromPool } };
}

/** A ring change whose old owners are alive: the copy reads them, cleanup empties them. */
function oldOwnersPart(arcs: MovedKeys, group?: string): MovePart {
  const losing = arcs.movingServers().losing;
  return {
    ...(group === undefined ? {} : { group }),
    arcs,
    copySources: () => losing,
    sourceOf: (key) => arcs.oldServers[arcs.oldOwner(arcs.locate(key))]!,
    losing,
  };
}

/**
 * A pool with replica groups whose `migration.from` lists each group's previous servers: every
 * group whose servers change migrates on its own ring, all in one run (GroupRemapRoute per group).
 */
export function replicatedSpace(pool: PoolConfig, p: number, router: Router, backends: BackendPool, groups: ReplicaGroups): MigrationSpace & { route: GroupsRoute } {
  const m = pool.migration!;
  const parts: MovePart[] = [];
  const remaps: GroupRemapRoute[] = [];
  const all: Backend[] = [];
  pool.groups.forEach((group, g) => {
    const from = m.from.find((f) => f.name === group.name);
    if (from === undefined) throw new Error(`pool ${pool.name}: migration.from has no group "${group.name}"`);
    const oldBackends = backends.byMigration[p]![m.from.indexOf(from)]!;
    all.push(...oldBackends, ...backends.byGroup[p]![g]!);
    const oldRing = createRing({ ...pool, name: `${pool.name}/${group.name} (from)`, servers: from.servers });
    const arcs = MovedArcs.between(oldRing, from.servers, router.groupRing(p, g), group.servers);
    if (arcs.movedShare === 0) return;
    parts.push(oldOwnersPart(arcs, group.name));
    remaps.push(new GroupRemapRoute(groups, g, arcs, oldBackends, backends.byGroup[p]![g]!, true));
  });
  if (parts.length === 0) throw new Error(`pool ${pool.name}: the migration moves no key in any group`);
  for (const r of remaps) groups.setRemap(r);
  const servers = [...new Set(all)];
  return { parts, route: new GroupsRoute(remaps), recordServers: servers, leaseServer: firstByAddress(servers) };
}

/**
 * A failover of a pool without replica groups: `spec.server` leaves the pool's ring, and its keys
 * start empty on their new owners (DeadOwnerRoute).
 */
export function plainFailoverSpace(pool: PoolConfig, p: number, router: Router, backends: BackendPool, stats: ProxyStats, spec: FailoverSpec): MigrationSpace & { route: DeadOwnerRoute } {
  const before = serversBefore(pool.servers, spec.group, spec);
  const after = before.filter((s) => s.address !== spec.server);
  if (after.length === 0 || after.length === before.length) throw new Error(`failover of ${spec.server} in pool ${pool.name}: nothing would remain or nothing moves`);
  const ring = (servers: readonly ServerSpec[], tag: string) => createRing({ ...pool, name: `${pool.name} (${tag})`, servers });
  const oldRing = before.length === pool.servers.length ? router.ring(p) : ring(before, 'before failover');
  const arcs = MovedArcs.between(oldRing, before, ring(after, 'after failover'), after);
  const backendOf = (s: ServerSpec): Backend => backends.byPool[p]![pool.servers.indexOf(s)]!;
  const oldBackends = before.map(backendOf);
  const newBackends = after.map(backendOf);
  const none = (): never => {
    throw new Error(`no copy of ${spec.server}'s keys exists`);
  };
  const part: MovePart = { arcs, copySources: () => [], sourceOf: none, losing: [], gone: true };
  const route = new DeadOwnerRoute(new MigrationRoute(arcs, oldBackends, newBackends, stats), spec.server);
  return { parts: [part], route, recordServers: newBackends, leaseServer: firstByAddress(newBackends), failover: spec };
}

/**
 * An autopilot migration of a plain discovered pool whose old servers `gone` (addresses) left DNS
 * while down (src/discovery): its `from` ring less those is its servers, and their keys start empty
 * on their new owners, as a plain failover's (DeadOwnerRoute). The record is kept by the servers
 * that stay, the lease on the first of them.
 */
export function goneSpace(pool: PoolConfig, p: number, router: Router, backends: BackendPool, stats: ProxyStats, gone: readonly string[]): MigrationSpace & { route: DeadOwnerRoute } {
  const from = pool.migration!.from[0]!.servers;
  const arcs = MovedArcs.between(createRing({ ...pool, name: `${pool.name} (from)`, servers: from }), from, router.ring(p), pool.servers);
  const oldBackends = backends.byMigration[p]![0]!;
  const newBackends = backends.byPool[p]!;
  const none = (): never => {
    throw new Error(`no copy of ${gone.join(', ')}'s keys exists`);
  };
  const part: MovePart = { arcs, copySources: () => [], sourceOf: none, losing: [], gone: true };
  const route = new DeadOwnerRoute(new MigrationRoute(arcs, oldBackends, newBackends, stats), gone);
  return { parts: [part], route, recordServers: newBackends, leaseServer: firstByAddress(newBackends) };
}

/**
 * A failover of one replica group: `spec.server` leaves its ring (the group's servers less those
 * earlier failovers took out). The copy reads the first other group whose servers in the ring are
 * all up. The other groups keep earlier failovers' servers out (a fixed remap each).
 */
export function failoverSpace(pool: PoolConfig, groups: ReplicaGroups, spec: FailoverSpec): MigrationSpace & { route: GroupRemapRoute } {
  const g = pool.groups.findIndex((x) => x.name === spec.group);
  if (g < 0) throw new Error(`pool ${pool.name} has no replica group "${spec.group}"`);
  const ring = (group: number, servers: readonly ServerSpec[], tag: string) => createRing({ ...pool, name: `${pool.name}/${pool.groups[group]!.name} (${tag})`, servers });
  const inRing = pool.groups.map((x) => serversBefore(x.servers, x.name, spec));
  const backendsOf = (group: number, servers: readonly ServerSpec[]): Backend[] => servers.map((s) => groups.backends[group]![pool.groups[group]!.servers.indexOf(s)]!);
  // Earlier failovers of other groups: their servers stay out.
  pool.groups.forEach((x, o) => {
    if (o === g || inRing[o]!.length === x.servers.length) return;
    const arcs = MovedArcs.between(ring(o, x.servers, 'configured'), x.servers, ring(o, inRing[o]!, 'after failovers'), inRing[o]!);
    groups.setRemap(GroupRemapRoute.failedOver(groups, o, arcs, groups.backends[o]!, backendsOf(o, inRing[o]!)));
  });
  const before = inRing[g]!;
  const after = before.filter((s) => s.address !== spec.server);
  if (after.length === 0 || after.length === before.length) throw new Error(`failover of ${spec.server} in group ${spec.group}: nothing would remain or nothing moves`);
  const arcs = MovedArcs.between(ring(g, before, 'before'), before, ring(g, after, 'after'), after);
  const others = pool.groups.map((_, i) => i).filter((i) => i !== g);
  const healthy = (o: number): boolean => backendsOf(o, inRing[o]!).every((b) => b.state === 'up');
  const source = (): number => others.find(healthy) ?? others[0]!;
  const part: MovePart = {
    group: spec.group,
    arcs,
    copySources: () => {
      const o = source();
      if (!healthy(o)) throw new Error(`no replica group of pool ${pool.name} is healthy to copy from`);
      return inRing[o]!.slice();
    },
    sourceOf: (key) => {
      const o = source();
      const address = groups.ownerIn(o, key).address;
      return pool.groups[o]!.servers.find((s) => s.address === address)!;
    },
    losing: [],
  };
  const route = new GroupRemapRoute(groups, g, arcs, backendsOf(g, before), backendsOf(g, after), false);
  groups.setRemap(route);
  const live = pool.groups.flatMap((_, o) => backendsOf(o, inRing[o]!)).filter((b) => b.address !== spec.server);
  return { parts: [part], route, recordServers: live, leaseServer: firstByAddress(live), failover: spec };
}
