/**
 * Replication for every pool that has replica groups: the per-pool data path
 * (ReplicaGroups) and where the writes a group missed are recorded (the
 * failed-write log when `write_log` is configured; counted either way). Replay
 * of the log and the rebuild of a group (sync) build on these records.
 *
 * With several workers (`workers: N`, app/cluster), worker 0 owns the logs and runs
 * replay and rebuilds (`role.owner`), and tells the others which backends are not
 * readable yet; the others send it their missed writes (forwarded-writes.ts) and hold
 * backends by its word (recovery-follower.ts).
 */
import { Cmd, type Request } from '../protocol/index.js';
import type { BackendPool } from '../backend/index.js';
import type { PoolConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Router } from '../routing/index.js';
import type { ProxyStats } from '../proxy/stats.js';
import { ReplicaGroups } from './replica-groups.js';
import { WriteLog } from './write-log.js';
import { Replay } from './replay.js';
import { Recovery, type RebuildHistory, type SyncStatus } from './recovery.js';
import { ForwardedLog, type FailedWrite, type FailedWriteLog, type FailedWriteSender, type LostWrites } from './forwarded-writes.js';
import { readinessOf, type BackendRef, type PoolRecovery, type Readiness, type ReadinessFollower } from './recovery-follower.js';
import type { Backend } from '../backend/index.js';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { ReplicaGroups } from './replica-groups.js';
export { WriteLog } from './write-log.js';
export { FailedWriteSender, decodeFailedWrites, encodeFailedWrites, type FailedWrite, type LostWrites } from './forwarded-writes.js';
export { ReadinessFollower, type BackendRef, type Readiness } from './recovery-follower.js';

export interface GroupStatus {
  name: string;
  backends: {
    address: string;
    state: string;
    /** Why it is not up (a connect or TLS error, a failed login); null when up. */
    reason: string | null;
    /** Out of the read order while its log is replayed or it is rebuilt. */
    recovering: boolean;
    missedWrites: number;
    logEntries: number;
    logBytes: number;
    needsResync: boolean;
    /** The running or last rebuild of this backend, with its counts and T_* times. */
    sync: SyncStatus | null;
  }[];
}

/** Names this process in rebuild leases (see recovery.ts). */
const INSTANCE = `${hostname()}:${process.pid}`;

/**
 * How this process's replication meets the other workers' (`workers: N`, app/cluster); absent: one
 * process. The owner (worker 0) keeps the logs, replays and rebuilds, and calls `changed` when the
 * backends it holds change; a follower sends its missed writes with `sender` and holds backends as
 * `readiness` (worker 0's reports) says.
 */
export type ReplicationRole =
  | { readonly owner: true; readonly changed: () => void }
  | { readonly owner: false; readonly sender: FailedWriteSender; readonly readiness: ReadinessFollower };

export interface ReplicationView {
  pool: string;
  log: FailedWriteLog;
  replay: Pick<Replay, 'counters'>;
  recovery: PoolRecovery;
  held: ReadonlySet<Backend>;
  backends: Backend[];
}

/** Worker 0's held backends: every change is told to the other workers (`changed`, coalesced by the caller). */
class HeldBackends extends Set<Backend> {
  constructor(readonly changed: () => void) {
    super();
  }

  override add(b: Backend): this {
    const had = this.has(b);
    super.add(b);
    if (!had) this.changed();
    return this;
  }

  override delete(b: Backend): boolean {
    const had = super.delete(b);
    if (had) this.changed();
    return had;
  }
}

/** One pool's replication: its data path, failed-write log, replay and recovery. */
interface PoolReplication {
  readonly groups: ReplicaGroups;
  readonly log: FailedWriteLog;
  readonly replay: Pick<Replay, 'counters'>;
  readonly recovery: PoolRecovery;
  /** Its hook in the backends' up listeners (removed with the pool). */
  readonly onUp: (backend: Backend) => void;
}

/**
 * Replication of every pool with replica groups, by pool name: a reload keeps a pool's (its groups
 * and settings cannot change without a restart), adds it for a pool added (update) and closes it for
 * a pool removed (retain). A pool's ReplicaGroups keeps the router and pool id it was made with, whose
 * rings are its groups'.
 */
export class Replication {
  readonly #pools = new Map<string, PoolReplication>();
  /** Missed writes per backend address, since start. */
  readonly missedWrites = new Map<string, number>();

  constructor(
    router: Router,
    backends: BackendPool,
    readonly stats: ProxyStats,
    readonly logger: Logger,
    /** Where rebuilds are recorded (migration/history-store.ts rebuildHistory). */
    readonly history: RebuildHistory,
    readonly role?: ReplicationRole,
  ) {
    this.update(router, backends);
  }

  /** The groups of pool `name`, or undefined for a pool with one group (or none of that name). */
  groupsOf(name: string): ReplicaGroups | undefined {
    return this.#pools.get(name)?.groups;
  }

  /** Per pool of `router`, in its order: the pool's groups, or undefined for a pool with one group. */
  byPool(router: Router): (ReplicaGroups | undefined)[] {
    return router.pools.map((pool) => this.groupsOf(pool.name));
  }

  /** Starts replication for the pools of `router` with replica groups that have none yet. */
  update(router: Router, backends: BackendPool): void {
    router.pools.forEach((pool, p) => {
      if (pool.groups.length >= 2 && !this.#pools.has(pool.name)) this.#pools.set(pool.name, this.#startPool(pool, p, router, backends));
    });
  }

  /** Stops the replication of the pools not in `keep` (a reload removed them, or failed after adding them). */
  retain(keep: ReadonlySet<string>, backends: BackendPool): void {
    for (const [name, r] of this.#pools) {
      if (keep.has(name)) continue;
      this.#pools.delete(name);
      const i = backends.upListeners.indexOf(r.onUp);
      if (i >= 0) backends.upListeners.splice(i, 1);
      r.recovery.close();
      void r.log.close();
    }
  }

  #startPool(pool: PoolConfig, p: number, router: Router, backends: BackendPool): PoolReplication {
    const { stats, logger, history, role } = this;
    const groupBackends = backends.byGroup[p]!;
    const follower = role?.owner === false ? role : undefined;
    // Without write_log, the log lives in a temporary directory: replay works, but not across restarts.
    // One subdirectory per pool, so pools sharing write_log.dir never share files.
    const dir = join(pool.writeLog?.dir ?? join(tmpdir(), `memshift-wlog-${process.pid}`), pool.name);
    const own = follower === undefined ? new WriteLog({ dir, maxBytes: pool.writeLog?.maxBytes ?? 64 * 1024 * 1024, logger }) : undefined;
    const log: FailedWriteLog = own ?? new ForwardedLog(pool.name, follower!.sender);
    const groups = new ReplicaGroups(p, pool, router, groupBackends, stats, (group: number, req: Request, to?: Backend) => {
      const backend = to ?? groups.ownerIn(group, req.hashKey ?? req.keys[0]!);
      const op = req.cmd === Cmd.Delete || req.cmd === Cmd.MetaDelete ? 'delete' : 'set';
      this.#missed(log, backend.address, op, req.hashKey ?? req.keys[0]!);
    });
    if (own === undefined) {
      const held = new Set<Backend>();
      groups.held = held;
      const recovery = follower!.readiness.follow(pool.name, groupBackends.flat(), held);
      return this.#watchUps(backends, groups, recovery, { groups, log, replay: { counters: { replays: 0, replayed: 0, copied: 0, deleted: 0, failed: 0 } } });
    }
    const replay = new Replay(own, groups, logger);
    const held = role?.owner === true ? new HeldBackends(role.changed) : new Set<Backend>();
    groups.held = held;
    const recovery = new Recovery({
      pool,
      backends: groupBackends,
      ownerIn: (g, key) => groups.ownerIn(g, key),
      inRing: (g) => groups.inRing(g),
      log: own,
      replay,
      history,
      held,
      logger,
      instance: INSTANCE,
    });
    return this.#watchUps(backends, groups, recovery, { groups, log, replay });
  }

  /** Recovers a backend of the pool when it comes up (its hook in the backends' up listeners). */
  #watchUps(backends: BackendPool, groups: ReplicaGroups, recovery: PoolRecovery, r: Omit<PoolReplication, 'recovery' | 'onUp'>): PoolReplication {
    const onUp = (backend: Backend): void => {
      // A server a failover took out of its group's ring is not recovered (it serves nothing).
      if (groups.isOut(backend)) return;
      groups.backends.forEach((servers, g) => {
        if (servers.includes(backend)) recovery.onUp(g, backend);
      });
    };
    backends.upListeners.push(onUp);
    return { ...r, recovery, onUp };
  }

  /** A write `backend` missed: counted, and logged (here, or by worker 0). */
  #missed(log: FailedWriteLog, backend: string, op: 'set' | 'delete', key: Buffer): void {
    this.missedWrites.set(backend, (this.missedWrites.get(backend) ?? 0) + 1);
    log.append(backend, op, key);
  }

  /** Worker 0: the writes another worker's groups missed, into the logs (a pool not here any more: dropped). */
  appendForwarded(writes: readonly FailedWrite[]): void {
    for (const w of writes) {
      const r = this.#pools.get(w.pool);
      if (r !== undefined) this.#missed(r.log, w.backend, w.op, w.key);
    }
  }

  /** Worker 0: another worker could not send these backends' missed writes: they need a rebuild. */
  markLost(lost: readonly LostWrites[]): void {
    for (const l of lost) this.markResync(l.pool, l.backend, 'failed writes lost on their way from another worker');
  }

  /**
   * Worker 0: backends another worker saw come up. Each is recovered as on an up of this process's
   * own (its log replayed, a restart rebuilt): this process's connection may have stayed up, idle,
   * while the other worker's writes there failed and came to this log.
   */
  recoverUps(ups: readonly BackendRef[]): void {
    for (const u of ups) {
      const r = this.#pools.get(u.pool);
      const b = r?.groups.backends.flat().find((x) => x.address === u.backend);
      if (r !== undefined && b !== undefined && b.state === 'up') r.onUp(b);
    }
  }

  /** Worker 0: per pool, the backends not readable here (down, or held by recovery), for the other workers. */
  readiness(): Readiness {
    return readinessOf(this.pools());
  }

  /** A follower: worker 0's report (`answer`: the id of this worker's ask it answers). */
  followReadiness(readiness: Readiness, answer?: number): void {
    if (this.role?.owner === false) this.role.readiness.report(readiness, answer);
  }

  /**
   * Marks a backend of pool `pool` for a full rebuild should it come back (a failover moved its keys
   * away, so its log no longer covers what it missed).
   */
  markResync(pool: string, address: string, reason: string): void {
    this.#pools.get(pool)?.log.markResync(address, reason);
  }

  /** Per pool with replica groups: its log, replay and recovery, and its backends (for metrics). */
  pools(): ReplicationView[] {
    return [...this.#pools].map(([pool, r]) => ({
      pool,
      log: r.log,
      replay: r.replay,
      recovery: r.recovery,
      held: r.groups.held,
      backends: r.groups.backends.flat(),
    }));
  }

  /** JSON status for GET /replication. */
  status(): { pools: { name: string; write: string; read: string; groups: GroupStatus[] }[] } {
    return {
      pools: [...this.#pools].map(([name, r]) => {
        const { pool } = r.groups;
        return {
          name,
          write: pool.write,
          read: pool.read,
          groups: pool.groups.map((g, gi) => ({
            name: g.name,
            backends: r.groups.backends[gi]!.map((b) => ({
              address: b.address,
              state: b.state,
              reason: b.reason,
              recovering: r.groups.held.has(b),
              missedWrites: this.missedWrites.get(b.address) ?? 0,
              logEntries: r.log.pending(b.address),
              logBytes: r.log.bytes(b.address),
              needsResync: r.log.needsResync(b.address),
              sync: r.recovery.syncs.get(b) ?? null,
            })),
          })),
        };
      }),
    };
  }

  async close(): Promise<void> {
    if (this.role?.owner === false) this.role.readiness.close();
    for (const r of this.#pools.values()) r.recovery.close();
    await Promise.all([...this.#pools.values()].map((r) => r.log.close()));
  }
}
