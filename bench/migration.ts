/**
 * `npm run bench -- --scenario migration [--rounds N --duration 10s --concurrency 50 --threads 1
 *   --keys 100000 --rate auto --settle 1s --json]`
 *
 * The foreground cost of an online migration: memcaslap (9:1 get:set, 100-byte values, as the main
 * bench) against memshift with no migration running, and against memshift while its pool migrates
 * from [A, B] to [A, B, C] (copy eager, cleanup). Each round starts everything fresh:
 *
 *   3 memcached (-m 256): A, B, C
 *   memshift "base"       pool main = [A, B], no migration block       the no-migration runs
 *   memshift "mig"        pool main = [A, B, C], migration from [A, B],  the migration runs
 *                         no start: (planned until started), an admin listener for GET /migration
 *
 * then preloads --keys keys (100-byte values) through "mig" while its migration is planned (so they
 * land on A and B, by the same ring "base" routes by), runs the two loads in the round's order (odd
 * rounds no migration first, even rounds migration first) and stops everything. Each run starts
 * with a lead load (memcaslap with the same settings, not measured) for 3 s; in the migration run
 * `memshift plan` then probes under it, through the migrating sidecar, so its estimate is made under
 * the load the migration runs in (and counts the keys memcaslap adds). Then the measured memcaslap is
 * spawned, and SPAWN_LEAD_MS later, as its load comes on, the lead stops and POST /migration/start
 * (what `memshift migrate start` sends) starts the migration. During each measured load the
 * proxy's `stats` is polled (when its cmd_get grows: the load's window), and during the migration run GET /migration too (when each phase began), until `done`,
 * also after the load when the migration is late. The rate (keys/s for copy and verify) is by
 * default sized so the migration lasts most of the load (autoRate); where this machine cannot copy
 * that fast, the migration simply takes longer, and the report says so.
 *
 * The table reports the medians over the rounds of both loads, TPS and latency during the migration
 * as ratios to the no-migration runs, and per round the migration's T_copy / T_sync / T_verify /
 * T_total, when it began and ended relative to its load, and whether it reached `done`.
 * Progress goes to stderr, the table (with --json the JSON) to stdout. run.ts owns the signal
 * handlers and the final stopAll(); this module stops each round's servers itself.
 */
import { parseArgs } from 'node:util';
import { ensureBuilt } from './build.js';
import { memcaslapBinary } from './memcaslap.js';
import { formatMigrationReport, migrationRatios, summarizeKinds } from './migration-report.js';
import type { MigrationBenchContext, MigrationBenchOptions, RoundResult } from './migration-result.js';
import { runRound } from './migration-round.js';
import { LOAD_FLAGS, loadOptions, positive } from './options.js';

export const MIGRATION_USAGE = `Usage: npm run bench -- --scenario migration [--rounds N] [--duration 10s] [--concurrency 50]
                       [--threads 1] [--keys 100000] [--rate auto] [--settle 1s] [--json]

  Foreground cost of an online migration: memcaslap through memshift with no migration running,
  and while the pool migrates from 2 to 3 memcached (copy eager, cleanup); fresh servers per round.

  --rounds N          rounds of (no migration, migration), order alternating (default 3)
  --duration T        memcaslap -t per run: 10s, 1m or plain seconds (default 10s)
  --concurrency N     memcaslap -c (default 50)
  --threads N         memcaslap -T (default 1)
  --keys N            keys preloaded into the old servers before each round (default 100000)
  --rate N|auto       the migration's rate in keys/s (copy and verify); auto sizes it so the
                      migration lasts most of the run (default auto)
  --settle T          the migration's settle: 1s, 500ms (default 1s)
  --json              print the results as JSON instead of the table
`;
// ---------------------------------------------------------------- options

function millis(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  if (m === null) throw new Error(`--settle must look like 1s, 500ms or 2, got ${JSON.stringify(value)}`);
  return Math.round(Number(m[1]) * (m[2] === 'ms' ? 1 : 1000));
}

export function migrationOptions(argv: string[]): MigrationBenchOptions | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...LOAD_FLAGS,
      keys: { type: 'string', default: '100000' },
      rate: { type: 'string', default: 'auto' },
      settle: { type: 'string', default: '1s' },
    },
  });
  if (values.help) return null;
  return {
    ...loadOptions(values),
    keys: positive('keys', values.keys),
    rate: values.rate === 'auto' ? null : positive('rate', values.rate),
    settleMs: millis(values.settle),
  };
}

/**
 * `--scenario NAME` (or `--scenario=NAME`) taken out of argv; `targets` (the main bench) when absent.
 * Throws for a scenario that does not exist.
 */
export function takeScenario(argv: readonly string[]): { scenario: 'targets' | 'migration'; rest: string[] } {
  const rest: string[] = [];
  let scenario = 'targets';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--scenario') scenario = argv[++i] ?? '';
    else if (a.startsWith('--scenario=')) scenario = a.slice('--scenario='.length);
    else rest.push(a);
  }
  if (scenario !== 'targets' && scenario !== 'migration') throw new Error(`--scenario must be targets or migration, got ${JSON.stringify(scenario)}`);
  return { scenario, rest };
}
// ---------------------------------------------------------------- main

/** The migration scenario; resolves to the exit status (0 when every round reached done). */
export async function runMigrationBench(argv: string[], ctx: MigrationBenchContext): Promise<number> {
  const opts = migrationOptions(argv);
  if (opts === null) {
    process.stdout.write(MIGRATION_USAGE);
    return 0;
  }
  memcaslapBinary();
  ensureBuilt(ctx.log);
  const rounds: RoundResult[] = [];
  for (let round = 1; round <= opts.rounds && !ctx.stopping(); round++) {
    const r = await runRound(round, opts, ctx);
    if (ctx.stopping()) break;
    if (r.error !== undefined) ctx.log(`  round ${round} FAILED: ${r.error}`);
    if (r.memshiftWarnings > 0) ctx.log(`  memshift logged ${r.memshiftWarnings} warning(s)/error(s), the first: ${r.firstWarning ?? ''}`);
    rounds.push(r);
  }
  if (ctx.stopping()) return 130;
  const failed = rounds.filter((r) => r.error !== undefined || !r.reachedDone);
  if (opts.json) {
    const summary = summarizeKinds(rounds.flatMap((r) => r.samples));
    const result = {
      scenario: 'migration',
      options: { ...opts, valueSize: 100, getSetRatio: '9:1', from: 'A,B', to: 'A,B,C', copy: 'eager', cleanup: true },
      summary,
      ratios: migrationRatios(summary),
      rounds,
      note: 'memcaslap uses its own keys, not the preloaded ones; about a third of them are moved keys too',
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${formatMigrationReport(opts, rounds)}\n`);
    for (const r of rounds) if (r.memshiftWarnings > 0) process.stdout.write(`round ${r.round}: memshift logged ${r.memshiftWarnings} warning(s)/error(s), the first: ${r.firstWarning ?? ''}\n`);
    for (const r of failed) process.stdout.write(`FAILED round ${r.round}: ${(r.error ?? `the migration ended in phase ${r.status?.phase ?? '?'}`).split('\n')[0]}\n`);
  }
  return failed.length > 0 ? 1 : 0;
}
