import type { MigrationStatus } from '../../src/migration/status.js';

/** A `GET /migration` status of pool main's migration m1 in its copy phase (41% walked), with `over` on top. */
export function migrationStatus(over: Partial<MigrationStatus> = {}): MigrationStatus {
  return {
    pool: 'main',
    id: 'm1',
    phase: 'copy',
    paused: false,
    rolled_back: false,
    leader: 'web-1:4242:m1',
    this_process_leads: true,
    counts: { scanned: 41_000, copied: 40_000, skipped: 1_000, verified: 0, mismatched: 0, repaired: 0, backfilled: 3, errors: 0, cleaned: 0 },
    t_copy_s: null,
    t_sync_s: null,
    t_verify_s: null,
    t_total_s: null,
    t_cleanup_s: null,
    progress: { phase: 'copy', expected: 100_000, walked: 41_000, eta_s: 11.2, scanned: 41_000, checked: 0 },
    verify: null,
    start_at: null,
    waiting: null,
    moved_share: 0.249,
    route: { backfilled: 3, backfillErrors: 0, raced: 0, syncErrors: 0, dirtyOverflow: 0, held: 0 },
    ...over,
  };
}
