/** One round of `bench --scenario migration` (see migration.ts): fresh servers, the preload, `memshift plan`, both loads. */
import { freePort, memshiftConfig, serverSpec, startMemcached, startMemshift, stats, stopAll, type MemshiftHandle } from '../test/support/harness.js';
import { compareTimes, formatComparison, parseEstimateLine, runMemshiftCli } from './estimate-check.js';
import { runMemcaslap } from './memcaslap.js';
import type { MemcaslapResult } from './memcaslap-output.js';
import { LABEL, type MigrationBenchContext, type MigrationBenchOptions, type MigrationStatusJson, type RoundResult, type RunKind, type RunSample } from './migration-result.js';
import { secs } from './migration-report.js';
import { migrationStatus, preload, RunWatch, sleep, warnings } from './migration-watch.js';
import { measuresOf } from './report.js';

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

// ---------------------------------------------------------------- one round

export async function runRound(round: number, opts: MigrationBenchOptions, ctx: MigrationBenchContext): Promise<RoundResult> {
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

/** "done 1.2 s before the load ended", "done 3.4 s after the load ended", "not done". */
function timing(r: RoundResult): string {
  if (r.doneS === null || r.loadS === null) return 'not done';
  const d = r.loadS - r.doneS;
  return d >= 0 ? `done ${d.toFixed(1)} s before the load ended (early)` : `done ${(-d).toFixed(1)} s after the load ended (late)`;
}
