/**
 * This process's part among the workers of `workers: N` (app/cluster). One process is worker 0 of
 * one: it leads migrations (takes their leases) and owns the failed-write logs. With several, only
 * worker 0 does; the others follow the migration records and send their missed writes to worker 0.
 */
import type { ReplicationRole } from '../replication/index.js';

export interface WorkerRole {
  /** 0 for one process; 0..N-1 for the workers (a worker forked again keeps its index). */
  readonly index: number;
  readonly workers: number;
  /** Takes migration and failover leases: runs copy, verify and cleanup. */
  readonly leads: boolean;
  /** Absent: one process, which owns its logs and tells no one. */
  readonly replication?: ReplicationRole;
}

export const ONE_PROCESS: WorkerRole = { index: 0, workers: 1, leads: true };
