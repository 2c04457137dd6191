/**
 * Replication families: the failed-write log (entries, bytes, resync flags, overflows, I/O errors),
 * missed writes, replays, and rebuilds (runs, failures, the counts and T_* of each backend's
 * last or running rebuild).
 */
import type { Metric } from 'prom-client';
import type { Replication } from '../../replication/index.js';
import type { WriteLogBackendStats } from '../../replication/write-log.js';
import { family, type Aggregator, type Sample } from '../../observability/metrics.js';

const NO_LOG: WriteLogBackendStats = { entries: 0, bytes: 0, needsResync: 0, appended: 0, deduped: 0, dropped: 0, overflows: 0, writeErrors: 0, flushes: 0, syncs: 0 };

/** `current` gives replication at scrape time (a reload adds and removes pools). */
export function replicationFamilies(current: () => { replication: Replication }): Metric[] {
  const views = (): ReturnType<Replication['pools']> => current().replication.pools();
  const perBackend = (name: string, help: string, type: 'counter' | 'gauge', value: (stats: WriteLogBackendStats) => number, aggregator: Aggregator = 'sum'): Metric =>
    family(
      name,
      help,
      type,
      () =>
        views().flatMap((v) => {
          const all = v.log.stats();
          return v.backends.map((b) => ({ labels: { pool: v.pool, backend: b.address }, value: value(all[b.address] ?? NO_LOG) }));
        }),
      aggregator,
    );
  const perPool = (name: string, help: string, value: (v: ReturnType<typeof views>[number]) => number): Metric =>
    family(name, help, 'counter', () => views().map((v) => ({ labels: { pool: v.pool }, value: value(v) })));
  const PHASES = [
    ['copy', 'copyMs'],
    ['sync', 'syncMs'],
    ['verify', 'verifyMs'],
    ['total', 'totalMs'],
  ] as const;
  return [
    perBackend('memshift_write_log_entries', 'Failed writes waiting for replay, per backend.', 'gauge', (s) => s.entries),
    perBackend('memshift_write_log_bytes', 'Bytes the failed-write log holds for the backend.', 'gauge', (s) => s.bytes),
    perBackend('memshift_write_log_needs_resync', '1 when the log lost writes (overflow, lost file, I/O error): the backend needs a rebuild.', 'gauge', (s) => s.needsResync, 'max'),
    perBackend('memshift_write_log_appended_total', 'Failed writes appended to the log.', 'counter', (s) => s.appended),
    perBackend('memshift_write_log_dropped_total', 'Failed writes the log could not keep (full, resync pending, I/O error).', 'counter', (s) => s.dropped),
    perBackend('memshift_write_log_overflows_total', 'Times the log reached write_log.max_bytes.', 'counter', (s) => s.overflows),
    perBackend('memshift_write_log_io_errors_total', 'Failed log file operations (e.g. a full disk).', 'counter', (s) => s.writeErrors),
    family('memshift_backend_recovering', '1 while the backend is out of the read order (replay or rebuild).', 'gauge', () =>
      views().flatMap((v) => v.backends.map((b) => ({ labels: { pool: v.pool, backend: b.address }, value: v.held.has(b) ? 1 : 0 }))),
      'max',
    ),
    perPool('memshift_replays_total', 'Replays of a failed-write log.', (v) => v.replay.counters.replays),
    perPool('memshift_replayed_keys_total', 'Keys replayed (copied from a healthy group, or deleted).', (v) => v.replay.counters.replayed),
    perPool('memshift_replay_failures_total', 'Keys whose replay failed.', (v) => v.replay.counters.failed),
    perPool('memshift_resyncs_total', 'Backend rebuilds this process ran (copy from a healthy group, then verify).', (v) => v.recovery.counters.syncs),
    perPool('memshift_resync_failures_total', 'Backend rebuilds that failed (retried).', (v) => v.recovery.counters.syncFailures),
    perPool('memshift_backend_restarts_total', 'Backend restarts detected (uptime reset).', (v) => v.recovery.counters.restarts),
    family('memshift_resync_keys', "Counts of the backend's running or last rebuild, by kind (scanned, copied, verified, ...).", 'gauge', () =>
      views().flatMap((v) =>
        [...v.recovery.syncs].flatMap(([b, s]): Sample[] =>
          s.progress === null ? [] : Object.entries(s.progress.counts).map(([kind, value]) => ({ labels: { pool: v.pool, backend: b.address, kind }, value })),
        ),
      ),
    ),
    family('memshift_resync_phase_seconds', "Phase durations of the backend's last rebuild: T_copy, T_sync, T_verify and T_total.", 'gauge', () =>
      views().flatMap((v) =>
        [...v.recovery.syncs].flatMap(([b, s]): Sample[] => {
          const d = s.progress?.durations;
          if (d === undefined) return [];
          return PHASES.flatMap(([phase, key]) => (d[key] === null ? [] : [{ labels: { pool: v.pool, backend: b.address, phase }, value: d[key] / 1000 }]));
        }),
      ),
      'max',
    ),
    family('memshift_resync_running', '1 while a rebuild of the backend runs (or is followed) in this process.', 'gauge', () =>
      views().flatMap((v) =>
        [...v.recovery.syncs].map(([b, s]) => ({ labels: { pool: v.pool, backend: b.address }, value: s.state === 'running' || s.state === 'following' ? 1 : 0 })),
      ),
      'max',
    ),
  ];
}
