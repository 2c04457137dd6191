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
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export { ReplicaGroups } from './replica-groups.js';
export { WriteLog } from './write-log.js';

export interface GroupStatus {
  name: string;
  backends: { address: string; state: string; missedWrites: number; logEntries: number; needsResync: boolean }[];
}

export class Replication {
  /** byPool[pool]: the pool's groups, or undefined for a pool with one group. */
  readonly byPool: (ReplicaGroups | undefined)[];
  readonly #logs = new Map<number, WriteLog>();
  readonly #replays: Replay[] = [];
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
      const groups = new ReplicaGroups(p, pool, router, groupBackends, stats, (group: number, req: Request) => {
        const backend = groupBackends[group]![router.groupRing(p, group).ownerOf(req.hashKey ?? req.keys[0]!)]!;
        this.missedWrites.set(backend.address, (this.missedWrites.get(backend.address) ?? 0) + 1);
        const op = req.cmd === Cmd.Delete || req.cmd === Cmd.MetaDelete ? 'delete' : 'set';
        log.append(backend.address, op, req.hashKey ?? req.keys[0]!);
      });
      const replay = new Replay(log, groups, logger);
      groups.replaying = replay.replaying;
      this.#replays.push(replay);
      backends.upListeners.push((backend) => {
        groupBackends.forEach((servers, g) => {
          if (servers.includes(backend)) void replay.onUp(g, backend);
        });
      });
      return groups;
    });
    void config;
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
                    missedWrites: this.missedWrites.get(b.address) ?? 0,
                    logEntries: this.#logs.get(p)?.pending(b.address) ?? 0,
                    needsResync: this.#logs.get(p)?.needsResync(b.address) ?? false,
                  })),
                })),
              },
            ],
      ),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#logs.values()].map((l) => l.close()));
  }
}
