import { describe, expect, it } from 'vitest';
import type { MigrationStatus } from '../../../../src/migration/status.js';
import type { MigrationResult } from '../../../../src/migration/history.js';
import { Metrics } from '../../../../src/observability/metrics.js';
import { MIGRATION_PHASES, migrationFamilies } from '../../../../src/app/metrics/migration-metrics.js';
import { LatencyHistogram } from '../../../../src/observability/histogram.js';
import { HOLD_BUCKETS_SEC } from '../../../../src/migration/phased-route.js';
import { migrationStatus } from '../../../support/migration-status.js';

/** Small counts, so the metrics test reads each one back. */
const status = (over: Partial<MigrationStatus> = {}): MigrationStatus =>
  migrationStatus({
    counts: { scanned: 100, copied: 90, skipped: 10, verified: 0, mismatched: 0, repaired: 0, backfilled: 3, errors: 1, cleaned: 0 },
    progress: { phase: 'copy', expected: 1000, walked: 120, eta_s: 8, scanned: 100, checked: 0 },
    moved_share: 0.25,
    route: { backfilled: 3, backfillErrors: 0, raced: 2, syncErrors: 1, dirtyOverflow: 0, held: 5 },
    ...over,
  });

async function scrape(statuses: () => readonly MigrationStatus[]): Promise<string> {
  const m = new Metrics({ processMetrics: false });
  m.add(...migrationFamilies(statuses));
  return m.text();
}

/** The sample lines of one family (no HELP/TYPE). */
const samples = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('migrationFamilies', () => {
  it('publishes the phase as one 1 over every phase, with pool and id', async () => {
    const text = await scrape(() => [status()]);
    const phase = samples(text, 'memshift_migration_phase');
    expect(phase).toHaveLength(MIGRATION_PHASES.length);
    expect(phase).toContain('memshift_migration_phase{pool="main",id="m1",phase="copy"} 1');
    expect(phase).toContain('memshift_migration_phase{pool="main",id="m1",phase="planned"} 0');
    expect(phase.filter((l) => l.endsWith(' 1'))).toHaveLength(1);
    expect(text).toContain('# TYPE memshift_migration_phase gauge');
  });

  it('publishes every count, the moved share, the route counters, paused and leader', async () => {
    const text = await scrape(() => [status()]);
    expect(samples(text, 'memshift_migration_keys')).toEqual([
      'memshift_migration_keys{pool="main",id="m1",kind="scanned"} 100',
      'memshift_migration_keys{pool="main",id="m1",kind="copied"} 90',
      'memshift_migration_keys{pool="main",id="m1",kind="skipped"} 10',
      'memshift_migration_keys{pool="main",id="m1",kind="verified"} 0',
      'memshift_migration_keys{pool="main",id="m1",kind="mismatched"} 0',
      'memshift_migration_keys{pool="main",id="m1",kind="repaired"} 0',
      'memshift_migration_keys{pool="main",id="m1",kind="backfilled"} 3',
      'memshift_migration_keys{pool="main",id="m1",kind="errors"} 1',
      'memshift_migration_keys{pool="main",id="m1",kind="cleaned"} 0',
    ]);
    expect(text).toContain('memshift_migration_moved_share{pool="main",id="m1"} 0.25\n');
    expect(text).toContain('# TYPE memshift_migration_backfilled_total counter\nmemshift_migration_backfilled_total{pool="main",id="m1"} 3\n');
    expect(text).toContain('# TYPE memshift_migration_sync_races_total counter\nmemshift_migration_sync_races_total{pool="main",id="m1"} 2\n');
    expect(text).toContain('memshift_migration_sync_errors_total{pool="main",id="m1"} 1\n');
    expect(text).toContain('# TYPE memshift_migration_held_total counter\nmemshift_migration_held_total{pool="main",id="m1"} 5\n');
    expect(text).toContain('memshift_migration_paused{pool="main",id="m1"} 0\n');
    expect(text).toContain('memshift_migration_leader{pool="main",id="m1"} 1\n');
  });

  it('publishes phase seconds only once they are known', async () => {
    expect(samples(await scrape(() => [status()]), 'memshift_migration_phase_seconds')).toEqual([]);
    const done = status({ phase: 'done', t_copy_s: 12.5, t_sync_s: 2, t_verify_s: 4.25, t_total_s: 18.75, t_cleanup_s: 3, paused: false, this_process_leads: false });
    const text = await scrape(() => [done]);
    expect(samples(text, 'memshift_migration_phase_seconds')).toEqual([
      'memshift_migration_phase_seconds{pool="main",id="m1",phase="copy"} 12.5',
      'memshift_migration_phase_seconds{pool="main",id="m1",phase="sync"} 2',
      'memshift_migration_phase_seconds{pool="main",id="m1",phase="verify"} 4.25',
      'memshift_migration_phase_seconds{pool="main",id="m1",phase="total"} 18.75',
      'memshift_migration_phase_seconds{pool="main",id="m1",phase="cleanup"} 3',
    ]);
    expect(text).toContain('memshift_migration_phase{pool="main",id="m1",phase="done"} 1\n');
    expect(text).toContain('memshift_migration_leader{pool="main",id="m1"} 0\n');
  });

  it('labels each pool apart and reads the statuses at every scrape', async () => {
    let list: MigrationStatus[] = [status()];
    const m = new Metrics({ processMetrics: false });
    m.add(...migrationFamilies(() => list));
    expect(await m.text()).toContain('memshift_migration_paused{pool="main",id="m1"} 0\n');
    list = [status({ paused: true }), status({ pool: 'sessions', id: 's7', phase: 'aborted', rolled_back: true })];
    const text = await m.text();
    expect(text).toContain('memshift_migration_paused{pool="main",id="m1"} 1\n');
    expect(text).toContain('memshift_migration_phase{pool="sessions",id="s7",phase="aborted"} 1\n');
    expect(samples(text, 'memshift_migration_phase')).toHaveLength(2 * MIGRATION_PHASES.length);
  });

  it('publishes how long held requests waited as a histogram per migration', async () => {
    const h = new LatencyHistogram(HOLD_BUCKETS_SEC);
    h.observe(40);
    h.observe(900);
    h.observe(12_000);
    const m = new Metrics({ processMetrics: false });
    m.add(...migrationFamilies(() => [status()], () => [{ pool: 'main', id: 'm1', holds: h }]));
    const text = await m.text();
    expect(text).toContain('# TYPE memshift_migration_hold_seconds histogram\n');
    expect(text).toContain('memshift_migration_hold_seconds_bucket{pool="main",id="m1",le="0.05"} 1\n');
    expect(text).toContain('memshift_migration_hold_seconds_bucket{pool="main",id="m1",le="1"} 2\n');
    expect(text).toContain('memshift_migration_hold_seconds_bucket{pool="main",id="m1",le="10"} 2\n');
    expect(text).toContain('memshift_migration_hold_seconds_bucket{pool="main",id="m1",le="+Inf"} 3\n');
    expect(text).toContain('memshift_migration_hold_seconds_count{pool="main",id="m1"} 3\n');
    expect(text).toContain('memshift_migration_hold_seconds_sum{pool="main",id="m1"} 12.94\n');
  });

  it("publishes each pool's last finished run's durations, without its id", async () => {
    const m = new Metrics({ processMetrics: false });
    const last = { kind: 'planned', pool: 'main', id: 'grow', t_copy_s: 2, t_sync_s: 1, t_verify_s: 0.5, t_total_s: 3.5, t_cleanup_s: null } as unknown as MigrationResult;
    m.add(...migrationFamilies(() => [], () => [], () => [last, { ...last, pool: 'sessions', t_total_s: 9 }]));
    const text = await m.text();
    expect(samples(text, 'memshift_migration_last_duration_seconds')).toEqual([
      'memshift_migration_last_duration_seconds{pool="main",phase="copy"} 2',
      'memshift_migration_last_duration_seconds{pool="main",phase="sync"} 1',
      'memshift_migration_last_duration_seconds{pool="main",phase="verify"} 0.5',
      'memshift_migration_last_duration_seconds{pool="main",phase="total"} 3.5',
      'memshift_migration_last_duration_seconds{pool="sessions",phase="copy"} 2',
      'memshift_migration_last_duration_seconds{pool="sessions",phase="sync"} 1',
      'memshift_migration_last_duration_seconds{pool="sessions",phase="verify"} 0.5',
      'memshift_migration_last_duration_seconds{pool="sessions",phase="total"} 9',
    ]);
  });

  it('has families but no samples without migrations', async () => {
    const m = new Metrics({ processMetrics: false });
    m.add(...migrationFamilies(() => []));
    const names = m.registry.getMetricsAsArray().map((f) => f.name);
    expect(names).toEqual([
      'memshift_migration_phase',
      'memshift_migration_keys',
      'memshift_migration_phase_seconds',
      'memshift_migration_moved_share',
      'memshift_migration_backfilled_total',
      'memshift_migration_sync_races_total',
      'memshift_migration_sync_errors_total',
      'memshift_migration_held_total',
      'memshift_migration_hold_seconds',
      'memshift_migration_last_duration_seconds',
      'memshift_migration_paused',
      'memshift_migration_leader',
    ]);
    expect((await m.text()).split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toEqual([]);
  });
});
