/**
 * Migration families, from each pool's `Migration.status()` (the same values as GET /migration):
 * the phase, the key counts, the phase durations once known, the moved share, this process's
 * moved-key route counters, and whether the migration is paused and led by this process.
 * Every sample is labelled with the pool and the migration id.
 */
import type { Metric } from 'prom-client';
import type { MigrationStatus } from '../../migration/status.js';
import type { Phase } from '../../migration/phases.js';
import type { MigrationCounts } from '../../migration/record.js';
import type { MigrationResult } from '../../migration/history.js';
import { family, histogramSamples, type Aggregator, type Sample } from '../../observability/metrics.js';
import type { LatencyHistogram } from '../../observability/histogram.js';

/** How long one migration's held requests waited, in this process. */
export interface MigrationHolds {
  pool: string;
  id: string;
  holds: LatencyHistogram;
}

/** Every phase, in the order a migration goes through them. */
export const MIGRATION_PHASES: readonly Phase[] = ['planned', 'dual_write', 'copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done', 'aborted'];

const KINDS = ['scanned', 'copied', 'skipped', 'verified', 'mismatched', 'repaired', 'backfilled', 'errors', 'cleaned'] as const satisfies readonly (keyof MigrationCounts)[];

const DURATIONS = [
  ['copy', 't_copy_s'],
  ['sync', 't_sync_s'],
  ['verify', 't_verify_s'],
  ['total', 't_total_s'],
  ['cleanup', 't_cleanup_s'],
] as const satisfies readonly (readonly [string, keyof MigrationStatus & keyof MigrationResult])[];

export function migrationFamilies(
  migrations: () => readonly MigrationStatus[],
  holds: () => readonly MigrationHolds[] = () => [],
  /** The newest finished run of each pool (history.ts). */
  latest: () => readonly MigrationResult[] = () => [],
): Metric[] {
  const labels = (s: MigrationStatus): { pool: string; id: string } => ({ pool: s.pool, id: s.id });
  const each = (samples: (s: MigrationStatus) => Sample[]) => (): Sample[] => migrations().flatMap(samples);
  // What the record says (phase, counts, times) is the same in every worker: `max`; what this process did, summed.
  const one = (name: string, help: string, type: 'counter' | 'gauge', value: (s: MigrationStatus) => number, aggregator: Aggregator = 'sum'): Metric =>
    family(name, help, type, each((s) => [{ labels: labels(s), value: value(s) }]), aggregator);
  return [
    family(
      'memshift_migration_phase',
      "1 for the migration's current phase (planned, dual_write, copy, dual_read, verify, cutover, cleanup, done, aborted).",
      'gauge',
      each((s) => MIGRATION_PHASES.map((phase) => ({ labels: { ...labels(s), phase }, value: s.phase === phase ? 1 : 0 }))),
      'max',
    ),
    family(
      'memshift_migration_keys',
      "The migration's key counts by kind (scanned, copied, skipped, verified, mismatched, repaired, backfilled, errors, cleaned).",
      'gauge',
      each((s) => KINDS.map((kind) => ({ labels: { ...labels(s), kind }, value: s.counts[kind] }))),
      'max',
    ),
    family(
      'memshift_migration_phase_seconds',
      "The migration's T_copy, T_sync, T_verify, T_total and T_cleanup, once known.",
      'gauge',
      each((s) => DURATIONS.flatMap(([phase, key]): Sample[] => (s[key] === null ? [] : [{ labels: { ...labels(s), phase }, value: s[key] }]))),
      'max',
    ),
    one('memshift_migration_moved_share', 'Share of the keyspace whose owner the migration changes (0..1).', 'gauge', (s) => s.moved_share, 'max'),
    one('memshift_migration_backfilled_total', 'Reads of a moved key the new owner missed, copied from the old owner (this process).', 'counter', (s) => s.route.backfilled),
    one('memshift_migration_sync_races_total', 'Writes whose sync to the other owner raced a newer write and left a hole there (this process).', 'counter', (s) => s.route.raced),
    one('memshift_migration_sync_errors_total', 'Writes whose sync to the other owner failed; the key was dropped there (this process).', 'counter', (s) => s.route.syncErrors),
    one('memshift_migration_held_total', 'Requests for moved keys held: read-modify-writes while their serializing owner changed, any while the phase was out of date (this process).', 'counter', (s) => s.route.held),
    family(
      'memshift_migration_hold_seconds',
      'How long requests for moved keys were held (this process): read-modify-writes in cutover (at most settle), any while the phase was out of date.',
      'histogram',
      () => holds().flatMap((h) => histogramSamples('memshift_migration_hold_seconds', { pool: h.pool, id: h.id }, h.holds)),
    ),
    family(
      'memshift_migration_last_duration_seconds',
      "The pool's last finished migration, sync or rebuild (GET /migration/history): its T_copy, T_sync, T_verify, T_total and T_cleanup, once known.",
      'gauge',
      () => latest().flatMap((r) => DURATIONS.flatMap(([phase, key]): Sample[] => (r[key] === null ? [] : [{ labels: { pool: r.pool, phase }, value: r[key] }]))),
      'max',
    ),
    one('memshift_migration_paused', '1 while the migration is paused.', 'gauge', (s) => (s.paused ? 1 : 0), 'max'),
    one('memshift_migration_leader', '1 when this process holds the lease: it runs the copy, verify and cleanup.', 'gauge', (s) => (s.this_process_leads ? 1 : 0)),
  ];
}
