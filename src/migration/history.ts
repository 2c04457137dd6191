/**
 * What happened: the result of every finished or aborted migration, replica sync and rebuild,
 * kept after its `migration:` block is removed (GET /migration/history, `memshift migrate
 * history`, the `done` log line, memshift_migration_last_duration_seconds).
 *
 * Where it lives, and why: in the cache tier, like the record, as one bounded item per pool,
 * `__memshift__:history:<pool>` (history-store.ts), written by whoever finishes the run (the
 * migration's leader, the sidecar that rebuilt a backend, `memshift sync`) to every server the run
 * touched. So every sidecar shows the same history, and a sidecar that restarts, or one started
 * later, still has it. A cache may evict the item, so each process also keeps what it saw itself
 * (this file: the results it finished or watched finish, and the last ones it read), merges that
 * with the stored item on every read, and writes the merge back with its next result.
 */
import { durations, type Phase } from './phases.js';
import type { MigrationCounts, MigrationRecord } from './record.js';
import type { FailoverSpec } from './space.js';
import type { ProgressSnapshot } from '../copy/index.js';

/** planned: a `migration:` block; passive: a failover; route: a prefix moved between pools; sync: `memshift sync`; rebuild: a backend rebuilt by a sidecar. */
export type MigrationKind = 'planned' | 'passive' | 'route' | 'sync' | 'rebuild';

/** How many results are kept of each pool (in the store and in a process). */
export const HISTORY_LIMIT = 50;
/** How many phase switches a record keeps (the phases, pauses and resumes: the latest ones). */
const SWITCH_LIMIT = 32;

/** A phase switch, a pause or a resume, on the leader's clock (Unix ms). */
export interface PhaseSwitch {
  /** A phase; rolled_back, paused, resumed; `sync` for the dual-write window of a sync or rebuild. */
  phase: Phase | 'rolled_back' | 'paused' | 'resumed' | 'sync';
  at: number;
}

export interface MigrationResult {
  kind: MigrationKind;
  pool: string;
  id: string;
  /** done: it finished; aborted: rolled back; failed: a sync or rebuild that did not converge. */
  outcome: 'done' | 'aborted' | 'failed';
  /** The servers before and after (group/address for replica groups); a sync's or rebuild's source and target. */
  from: string[];
  to: string[];
  /** ISO-8601. */
  started_at: string | null;
  ended_at: string;
  switches: { phase: PhaseSwitch['phase']; at: string }[];
  counts: Partial<MigrationCounts>;
  t_copy_s: number | null;
  t_sync_s: number | null;
  t_verify_s: number | null;
  t_total_s: number | null;
  t_cleanup_s: number | null;
  /** What verify left, or why a run failed. */
  note?: string;
  failover?: FailoverSpec;
}

/**
 * `after` with the switch from `before` to it appended (a phase, a rollback finished, a pause or a
 * resume), at `after.since` or, for a pause or resume, at `now`. The publisher calls it, so every
 * sidecar reads the same list from the record.
 */
export function withSwitch(before: MigrationRecord | null, after: MigrationRecord, now: number): MigrationRecord {
  const list = before?.switches ?? after.switches ?? [];
  let add: PhaseSwitch | null = null;
  if (before === null || before.phase !== after.phase) add = { phase: after.phase, at: after.since };
  else if (after.rolledBack && !before.rolledBack) add = { phase: 'rolled_back', at: after.since };
  else if (after.paused !== before.paused) add = { phase: after.paused ? 'paused' : 'resumed', at: now };
  if (add === null) return after.switches === list ? after : { ...after, switches: list };
  return { ...after, switches: [...list, add].slice(-SWITCH_LIMIT) };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The result of a finished migration record. */
export function resultOf(r: MigrationRecord, kind: MigrationKind, from: string[], to: string[]): MigrationResult {
  const d = durations(r.times);
  const t = r.times;
  const started = t.t0 ?? t.abortedAt ?? r.switches?.[0]?.at ?? null;
  const ended = t.cleanupEnd ?? r.since;
  return {
    kind,
    pool: r.pool,
    id: r.id,
    outcome: r.phase === 'done' ? 'done' : 'aborted',
    from,
    to,
    started_at: iso(started),
    ended_at: iso(ended)!,
    switches: (r.switches ?? []).map((s) => ({ phase: s.phase, at: iso(s.at)! })),
    counts: { ...r.counts },
    ...d,
    ...(r.verify === null ? {} : { note: r.verify.note }),
    ...(r.failover === undefined ? {} : { failover: r.failover }),
  };
}

/** A copy-engine run (`memshift sync`, a rebuild) as a result: its copy, sync and verify windows are its switches. */
export function resultOfRun(run: { kind: MigrationKind; pool: string; id: string; from: string[]; to: string[]; progress: ProgressSnapshot; ok: boolean; note?: string; endedAt: number }): MigrationResult {
  const t = run.progress.times;
  const d = run.progress.durations;
  const c = run.progress.counts;
  const s = (ms: number | null): number | null => (ms === null ? null : ms / 1000);
  const switches = ([['copy', t.t0], ['sync', t.t1], ['verify', t.t2], ['done', t.t3]] as const).flatMap(([phase, at]) => (at === null ? [] : [{ phase, at: iso(at)! }]));
  return {
    kind: run.kind,
    pool: run.pool,
    id: run.id,
    outcome: run.ok ? 'done' : 'failed',
    from: run.from,
    to: run.to,
    started_at: iso(t.t0),
    ended_at: iso(t.t3 ?? run.endedAt)!,
    switches,
    counts: { scanned: c.scanned, copied: c.copied, skipped: c.skipped, verified: c.verified, mismatched: c.mismatched, repaired: c.repaired, errors: c.errors },
    t_copy_s: s(d.copyMs),
    t_sync_s: s(d.syncMs),
    t_verify_s: s(d.verifyMs),
    t_total_s: s(d.totalMs),
    t_cleanup_s: null,
    ...(run.note === undefined ? {} : { note: run.note }),
  };
}

const secs = (s: number | null): string => (s === null ? '-' : `${s.toFixed(2)} s`);

/** The result in one line, for logs: T_copy + T_sync + T_verify = T_total, cleanup, the main counts. */
export function resultLine(r: MigrationResult): string {
  const c = r.counts;
  const times = `T_copy ${secs(r.t_copy_s)} + T_sync ${secs(r.t_sync_s)} + T_verify ${secs(r.t_verify_s)} = T_total ${secs(r.t_total_s)}, cleanup ${secs(r.t_cleanup_s)}`;
  return `${times}; copied ${c.copied ?? 0}, verified ${c.verified ?? 0}, repaired ${c.repaired ?? 0}, errors ${c.errors ?? 0}`;
}

/** One run's identity: the same result read from several servers, or seen and read, counts once. */
const identity = (r: MigrationResult): string => `${r.kind}\u0000${r.pool}\u0000${r.id}\u0000${r.started_at ?? ''}`;

/** Results merged (each once, the later copy of one winning), newest end first, at most `limit`. */
export function mergeResults(lists: readonly (readonly MigrationResult[])[], limit = HISTORY_LIMIT): MigrationResult[] {
  const byId = new Map<string, MigrationResult>();
  for (const list of lists) {
    for (const r of list) {
      const k = identity(r);
      const had = byId.get(k);
      if (had === undefined || had.ended_at < r.ended_at) byId.set(k, r);
    }
  }
  return [...byId.values()].sort((a, b) => (a.ended_at < b.ended_at ? 1 : a.ended_at > b.ended_at ? -1 : 0)).slice(0, limit);
}

/**
 * What this process saw finish, and the results it last read from the store: the last 50 of each
 * pool, kept apart, so that a busy pool's results never push a quiet pool's out (its ?pool= answer
 * and its memshift_migration_last_duration_seconds stay). Bounded by the pools it was told of.
 */
export class MigrationHistory {
  readonly #byPool = new Map<string, MigrationResult[]>();

  /** Adds results (read from the store, say). */
  add(results: readonly MigrationResult[]): void {
    const byPool = new Map<string, MigrationResult[]>();
    for (const r of results) {
      const list = byPool.get(r.pool);
      if (list === undefined) byPool.set(r.pool, [r]);
      else list.push(r);
    }
    for (const [pool, list] of byPool) this.#byPool.set(pool, mergeResults([this.#byPool.get(pool) ?? [], list]));
  }

  /** A run this process finished or watched finish: true the first time. */
  finished(r: MigrationResult): boolean {
    const k = identity(r);
    if ((this.#byPool.get(r.pool) ?? []).some((x) => identity(x) === k)) return false;
    this.add([r]);
    return true;
  }

  /** `pool`'s last 50 results, newest first; without a pool, the last 50 of all pools. */
  list(pool?: string): MigrationResult[] {
    return pool === undefined ? mergeResults([...this.#byPool.values()]) : [...(this.#byPool.get(pool) ?? [])];
  }

  /** The newest result of each pool. */
  latestPerPool(): MigrationResult[] {
    return [...this.#byPool.values()].flatMap((list) => list.slice(0, 1));
  }
}

/** This process's history: its migrations, failovers, rebuilds and the admin API share it. */
export const processHistory = new MigrationHistory();
