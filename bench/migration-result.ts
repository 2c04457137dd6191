/** What a round of `bench --scenario migration` measured: the types the round runner fills and the report reads. */
import type { Comparison, Times } from './estimate-check.js';
import type { Measures } from './report.js';

export type RunKind = 'no_migration' | 'migration';
export const LABEL: Record<RunKind, string> = { no_migration: 'no migration', migration: 'during migration' };

export interface MigrationBenchOptions {
  rounds: number;
  durationS: number;
  concurrency: number;
  threads: number;
  keys: number;
  /** null: auto. */
  rate: number | null;
  settleMs: number;
  json: boolean;
}

export interface RunSample extends Measures {
  readonly round: number;
  readonly kind: RunKind;
  /** How long the proxy saw the load (s). */
  readonly loadS: number;
}

/** GET /migration, the fields used here. */
export interface MigrationStatusJson {
  phase: string | null;
  t_copy_s?: number | null;
  t_sync_s?: number | null;
  t_verify_s?: number | null;
  t_total_s?: number | null;
  t_cleanup_s?: number | null;
  counts?: Record<string, number>;
  moved_share?: number;
  /** The last verify run: each pass's kind, keys checked and swept, and seconds. */
  verify?: { passes: number; pass_times?: { kind: string; checked: number; swept: number; seconds: number }[] } | null;
  error?: string;
}

export interface RoundResult {
  readonly round: number;
  readonly order: readonly RunKind[];
  rateKeysPerSec: number;
  /** When POST /migration/start was sent (ISO). */
  startAt: string;
  preloadS: number | null;
  /** curr_items on A and B after the preload. */
  itemsOnOld: number | null;
  movedShare: number | null;
  samples: RunSample[];
  /** The last GET /migration answer. */
  status: MigrationStatusJson | null;
  /** When each phase was first seen, in seconds after the migration run's load started (negative: before). */
  timeline: { phase: string; atS: number }[];
  /** The migration run's load: how long it ran (s), as the proxy saw it. */
  loadS: number | null;
  beganS: number | null;
  doneS: number | null;
  /** Moved keys the copy went through per second (counts.scanned over T_copy less the first settle). */
  copyKeysPerSec: number | null;
  /** Share of the load during which the migration was running (began → done). */
  activeShare: number | null;
  reachedDone: boolean;
  memshiftWarnings: number;
  firstWarning?: string;
  error?: string;
  /** How long `memshift plan` took (its probe under the lead load). */
  planS?: number;
  /** `memshift plan`'s estimate (its probe run by the migrating sidecar under the lead load), and how it compares. */
  estimate: Times | null;
  comparison: Comparison[] | null;
}

export interface MigrationBenchContext {
  readonly log: (line: string) => void;
  /** True once run.ts caught a signal and is stopping everything. */
  readonly stopping: () => boolean;
}
