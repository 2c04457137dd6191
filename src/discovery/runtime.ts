/**
 * The discovery of a running sidecar: every discovered group's DiscoveryWatch, and each plain pool's
 * autopilot. The app (app/server.ts) builds every generation from `effective(config)`, and this
 * runtime asks it to run that again (`host.apply`, an internal reload) when a pool's ring changes.
 *
 *   start:    resolve every name (start.ts) ─► the ring ─► (first generation) ─► follow the pool's
 *             record: an autopilot migration on record wins, its rings and phase ─► watch
 *   watch:    addresses ─► the DNS name points at the new address; its backends connect again
 *             stable    ─► pending; when no migration of the pool is unfinished: decide (autopilot.ts)
 *                          ─► nothing | refused (logged, counted; the ring stays) | a migration block
 *   every 500 ms: read the pool's record ─► another sidecar's autopilot migration ─► follow it (a
 *             sidecar that saw another answer, or none yet, runs the fleet's migration, not its own);
 *             a migration done or rolled back ─► the pending set is decided
 *
 * One migration per pool at a time: a stable set seen while one is unfinished (planned included)
 * waits, the latest one, and is decided once it is done. A finished migration's target is the ring.
 */
import type { Backend } from '../backend/index.js';
import { pointName } from '../backend/index.js';
import type { Config, DiscoveryConfig, PoolConfig } from '../config/types.js';
import { same } from '../config/pool-diff.js';
import type { Logger } from '../observability/logger.js';
import { isFinished } from '../migration/phases.js';
import { RecordStore, type MigrationRecord } from '../migration/record.js';
import { decide, describe, drainMove, movedShareOf } from './autopilot.js';
import { discoveredConfig, isDiscovered, type AutoMove, type DiscoveredPool } from './effective.js';
import { ringText } from './migration-id.js';
import { compareServers, createResolver, ringIdentity, toServerSpec, type DiscoveredServer } from './resolve.js';
import { resolveAtStart } from './start.js';
import { DiscoveryWatch, type DiscoveryChange, type DiscoverySnapshot } from './watch.js';

/** What the runtime needs of the app. */
export interface DiscoveryHost {
  /** The record of pool `pool`'s migration `id` in the generation that serves (undefined: not built there; null: not on record). */
  record(pool: string, id: string): MigrationRecord | null | undefined;
  /** The backends of the pool now (its ring and its migration's), to read its record. */
  backends(pool: string): readonly Backend[];
  /** Every backend now whose configured host is `host`. */
  backendsOf(host: string): readonly Backend[];
  /** Builds the running config again with the discovery's state; true when it applied. */
  apply(): Promise<boolean>;
}

/** The autopilot's counts per pool, for metrics. */
export interface AutopilotCounters {
  migrations: number;
  refusals: { share: number; empty: number; groups: number };
}

interface GroupEntry {
  readonly name: string;
  discovery: DiscoveryConfig;
  /** The servers in force before the pool's move (a replica group's: the servers it runs). */
  servers: readonly DiscoveredServer[];
  /** When its start's look-up answered (Unix ms), until its watch's first. */
  readonly resolvedAt: number;
  watch?: DiscoveryWatch;
}

interface PoolEntry {
  pool: PoolConfig;
  readonly groups: Map<string, GroupEntry>;
  /** A plain pool's latest autopilot migration. */
  move?: AutoMove;
  /** The latest stable set not yet decided on. */
  pending?: readonly DiscoveredServer[];
  drained: readonly string[];
  /** The migration a pending set was last logged waiting for. */
  waitLogged?: string;
  readonly counters: AutopilotCounters;
  /** Decisions and record reads of this pool run one at a time. */
  busy: Promise<unknown>;
}

/** Why a drain was not started: `unknown` (no such pool or server) or `refused` (not now). */
export class DrainError extends Error {
  constructor(
    message: string,
    readonly reason: 'unknown' | 'refused',
  ) {
    super(message);
    this.name = 'DrainError';
  }
}

const FOLLOW_MS = 500;
/**
 * How long after it is on record, planned, an autopilot migration that starts by itself starts:
 * long enough for every sidecar's record read (FOLLOW_MS) to see it and build it first.
 */
export const AUTO_START_DELAY_MS = 2_000;
const RELOAD_RESOLVE_WAIT_MS = 5_000;
const sorted = (list: readonly DiscoveredServer[]): DiscoveredServer[] => [...list].sort(compareServers);
const names = (list: readonly DiscoveredServer[]): string[] => list.map(ringIdentity);

export class DiscoveryRuntime {
  readonly #pools = new Map<string, PoolEntry>();
  #host: DiscoveryHost | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly logger: Logger,
    readonly startWaitMs?: number,
  ) {}

  /**
   * Resolves the discovered groups of `config` it does not know yet: every one at start, those a
   * reload adds (within 5 s). A known group keeps its servers and watch: a reload that changes its
   * name is refused (config/discovery-reload.ts), and a dry run must change nothing.
   */
  async prepare(config: Config, atStart: boolean): Promise<void> {
    for (const pool of config.pools.values()) {
      if (!isDiscovered(pool)) continue;
      let e = this.#pools.get(pool.name);
      for (const g of pool.groups) {
        if (g.discovery === undefined || e?.groups.has(g.name) === true) continue;
        const where = pool.groups.length > 1 ? `pool ${pool.name} group ${g.name}` : `pool ${pool.name}`;
        const resolver = createResolver(g.discovery.resolver === undefined ? {} : { resolver: g.discovery.resolver });
        const r = await resolveAtStart(g.discovery, resolver, where, this.logger, atStart ? this.startWaitMs : RELOAD_RESOLVE_WAIT_MS);
        for (const s of r.servers) this.#point(s, true);
        this.logger.info({ pool: pool.name, group: g.name, dns: g.discovery.dns, servers: r.servers.map((s) => `${ringIdentity(s)}=${s.address}`) }, `${where}: servers from DNS`);
        e ??= { pool, groups: new Map(), drained: [], counters: { migrations: 0, refusals: { share: 0, empty: 0, groups: 0 } }, busy: Promise.resolve() };
        e.groups.set(g.name, { name: g.name, discovery: g.discovery, servers: r.servers, resolvedAt: Date.now() });
        this.#pools.set(pool.name, e);
      }
    }
  }

  /** `config` with every discovered pool's servers and autopilot migration. */
  effective(config: Config): Config {
    const found = new Map<string, DiscoveredPool>();
    for (const [name, e] of this.#pools) {
      found.set(name, { groups: new Map([...e.groups].map(([g, x]) => [g, x.servers])), ...(e.move === undefined ? {} : { move: e.move }) });
    }
    return discoveredConfig(config, found);
  }

  /**
   * Before the first generation serves: each plain pool follows the autopilot migration on record,
   * if there is one (its rings win over this sidecar's DNS answer). True when a pool's ring or block
   * changed (the app then builds the generation again before it serves).
   */
  async adopt(host: DiscoveryHost): Promise<boolean> {
    this.#host = host;
    let changed = false;
    for (const e of this.#pools.values()) if (this.#plain(e) && (await this.#follow(e, true))) changed = true;
    return changed;
  }

  /** Once the generation serves: the watches start, from the sets the pools run, and the record is followed. */
  start(host: DiscoveryHost, config: Config): void {
    this.#host = host;
    this.reconfigured(config);
    const loop = async (): Promise<void> => {
      for (const e of this.#pools.values()) if (this.#plain(e)) await this.#serial(e, async () => (await this.#follow(e, false)) && this.#apply(e, 'follows the migration on record'));
      for (const e of this.#pools.values()) if (this.#plain(e)) await this.#serial(e, () => this.#decide(e));
    };
    const next = (): void => {
      if (this.#closed) return;
      this.#timer = setTimeout(() => void loop().catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'discovery loop failed')).finally(next), FOLLOW_MS).unref();
    };
    next();
  }

  /** The file config that serves now: pools it no longer has (or no longer discovers) stop; watches follow their blocks. */
  reconfigured(config: Config): void {
    for (const [name, e] of this.#pools) {
      const pool = config.pools.get(name);
      if (pool !== undefined && isDiscovered(pool)) continue;
      for (const g of e.groups.values()) g.watch?.stop();
      this.#pools.delete(name);
    }
    if (this.#host === undefined || this.#closed) return;
    for (const e of this.#pools.values()) {
      e.pool = config.pools.get(e.pool.name)!;
      for (const gc of e.pool.groups) {
        const g = e.groups.get(gc.name);
        if (g === undefined || gc.discovery === undefined) continue;
        // interval and resolver apply by a new watch; dns, port and names need a restart (config/discovery-reload.ts).
        if (g.watch !== undefined && same(g.discovery, gc.discovery) && g.watch.settings.minStableMs === this.#minStable(e)) continue;
        const before = g.watch;
        before?.stop();
        g.discovery = gc.discovery;
        g.watch = this.#watch(e, g);
        // Its counters go on (a counter that restarts at 0 reads as a reset).
        if (before !== undefined) Object.assign(g.watch.counters, before.counters);
      }
    }
  }

  #minStable(e: PoolEntry): number {
    return e.pool.autopilot?.minStableMs ?? 30_000;
  }

  #watch(e: PoolEntry, g: GroupEntry): DiscoveryWatch {
    const watch = new DiscoveryWatch({ pool: e.pool.name, group: g.name, discovery: g.discovery, minStableMs: this.#minStable(e), initial: sorted(this.#running(e, g)), log: this.logger });
    watch.counters.lastSuccessMs = g.resolvedAt;
    watch.onChange((c) => this.#onChange(e, g, c));
    watch.start();
    return watch;
  }

  /** The set a group runs now (what its watch starts from). */
  #running(e: PoolEntry, g: GroupEntry): readonly DiscoveredServer[] {
    if (!this.#plain(e) || e.move === undefined) return g.servers;
    return this.#inForce(e) ?? e.move.to;
  }

  #plain(e: PoolEntry): boolean {
    return e.pool.groups.length === 1 && e.groups.size === 1;
  }

  /** A DNS name with a ring name points at its address (backend/dial.ts); `fresh`: this sidecar's own answer (a record's only fills a gap). */
  readonly #fresh = new Set<string>();
  #point(s: DiscoveredServer, fresh: boolean): void {
    if (s.name === undefined || s.dnsName === undefined) return;
    if (!fresh && this.#fresh.has(s.dnsName)) return;
    if (fresh) this.#fresh.add(s.dnsName);
    pointName(s.dnsName, s.host);
  }

  #onChange(e: PoolEntry, g: GroupEntry, c: DiscoveryChange): void {
    const servers = c.type === 'stable' ? c.to : c.servers;
    for (const s of servers) this.#point(s, true);
    if (c.type === 'addresses') {
      // Same ring names, new addresses (a pod came back): only those backends connect again.
      for (const s of servers) if (s.dnsName !== undefined && s.name !== undefined) for (const b of this.#host?.backendsOf(s.dnsName) ?? []) b.redial(s.host);
      return;
    }
    if (c.type !== 'stable') return;
    if (!this.#plain(e)) return this.#groupChange(e, g, c.from, c.to);
    e.pending = c.to;
    void this.#serial(e, () => this.#decide(e));
  }

  /** Replica groups: a server that left is the failover's (failover_after); one added is not taken while running. */
  #groupChange(e: PoolEntry, g: GroupEntry, from: readonly DiscoveredServer[], to: readonly DiscoveredServer[]): void {
    const [before, after] = [new Set(names(from)), new Set(names(to))];
    const removed = [...before].filter((n) => !after.has(n));
    const added = [...after].filter((n) => !before.has(n));
    const where = `pool ${e.pool.name} group ${g.name}`;
    if (removed.length > 0) {
      const how = e.pool.failoverAfterMs === undefined ? 'set failover_after to move its keys to the rest of the group' : 'failover_after moves its keys to the rest of the group once it is down';
      this.logger.warn({ pool: e.pool.name, group: g.name, removed }, `${where}: ${removed.join(', ')} left DNS: ${how}`);
    }
    if (added.length > 0) {
      e.counters.refusals.groups++;
      this.logger.warn({ pool: e.pool.name, group: g.name, added }, `${where}: ${added.join(', ')} appeared in DNS: replica groups take new servers at a restart only (the autopilot migrates pools without replica groups)`);
    }
  }

  /** Runs `work` after the pool's previous decision or record read. */
  #serial(e: PoolEntry, work: () => Promise<unknown>): Promise<unknown> {
    const run = e.busy.then(work).catch((err: unknown) => this.logger.error({ pool: e.pool.name, err: (err as Error).message }, 'discovery: autopilot step failed'));
    e.busy = run;
    return run;
  }

  /** The record of the pool's move in the serving generation (undefined: not built there yet). */
  #record(e: PoolEntry): MigrationRecord | null | undefined {
    return e.move === undefined ? undefined : this.#host?.record(e.pool.name, e.move.id);
  }

  /** The servers the pool is served by once its move is over; null while it is unfinished (planned included). */
  #inForce(e: PoolEntry): readonly DiscoveredServer[] | null {
    const g = [...e.groups.values()][0]!;
    if (e.move === undefined) return g.servers;
    const r = this.#record(e);
    if (r === undefined || r === null || !isFinished(r)) return null;
    return r.phase === 'done' ? e.move.to : e.move.from;
  }

  async #decide(e: PoolEntry): Promise<void> {
    const pending = e.pending;
    if (pending === undefined || this.#closed) return;
    const inForce = this.#inForce(e);
    if (inForce === null) {
      const move = e.move!;
      const key = `${move.id}|${ringText(pending)}`;
      if (ringText(pending.filter((s) => !e.drained.includes(ringIdentity(s)))) !== ringText(move.to) && e.waitLogged !== key) {
        e.waitLogged = key;
        this.logger.warn({ pool: e.pool.name, running: move.id, seen: names(pending), target: names(move.to) }, `pool ${e.pool.name}: DNS here gives another set than migration ${move.id} moves to; the next migration waits until it is over`);
      }
      return;
    }
    e.pending = undefined;
    // A drained server stays out while DNS lists it; once its record is gone it is forgotten (a pod
    // of that name that comes back later is a new server).
    const listed = new Set(names(pending));
    e.drained = e.drained.filter((id) => listed.has(id));
    const downs = new Set(this.#host?.backends(e.pool.name).filter((b) => b.state !== 'up').map((b) => b.address) ?? []);
    const down = (id: string): boolean => inForce.some((s) => ringIdentity(s) === id && downs.has(toServerSpec(s, e.pool).address));
    const autopilot = e.pool.autopilot!;
    const decision = decide({ pool: e.pool, autopilot, inForce, seen: pending, drained: e.drained, down });
    if (decision.type === 'same') return;
    if (decision.type === 'refused') {
      e.counters.refusals[decision.reason]++;
      this.logger.warn({ pool: e.pool.name, reason: decision.reason, share: decision.share, max_moved_share: autopilot.maxMovedShare }, decision.message);
      return;
    }
    const { move, share, added, removed } = decision;
    // Servers gone while down are taken out first, on their own: the rest of the change is decided once that is done.
    if (decision.more) e.pending = pending;
    const gone = move.gone === undefined ? '' : `; ${move.gone.join(', ')} left DNS while down: no copy of its keys exists, they start empty on their new owners`;
    await this.#start(e, inForce, move, `${describe(added, removed)}: moves ${(share * 100).toFixed(1)}% of the keys${gone}`);
  }

  /** Runs `move` (the pool's ring before it: `inForce`); undone when the app cannot apply it. */
  async #start(e: PoolEntry, inForce: readonly DiscoveredServer[], planned: AutoMove, what: string): Promise<boolean> {
    const g = [...e.groups.values()][0]!;
    const move: AutoMove = planned.startAt === 'now' ? { ...planned, startAt: Date.now() + AUTO_START_DELAY_MS } : planned;
    const before = { servers: g.servers, move: e.move, drained: e.drained };
    g.servers = inForce;
    e.move = move;
    e.drained = move.drained;
    const how = move.startAt === 'command' ? 'is planned: it waits for memshift migrate start' : 'starts';
    this.logger.info({ pool: e.pool.name, id: move.id, from: names(move.from), to: names(move.to) }, `pool ${e.pool.name}: the servers changed (${what}); migration ${move.id} ${how}`);
    if (await this.#apply(e, `migration ${move.id}`)) {
      e.counters.migrations++;
      return true;
    }
    Object.assign(g, { servers: before.servers });
    e.move = before.move;
    e.drained = before.drained;
    return false;
  }

  async #apply(e: PoolEntry, why: string): Promise<boolean> {
    const ok = (await this.#host?.apply()) ?? false;
    if (!ok) this.logger.error({ pool: e.pool.name }, `pool ${e.pool.name}: the discovery's change (${why}) could not be applied; the running config stays`);
    return ok;
  }

  /**
   * Reads the pool's record and follows another sidecar's autopilot migration: always one that is
   * unfinished (unless this sidecar's own is on record and unfinished: the runtime's lease and
   * record keep one running), and a finished one this sidecar has not seen that starts or ends at
   * its ring (it missed it). `atStart`: any autopilot record decides the ring. True when it changed.
   */
  async #follow(e: PoolEntry, atStart: boolean): Promise<boolean> {
    const host = this.#host!;
    const store = new RecordStore(e.pool.name, '', host.backends(e.pool.name));
    // At start, as a migration joining its phase: up to 10 s until some server answers.
    const deadline = Date.now() + (atStart ? 10_000 : 0);
    let read = await store.read(atStart ? 3_000 : FOLLOW_MS);
    while (read.mine === undefined && Date.now() < deadline) {
      await new Promise((res) => setTimeout(res, 200));
      read = await store.read(3_000);
    }
    const other = read.other;
    const d = other?.discovered;
    if (other === null || d === undefined || other.id === e.move?.id) return false;
    const ours = this.#record(e);
    if (e.move !== undefined && ours !== undefined && ours !== null && !isFinished(ours)) return false;
    const inForce = this.#inForce(e);
    const known = inForce === null ? null : ringText(inForce);
    const relevant = atStart || !isFinished(other) || (known !== null && (ringText(d.from) === known || ringText(d.to) === known));
    if (!relevant) return false;
    for (const s of [...d.from, ...d.to]) this.#point(s, false);
    const g = [...e.groups.values()][0]!;
    g.servers = sorted(d.from);
    // A planned one is started by the sidecar that planned it (or, with migrate: auto here, by
    // whichever holds its lease, should that one be gone); a started one follows its record.
    const startAt = e.pool.autopilot?.migrate === 'auto' ? 'now' : 'command';
    e.move = { id: other.id, from: sorted(d.from), to: sorted(d.to), drained: d.drained, ...(d.gone === undefined ? {} : { gone: d.gone }), startAt };
    e.drained = d.drained;
    this.logger.info({ pool: e.pool.name, id: other.id, phase: other.phase, from: names(d.from), to: names(d.to) }, `pool ${e.pool.name}: follows autopilot migration ${other.id} on record (${other.phase})`);
    return true;
  }

  /** `memshift migrate drain HOST`: a migration that takes HOST out of the pool's ring (`pool`: needed when several pools discover). */
  async drain(host: string, pool?: string): Promise<{ pool: string; id: string; server: string; moved_share: number }> {
    const plain = [...this.#pools.values()].filter((e) => this.#plain(e) && (pool === undefined || e.pool.name === pool));
    if (plain.length === 0) throw new DrainError(pool === undefined ? 'no pool takes its servers from DNS without replica groups: drain is for those' : `pool ${pool} does not take its servers from DNS without replica groups`, 'unknown');
    if (plain.length > 1) throw new DrainError(`name the pool: one of ${plain.map((e) => e.pool.name).join(', ')}`, 'unknown');
    const e = plain[0]!;
    let out: { pool: string; id: string; server: string; moved_share: number } | Error = new DrainError(`pool ${e.pool.name}: the drain could not be applied (see the log)`, 'refused');
    await this.#serial(e, async () => {
      const inForce = this.#inForce(e);
      if (inForce === null) return (out = new DrainError(`pool ${e.pool.name}: migration ${e.move!.id} is not over (planned or running); drain once it is done`, 'refused'));
      let planned;
      try {
        planned = drainMove(e.pool, inForce, e.drained, host);
      } catch (err) {
        return (out = new DrainError((err as Error).message, 'unknown'));
      }
      const { move, share, server } = planned;
      if (await this.#start(e, inForce, move, `drain of ${server}: moves ${(share * 100).toFixed(1)}% of the keys`)) out = { pool: e.pool.name, id: move.id, server, moved_share: share };
    });
    if (out instanceof Error) throw out;
    return out;
  }

  /** Each watch's state, and each pool's autopilot counts. */
  snapshot(): { watches: DiscoverySnapshot[]; pools: { pool: string; move: string | null; pending: string[] | null; drained: readonly string[]; counters: AutopilotCounters; share: number | null }[] } {
    const watches = [...this.#pools.values()].flatMap((e) => [...e.groups.values()].flatMap((g) => (g.watch === undefined ? [] : [g.watch.snapshot()])));
    const pools = [...this.#pools.values()].map((e) => ({
      pool: e.pool.name,
      move: e.move?.id ?? null,
      pending: e.pending === undefined ? null : names(e.pending),
      drained: e.drained,
      counters: e.counters,
      share: e.move === undefined ? null : movedShareOf(e.pool, e.move.from, e.move.to),
    }));
    return { watches, pools };
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const e of this.#pools.values()) for (const g of e.groups.values()) g.watch?.stop();
  }
}
