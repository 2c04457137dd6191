/**
 * A migration's status as GET /migration, `memshift migrate status` and the metrics show it: the
 * record's phase, counts and times, and this process's view (lease, progress, route counters).
 */
import type { MigrationSettings } from '../config/types.js';
import { durations, type Phase } from './phases.js';
import { emptyCounts, type MigrationRecord, type RunProgress } from './record.js';
import type { RouteCounters } from './phased-route.js';
import { movedShare, type MigrationSpace } from './space.js';

export interface MigrationStatus {
  pool: string;
  id: string;
  phase: Phase | null;
  paused: boolean;
  rolled_back: boolean;
  leader: string | null;
  this_process_leads: boolean;
  counts: MigrationRecord['counts'];
  t_copy_s: number | null;
  t_sync_s: number | null;
  t_verify_s: number | null;
  t_total_s: number | null;
  t_cleanup_s: number | null;
  /** The leader's current job run (record.ts), as it last published it (this process's own when it leads). */
  progress: RunProgress | null;
  verify: MigrationRecord['verify'];
  /** The configured `start:` time (ISO-8601); null for `start: now` or none. */
  start_at: string | null;
  /** While planned: when it starts ("starts at …", "waiting for migrate start"); null once started. */
  waiting: string | null;
  /** Why this migration does not start (another one of the pool is running). */
  error?: string;
  moved_share: number;
  route: RouteCounters;
  /** Set for a passive migration: the replica group and the server that died. */
  failover?: MigrationSpace['failover'];
  /** Set for a route migration: the route's prefix (its keys move from `from_pool` to `pool`). */
  prefix?: string;
  from_pool?: string;
}

export function statusOf(m: {
  pool: string;
  id: string;
  record: MigrationRecord | null;
  leads: boolean;
  blockedBy: string | null;
  /** The block's start (MigrationSettings.startAt), and the clock it is compared with. */
  startAt: MigrationSettings['startAt'];
  now: number;
  space: MigrationSpace;
  route: RouteCounters;
}): MigrationStatus {
  const r = m.record;
  const d = r === null ? null : durations(r.times);
  return {
    pool: m.pool,
    id: m.id,
    phase: r?.phase ?? 'planned',
    paused: r?.paused ?? false,
    rolled_back: r?.rolledBack ?? false,
    leader: r?.leader ?? null,
    this_process_leads: m.leads,
    counts: { ...(r?.counts ?? emptyCounts()), backfilled: Math.max(r?.counts.backfilled ?? 0, m.route.backfilled) },
    t_copy_s: d?.t_copy_s ?? null,
    t_sync_s: d?.t_sync_s ?? null,
    t_verify_s: d?.t_verify_s ?? null,
    t_total_s: d?.t_total_s ?? null,
    t_cleanup_s: d?.t_cleanup_s ?? null,
    progress: r?.progress ?? null,
    verify: r?.verify ?? null,
    start_at: typeof m.startAt === 'number' ? new Date(m.startAt).toISOString() : null,
    waiting: r === null || r.phase === 'planned' ? waitingText(m.startAt, m.now) : null,
    ...(m.blockedBy === null ? {} : { error: `pool ${m.pool} already has migration "${m.blockedBy}" running; this one waits` }),
    moved_share: movedShare(m.space),
    route: { ...m.route },
    ...(m.space.failover === undefined ? {} : { failover: m.space.failover }),
    ...(m.space.prefixMove === undefined ? {} : { prefix: m.space.prefixMove.prefix, from_pool: m.space.prefixMove.fromPool }),
  };
}

/** What a planned migration waits for. */
export function waitingText(startAt: MigrationSettings['startAt'], now: number): string {
  if (startAt === 'command') return 'waiting for migrate start';
  if (startAt === 'now' || startAt <= now) return 'starting (the lease holder starts it)';
  return `starts at ${new Date(startAt).toISOString()} (in ${Math.ceil((startAt - now) / 1000)} s)`;
}
