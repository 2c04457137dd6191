/**
 * Replication for every pool that has replica groups: the per-pool data path
 * (ReplicaGroups) and where the writes a group missed are recorded (the
 * failed-write log when `write_log` is configured; counted either way). Replay
 * of the log and the rebuild of a group (sync) build on these records.
 */
import { Cmd, type Request } from '../protocol/index.js';
import type { BackendPool } from '../backend/index.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Router } from '../routing/index.js';
import type { ProxyStats } from '../proxy/stats.js';
import { ReplicaGroups } from './replica-groups.js';
import { WriteLog } from './write-log.js';
import { Replay } from './replay.js';
import { Recovery, type SyncStatus } from './recovery.js';
import type { Backend } from '../backend/index.js';
import { hostname } from 'node:os';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { ReplicaGroups } from './replica-groups.js';
export { WriteLog } from './write-log.js';

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

export interface ReplicationView {
  pool: string;
  log: WriteLog;
  replay: Replay;
  recovery: Recovery;
  held: ReadonlySet<Backend>;
  backends: Backend[];
}

export class Replication {
  /** byPool[pool]: the pool's groups, or undefined for a pool with one group. */
  readonly byPool: (ReplicaGroups | undefined)[];
  readonly #logs = new Map<number, WriteLog>();
  readonly #replays: Replay[] = [];
  readonly #recoveries = new Map<number, Recovery>();
  /** Missed writes per backend address, since start. */
  readonly missedWrites = new Map<string, number>();

  constructor(config: Config, router: Router, backends: BackendPool, stats: ProxyStats, logger: Logger) {
    this.byPool = router.pools.map((pool, p) => {
      if (pool.groups.length < 2) return undefined;
      // Without write_log, the log lives in a temporary directory: replay works, but not across restarts.
      // One subdirectory per pool, so pools sharing write_log.dir never share files.
      const dir = join(pool.writeLog?.dir ?? join(tmpdir(), `memshift-wlog-${process.pid}`), pool.name);
      const log = new WriteLog({ dir, maxBytes: pool.writeLog?.maxBytes ?? 64 * 1024 * 1024, logger });
      this.#logs.set(p, log);
      const groupBackends = backends.byGroup[p]!;
      const groups = new ReplicaGroups(p, pool, router, groupBackends, stats, (group: number, req: Request, to?: Backend) => {
        const backend = to ?? groups.ownerIn(group, req.hashKey ?? req.keys[0]!);
        this.missedWrites.set(backend.address, (this.missedWrites.get(backend.address) ?? 0) + 1);
        const op = req.cmd === Cmd.Delete || req.cmd === Cmd.MetaDelete ? 'delete' : 'set';
        log.append(backend.address, op, req.hashKey ?? req.keys[0]!);
      });
      const replay = new Replay(log, groups, logger);
      const held = new Set<Backend>();
      groups.held = held;
      const recovery = new Recovery({
        pool,
        backends: groupBackends,
        ownerIn: (g, key) => groups.ownerIn(g, key),
        inRing: (g) => groups.inRing(g),
        log,
        replay,
        held,
        logger,
        instance: INSTANCE,
      });
      this.#recoveries.set(p, recovery);
      this.#replays.push(replay);
      backends.upListeners.push((backend) => {
        // A server a failover took out of its group's ring is not recovered (it serves nothing).
        if (groups.isOut(backend)) return;
        groupBackends.forEach((servers, g) => {
          if (servers.includes(backend)) recovery.onUp(g, backend);
        });
      });
      return groups;
    });
    void config;
  }

  /**
   * Marks a backend of pool `p` for a full rebuild should it come back (a failover moved its keys
   * away, so its log no longer covers what it missed).
   */
  markResync(p: number, address: string, reason: string): void {
    this.#logs.get(p)?.markResync(address, reason);
  }

  /** Per pool with replica groups: its log, replay and recovery, and its backends (for metrics). */
  pools(router: Router, backends: BackendPool): ReplicationView[] {
    return [...this.#logs.keys()].map((p, i) => ({
      pool: router.pools[p]!.name,
      log: this.#logs.get(p)!,
      replay: this.#replays[i]!,
      recovery: this.#recoveries.get(p)!,
      held: this.byPool[p]!.held,
      backends: backends.byGroup[p]!.flat(),
    }));
  }

  /** JSON status for GET /replication. */
  status(router: Router, backends: BackendPool): { pools: { name: string; write: string; read: string; groups: GroupStatus[] }[] } {
    return {
      pools: router.pools.flatMap((pool, p) =>
        pool.groups.length < 2
          ? []
          : [
              {
                name: pool.name,
                write: pool.write,
                read: pool.read,
                groups: pool.groups.map((g, gi) => ({
                  name: g.name,
                  backends: backends.byGroup[p]![gi]!.map((b) => ({
                    address: b.address,
                    state: b.state,
                    reason: b.reason,
                    recovering: this.byPool[p]?.held.has(b) ?? false,
                    missedWrites: this.missedWrites.get(b.address) ?? 0,
                    logEntries: this.#logs.get(p)?.pending(b.address) ?? 0,
                    logBytes: this.#logs.get(p)?.bytes(b.address) ?? 0,
                    needsResync: this.#logs.get(p)?.needsResync(b.address) ?? false,
                    sync: this.#recoveries.get(p)?.syncs.get(b) ?? null,
                  })),
                })),
              },
            ],
      ),
    };
  }

  async close(): Promise<void> {
    for (const r of this.#recoveries.values()) r.close();
    await Promise.all([...this.#logs.values()].map((l) => l.close()));
  }
}
