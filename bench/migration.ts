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
 *                         start = an ISO time far enough ahead, an admin listener for GET /migration
 *
 * then preloads --keys keys (100-byte values) through "mig" while its migration is planned (so they
 * land on A and B, by the same ring "base" routes by), runs the two loads in the round's order (odd
 * rounds no migration first, even rounds migration first) and stops everything. The migration's
 * `start` is set so it begins as its load begins: memcaslap is launched just before it (see
 * SPAWN_LEAD_MS). During each load the proxy's `stats` is polled (when its cmd_get grows: the load's
 * window), and during the migration run GET /migration too (when each phase began), until `done`,
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
import {
  freePort,
  memshiftConfig,
  serverSpec,
  startMemcached,
  startMemshift,
  stats,
  stopAll,
  TextClient,
  type MemshiftHandle,
  type ServerHandle,
} from '../test/support/harness.js';
import { ensureBuilt } from './build.js';
import { LOAD_FLAGS, loadOptions, positive } from './options.js';
import { memcaslapBinary, runMemcaslap } from './memcaslap.js';
import type { MemcaslapResult } from './memcaslap-output.js';
import { measuresOf, median, type Measures } from './report.js';
import { compareTimes, formatComparison, parseEstimateLine, runMemshiftCli, type Comparison, type Times } from './estimate-check.js';

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

export type RunKind = 'no_migration' | 'migration';
const LABEL: Record<RunKind, string> = { no_migration: 'no migration', migration: 'during migration' };

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
  error?: string;
}

export interface RoundResult {
  readonly round: number;
  readonly order: readonly RunKind[];
  rateKeysPerSec: number;
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
  /** `memshift plan`'s estimate (its probe run by the migrating sidecar after the preload), and how it compares. */
  estimate: Times | null;
  comparison: Comparison[] | null;
}

export interface MigrationBenchContext {
  readonly log: (line: string) => void;
  /** True once run.ts caught a signal and is stopping everything. */
  readonly stopping: () => boolean;
}

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

// ---------------------------------------------------------------- pieces

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** What `memshift plan` (its probe) may take after the preload, before the loads. */
const PLAN_BUDGET_MS = 15_000;

/** memcaslap is spawned this long before the migration's `start` (see runRound). */
const SPAWN_LEAD_MS = 400;

/**
 * The auto rate: the copy pass, the verify pass and the orphan sweep each walk about the moved
 * keys (≈ a third of the preload for 2 → 3 servers, plus memcaslap's own moved keys), paced at the
 * rate; the phase switches add about three `settle`s. Sized so all that takes ~60% of the load,
 * leaving room for the incremental verify passes and the cleanup. Rounded up to 1,000 keys/s.
 */
export function autoRate(keys: number, durationS: number, settleMs: number): number {
  const moved = keys / 3;
  const PACED_PASSES = 3;
  const budgetS = Math.max(0.25 * durationS, 0.6 * durationS - (3 * settleMs) / 1000);
  return Math.max(1_000, Math.ceil((PACED_PASSES * moved) / budgetS / 1_000) * 1_000);
}

function sampleOf(round: number, kind: RunKind, r: MemcaslapResult, loadS: number): RunSample {
  return { round, kind, loadS, ...measuresOf(r) };
}

async function migrationStatus(adminPort: number): Promise<MigrationStatusJson> {
  const r = await fetch(`http://127.0.0.1:${adminPort}/migration`, { signal: AbortSignal.timeout(3_000) });
  if (!r.ok) throw new Error(`GET /migration answered ${r.status}: ${await r.text()}`);
  return (await r.json()) as MigrationStatusJson;
}

/** `keys` sets of 100-byte values through `proxy`, pipelined with noreply, 1,000 per `mn`. */
async function preload(proxy: ServerHandle, keys: number): Promise<void> {
  const value = 'v'.repeat(100);
  const c = await TextClient.connect(proxy.port, proxy.host);
  try {
    for (let i = 0; i < keys; i += 1_000) {
      const n = Math.min(1_000, keys - i);
      const batch = Array.from({ length: n }, (_, j) => `set bench:mig:${i + j} 0 0 100 noreply\r\n${value}\r\n`).join('');
      await c.write(`${batch}mn\r\n`);
      const reply = (await c.read((b) => (b.toString('latin1').endsWith('MN\r\n') ? true : 0), 30_000)).toString('latin1');
      if (reply !== 'MN\r\n') throw new Error(`preload: the proxy answered ${JSON.stringify(reply.slice(0, 200))}`);
    }
  } finally {
    await c.close();
  }
}

/**
 * Polls, every 200 ms, the proxy's `stats` and, for the migrating proxy, GET /migration. Its
 * `cmd_get` growing gives the load's window as the proxy saw it (memcaslap starts its load a moment
 * after it is spawned and exits a moment after the load ended); the phases give when each was first
 * seen. Times in seconds after `zero`, each to within a poll (a window edge is the midpoint between
 * the two polls around it).
 */
class RunWatch {
  readonly timeline: { phase: string; atS: number }[] = [];
  last: MigrationStatusJson | null = null;
  lastError: string | null = null;
  loadStartS: number | null = null;
  loadEndS: number | null = null;
  #gets: number | null = null;
  #prevAtS = 0;
  #lastGrowthS: number | null = null;
  #stop = false;
  readonly #loop: Promise<void>;

  constructor(
    readonly proxy: ServerHandle,
    readonly adminPort: number | null,
    readonly zero: number,
  ) {
    this.#loop = this.#run();
  }

  async #run(): Promise<void> {
    while (!this.#stop) {
      const [load, migration] = await Promise.allSettled([stats(this.proxy.port, this.proxy.host), this.adminPort === null ? Promise.resolve(null) : migrationStatus(this.adminPort)]);
      const atS = (Date.now() - this.zero) / 1000;
      if (load.status === 'fulfilled') this.#noteGets(Number(load.value.get('cmd_get') ?? 0), atS);
      else this.lastError = (load.reason as Error).message;
      if (migration.status === 'fulfilled' && migration.value !== null) {
        const s = migration.value;
        this.last = s;
        const phase = s.phase ?? 'none';
        if (this.timeline.at(-1)?.phase !== phase) this.timeline.push({ phase, atS });
      } else if (migration.status === 'rejected') {
        this.lastError = (migration.reason as Error).message;
      }
      this.#prevAtS = atS;
      if (!this.#stop) await sleep(200);
    }
  }

  #noteGets(gets: number, atS: number): void {
    if (this.#gets !== null && gets > this.#gets) {
      this.loadStartS ??= (this.#prevAtS + atS) / 2;
      this.#lastGrowthS = atS;
      this.loadEndS = null;
    } else if (this.#lastGrowthS !== null && this.loadEndS === null) {
      this.loadEndS = (this.#lastGrowthS + atS) / 2;
    }
    this.#gets = gets;
  }

  get done(): boolean {
    return this.last?.phase === 'done';
  }

  /** Resolves when done, or after `timeoutMs`, or when `cancelled()`; then stops polling. */
  async waitDone(timeoutMs: number, cancelled: () => boolean): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.done && Date.now() < deadline && !cancelled()) await sleep(100);
    await this.stop();
  }

  async stop(): Promise<void> {
    this.#stop = true;
    await this.#loop;
  }

  firstSeen(phases: readonly string[]): number | null {
    return this.timeline.find((t) => phases.includes(t.phase))?.atS ?? null;
  }
}

function warnings(proc: MemshiftHandle): { count: number; first?: string } {
  const noisy = proc.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l));
  return noisy.length === 0 ? { count: 0 } : { count: noisy.length, first: noisy[0]?.slice(0, 300) ?? '' };
}

// ---------------------------------------------------------------- one round

async function runRound(round: number, opts: MigrationBenchOptions, ctx: MigrationBenchContext): Promise<RoundResult> {
  const order: RunKind[] = round % 2 === 1 ? ['no_migration', 'migration'] : ['migration', 'no_migration'];
  const rate = opts.rate ?? autoRate(opts.keys, opts.durationS, opts.settleMs);
  const result: RoundResult = {
    round,
    order,
    rateKeysPerSec: rate,
    startAt: '',
    preloadS: null,
    itemsOnOld: null,
    movedShare: null,
    samples: [],
    status: null,
    timeline: [],
    loadS: null,
    beganS: null,
    doneS: null,
    copyKeysPerSec: null,
    activeShare: null,
    reachedDone: false,
    memshiftWarnings: 0,
    estimate: null,
    comparison: null,
  };
  const tag = `round ${round}/${opts.rounds}`;
  let mig: MemshiftHandle | undefined;
  let watch: RunWatch | undefined;
  try {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 256 })));
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable');
    const base = await startMemshift(memshiftConfig({ pools: { main: { servers: [a, b] } } }));
    const adminPort = await freePort();
    // Far enough ahead for memshift's start and the preload (and the no-migration load when it goes first).
    const preloadBudgetMs = 3_000 + opts.keys / 25 + PLAN_BUDGET_MS;
    const loadBudgetMs = order[0] === 'no_migration' ? opts.durationS * 1_000 + 4_000 : 0;
    const startAt = Date.now() + preloadBudgetMs + loadBudgetMs;
    result.startAt = new Date(startAt).toISOString();
    const migration = { id: `bench-move-${round}`, from: [a, b].map(serverSpec), copy: 'eager', rate, start: result.startAt, settle: opts.settleMs, cleanup: true };
    mig = await startMemshift(memshiftConfig({ pools: { main: { servers: [a, b, c], migration } }, admin: { listen: `127.0.0.1:${adminPort}`, token: 'bench' } }));
    ctx.log(`${tag}: memcached A ${a.address} B ${b.address} C ${c.address}; memshift [A,B] ${base.address}; memshift [A,B]→[A,B,C] ${mig.address} (admin ${adminPort})`);
    ctx.log(`${tag}: migration starts ${result.startAt} at ${rate.toLocaleString('en-US')} keys/s, settle ${opts.settleMs} ms`);

    const t = Date.now();
    await preload(mig, opts.keys);
    result.preloadS = (Date.now() - t) / 1000;
    const items = await Promise.all([a, b].map(async (s) => Number((await stats(s.port, s.host)).get('curr_items') ?? 0)));
    result.itemsOnOld = items.reduce((x, y) => x + y, 0);
    const planned = await migrationStatus(adminPort);
    result.movedShare = planned.moved_share ?? null;
    ctx.log(`${tag}: preloaded ${opts.keys.toLocaleString('en-US')} keys in ${result.preloadS.toFixed(1)} s (A+B hold ${result.itemsOnOld.toLocaleString('en-US')}; moved share ${result.movedShare === null ? '?' : `${(result.movedShare * 100).toFixed(1)}%`})`);
    if (result.itemsOnOld < opts.keys) throw new Error(`A and B hold ${result.itemsOnOld} items after preloading ${opts.keys} keys`);
    if (planned.phase !== 'planned') throw new Error(`the migration is already in phase ${planned.phase} after the preload (it took ${result.preloadS} s)`);
    ctx.log(`${tag}: memshift plan -c ${mig.configFile} (its probe runs in the migrating sidecar)`);
    const plan = await runMemshiftCli(['plan', '-c', mig.configFile], (line) => ctx.log(`  ${line}`), PLAN_BUDGET_MS);
    result.estimate = parseEstimateLine(plan.stdout);

    for (const kind of order) {
      if (ctx.stopping()) break;
      const target = kind === 'migration' ? mig : base;
      if (kind === 'migration') {
        const before = await migrationStatus(adminPort);
        if (before.phase !== 'planned') throw new Error(`the migration started before its load (phase ${before.phase}); the earlier steps overran its start ${result.startAt}`);
        // memcaslap puts its load on ~0.3-0.7 s after it is spawned, and memshift starts a migration
        // within its 500 ms poll after `start`: spawning it a little early lines the two up.
        const spawnAt = startAt - SPAWN_LEAD_MS;
        const wait = spawnAt - Date.now();
        if (wait > 0) ctx.log(`${tag}: waiting ${(wait / 1000).toFixed(1)} s for the migration's start`);
        while (Date.now() < spawnAt && !ctx.stopping()) await sleep(Math.min(50, spawnAt - Date.now()));
        if (ctx.stopping()) break;
      }
      // The same polling in both runs, so both pay for it alike.
      watch = new RunWatch(target, kind === 'migration' ? adminPort : null, Date.now());
      ctx.log(`${tag}: ${LABEL[kind]} (${opts.durationS}s, -c ${opts.concurrency})`);
      const run = await runMemcaslap({ host: target.host, port: target.port, durationS: opts.durationS, concurrency: opts.concurrency, threads: opts.threads, valueSize: 100 });
      const exitS = (Date.now() - watch.zero) / 1000;
      if (kind === 'no_migration') await watch.stop();
      else if (watch.done) await watch.stop();
      else {
        ctx.log(`  the migration is still in phase ${watch.last?.phase ?? '?'}; waiting for done`);
        await watch.waitDone(Math.max(120_000, 10 * ((3 * opts.keys) / rate) * 1000), ctx.stopping);
      }
      // The load's window as the proxy saw it; memcaslap's spawn and exit when stats did not answer.
      const loadStartS = watch.loadStartS ?? 0;
      const loadS = (watch.loadEndS ?? exitS) - loadStartS;
      const s = sampleOf(round, kind, run.result, loadS);
      result.samples.push(s);
      ctx.log(`  ${s.tps} TPS, avg ${s.avgUs} µs, p99≈ ${s.p99Us} µs, max ${s.maxUs} µs, get_misses ${s.getMisses}; load ${loadS.toFixed(1)} s from +${loadStartS.toFixed(1)} s after spawn`);
      for (const p of s.problems.slice(0, 5)) ctx.log(`  memcaslap said: ${p}`);
      if (kind === 'migration') {
        const rel = (t: number | null): number | null => (t === null ? null : Math.round((t - loadStartS) * 1000) / 1000);
        result.loadS = loadS;
        result.timeline = watch.timeline.map((t) => ({ phase: t.phase, atS: rel(t.atS) ?? 0 }));
        if (watch.last !== null) {
          const { pools: _pools, ...status } = watch.last as MigrationStatusJson & { pools?: unknown };
          result.status = status;
        }
        result.copyKeysPerSec = copyRate(result.status, opts.settleMs);
        result.reachedDone = watch.done;
        result.beganS = rel(watch.firstSeen(['dual_write', 'copy', 'dual_read', 'verify', 'cutover', 'cleanup', 'done']));
        result.doneS = rel(watch.firstSeen(['done']));
        if (result.beganS !== null) {
          const end = Math.min(result.doneS ?? Number.POSITIVE_INFINITY, loadS);
          result.activeShare = Math.max(0, end - Math.max(0, result.beganS)) / loadS;
        }
        const st = watch.last;
        if (result.estimate !== null && st !== null) {
          result.comparison = compareTimes(result.estimate, st);
          ctx.log(`  memshift plan's estimate against the measured times:\n${formatComparison(result.comparison, '[bench]   ')}`);
        }
        ctx.log(
          `  migration ${st?.phase ?? '?'}: T_copy ${st?.t_copy_s ?? '-'} s, T_sync ${st?.t_sync_s ?? '-'} s, T_verify ${st?.t_verify_s ?? '-'} s, T_total ${st?.t_total_s ?? '-'} s, cleanup ${st?.t_cleanup_s ?? '-'} s; began ${secs(result.beganS)} s into the load, ${timing(result)}`,
        );
        if (!watch.done) throw new Error(`the migration did not reach done (phase ${st?.phase ?? '?'}${watch.lastError === null ? '' : `, last error: ${watch.lastError}`})`);
      }
      watch = undefined;
      await sleep(500);
    }
  } catch (err) {
    if (!ctx.stopping()) result.error = (err as Error).message;
  } finally {
    await watch?.stop();
    if (mig !== undefined) {
      const w = warnings(mig);
      result.memshiftWarnings = w.count;
      if (w.first !== undefined) result.firstWarning = w.first;
    }
    await stopAll();
  }
  return result;
}

/** T_copy runs from t0 (dual_write) and the copy itself starts a settle later. */
function copyRate(st: MigrationStatusJson | null, settleMs: number): number | null {
  const scanned = st?.counts?.['scanned'];
  const t = st?.t_copy_s;
  if (scanned === undefined || t === undefined || t === null) return null;
  return scanned / Math.max(0.1, t - settleMs / 1000);
}

const secs = (n: number | null | undefined, digits = 1): string => (n === null || n === undefined || Number.isNaN(n) ? '-' : n.toFixed(digits));

/** "done 1.2 s before the load ended", "done 3.4 s after the load ended", "not done". */
function timing(r: RoundResult): string {
  if (r.doneS === null || r.loadS === null) return 'not done';
  const d = r.loadS - r.doneS;
  return d >= 0 ? `done ${d.toFixed(1)} s before the load ended (early)` : `done ${(-d).toFixed(1)} s after the load ended (late)`;
}

// ---------------------------------------------------------------- report

export interface KindSummary {
  readonly kind: RunKind;
  readonly runs: number;
  readonly tps: number;
  readonly avgUs: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly getMisses: number;
}

export function summarizeKinds(samples: readonly RunSample[]): KindSummary[] {
  return (['no_migration', 'migration'] as const).map((kind) => {
    const mine = samples.filter((s) => s.kind === kind);
    const med = (f: (s: RunSample) => number): number => median(mine.map(f));
    return { kind, runs: mine.length, tps: med((s) => s.tps), avgUs: med((s) => s.avgUs), p99Us: med((s) => s.p99Us), maxUs: med((s) => s.maxUs), getMisses: mine.reduce((a, s) => a + s.getMisses, 0) };
  });
}

/** During-migration medians over no-migration medians; null without both. */
export function migrationRatios(summaries: readonly KindSummary[]): { tps: number; avgLatency: number; p99Latency: number } | null {
  const base = summaries.find((s) => s.kind === 'no_migration' && s.runs > 0);
  const mig = summaries.find((s) => s.kind === 'migration' && s.runs > 0);
  if (base === undefined || mig === undefined) return null;
  return { tps: mig.tps / base.tps, avgLatency: mig.avgUs / base.avgUs, p99Latency: mig.p99Us / base.p99Us };
}

const num = (n: number, digits = 0): string => (Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const x = (n: number | undefined): string => (n !== undefined && Number.isFinite(n) ? `x${n.toFixed(2)}` : '-');

function table(head: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)];
}

export function formatMigrationReport(opts: MigrationBenchOptions, rounds: readonly RoundResult[]): string {
  const samples = rounds.flatMap((r) => r.samples);
  const summary = summarizeKinds(samples);
  const ratio = migrationRatios(summary);
  const rates = [...new Set(rounds.map((r) => r.rateKeysPerSec))].map((n) => n.toLocaleString('en-US')).join('/');
  const out = [
    `Online migration [A,B] -> [A,B,C] (copy eager, rate ${rates} keys/s${opts.rate === null ? ' (auto)' : ''}, settle ${opts.settleMs} ms, cleanup), ${opts.keys.toLocaleString('en-US')} keys preloaded`,
    `${opts.rounds} round(s) × ${opts.durationS}s, memcaslap -T ${opts.threads} -c ${opts.concurrency} -X 100 (9:1 get:set) through memshift; fresh servers every round`,
    '',
    ...table(
      ['run', 'runs', 'median TPS', 'avg µs', 'p99≈ µs', 'max µs', 'get_misses'],
      summary.map((s) => [LABEL[s.kind], String(s.runs), num(s.tps), num(s.avgUs), num(s.p99Us), num(s.maxUs), num(s.getMisses)]),
    ),
    '',
    `during migration vs no migration  TPS ${x(ratio?.tps)}   avg latency ${x(ratio?.avgLatency)}   p99≈ latency ${x(ratio?.p99Latency)}`,
    '',
  ];
  const rows = rounds.map((r) => {
    const base = r.samples.find((s) => s.kind === 'no_migration');
    const mig = r.samples.find((s) => s.kind === 'migration');
    const st = r.status;
    const when = r.doneS === null || r.loadS === null ? '-' : r.doneS <= r.loadS ? `${(r.loadS - r.doneS).toFixed(1)} s early` : `${(r.doneS - r.loadS).toFixed(1)} s late`;
    return [
      String(r.round),
      r.order[0] === 'no_migration' ? 'none first' : 'migr first',
      base !== undefined && mig !== undefined ? x(mig.tps / base.tps) : '-',
      base !== undefined && mig !== undefined ? x(mig.p99Us / base.p99Us) : '-',
      secs(st?.t_copy_s),
      secs(st?.t_sync_s),
      secs(st?.t_verify_s),
      secs(st?.t_total_s),
      secs(st?.t_cleanup_s),
      st?.counts?.['scanned'] === undefined ? '-' : num(st.counts['scanned']),
      r.copyKeysPerSec === null ? '-' : num(r.copyKeysPerSec),
      r.beganS === null ? '-' : `${r.beganS >= 0 ? '+' : ''}${r.beganS.toFixed(1)}`,
      r.doneS === null ? '-' : r.doneS.toFixed(1),
      r.loadS === null ? '-' : r.loadS.toFixed(1),
      when,
      r.activeShare === null ? '-' : `${Math.round(r.activeShare * 100)}%`,
      r.error !== undefined && st?.phase !== 'done' ? 'FAILED' : (st?.phase ?? '-'),
    ];
  });
  for (const r of rounds) {
    if (r.comparison === null) continue;
    out.push(`round ${r.round}: memshift plan's estimate (probed after the preload, before the load) against the measured times`, formatComparison(r.comparison), '');
  }
  out.push(
    ...table(['round', 'order', 'TPS ratio', 'p99≈ ratio', 'T_copy s', 'T_sync s', 'T_verify s', 'T_total s', 'cleanup s', 'moved', 'copy keys/s', 'began s', 'done s', 'load s', 'finished', 'active', 'phase'], rows),
    '',
    'Medians over the rounds; the ratios are during-migration / no-migration (TPS below 1 and latency above 1',
    'mean the migration costs the foreground that much). Latency is memaslap\'s "Total" (get+set) in µs; p99≈ is',
    'read from its log2 histogram (within a factor 2). T_copy/T_sync/T_verify/T_total and cleanup are the',
    'migration\'s own (GET /migration). "moved" is the keys the copy went through, "copy keys/s" their rate over',
    'T_copy less the first settle (well below the configured rate: this machine, not the limit, set the pace).',
    '"began"/"done" are seconds after the migration run\'s load started; "finished" compares done with the end',
    'of the load (early: the rest of the load ran on the new ring; late: the migration ended without load);',
    '"active" is the share of the load the migration ran under. memcaslap uses its own keys, not the preloaded',
    'ones, so about a third of its keys are moved keys too and take the dual-write/dual-read paths: that is intended.',
  );
  return out.join('\n');
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
