/** One round of `bench --scenario migration` (see migration.ts): fresh servers, the preload, both runs, `memshift plan` under the load. */
import { freePort, memshiftConfig, serverSpec, startMemcached, startMemshift, stats, stopAll, type MemshiftHandle, type ServerHandle } from '../test/support/harness.js';
import { compareTimes, formatComparison, parseEstimateLine, runMemshiftCli } from './estimate-check.js';
import { runMemcaslap } from './memcaslap.js';
import type { MemcaslapResult } from './memcaslap-output.js';
import { LABEL, type MigrationBenchContext, type MigrationBenchOptions, type MigrationStatusJson, type RoundResult, type RunKind, type RunSample } from './migration-result.js';
import { secs } from './migration-report.js';
import { migrationStatus, preload, RunWatch, sleep, startMigration, untilLoad, warnings } from './migration-watch.js';
import { measuresOf } from './report.js';

/** What `memshift plan` (its probe, under the lead load) may take. */
const PLAN_BUDGET_MS = 20_000;

/** The lead load runs this long before the measured run starts (and, in the migration run, before plan probes). */
const WARM_MS = 3_000;

/**
 * The measured memcaslap is spawned this long before the lead load stops and the migration starts:
 * memcaslap puts its load on ~0.3-0.7 s after it is spawned, so the load goes on without a gap.
 */
const SPAWN_LEAD_MS = 400;

/**
 * A load that is not measured: memcaslap with the run's settings until `stop()` (at most `maxS`),
 * so that what follows (plan's probe, the migration) runs under the load the measured run puts on.
 */
function leadLoad(target: ServerHandle, opts: MigrationBenchOptions, maxS: number): { stop: () => Promise<void> } {
  const stop = new AbortController();
  let failure: Error | null = null;
  const run = runMemcaslap({ host: target.host, port: target.port, durationS: maxS, concurrency: opts.concurrency, threads: opts.threads, valueSize: 100, signal: stop.signal }).then(
    () => undefined,
    (err: Error) => {
      if (!stop.signal.aborted) failure = err;
    },
  );
  return {
    stop: async () => {
      stop.abort(new Error('the lead load stopped'));
      await run;
      if (failure !== null) throw new Error(`the lead load failed: ${(failure as Error).message}`);
    },
  };
}

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
  let trail: { stop: () => Promise<void> } | undefined;
  let trailTimer: NodeJS.Timeout | undefined;
  try {
    const [a, b, c] = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 256 })));
    if (a === undefined || b === undefined || c === undefined) throw new Error('unreachable');
    const base = await startMemshift(memshiftConfig({ pools: { main: { servers: [a, b] } } }));
    const adminPort = await freePort();
    // No `start:`: the migration stays planned until POST /migration/start (memshift migrate start).
    const migration = { id: `bench-move-${round}`, from: [a, b].map(serverSpec), copy: 'eager', rate, settle: opts.settleMs, cleanup: true };
    mig = await startMemshift(memshiftConfig({ pools: { main: { servers: [a, b, c], migration } }, admin: { listen: `127.0.0.1:${adminPort}`, token: 'bench' } }));
    ctx.log(`${tag}: memcached A ${a.address} B ${b.address} C ${c.address}; memshift [A,B] ${base.address}; memshift [A,B]→[A,B,C] ${mig.address} (admin ${adminPort})`);
    ctx.log(`${tag}: the migration runs at ${rate.toLocaleString('en-US')} keys/s, settle ${opts.settleMs} ms, once started`);

    const t = Date.now();
    await preload(mig, opts.keys);
    result.preloadS = (Date.now() - t) / 1000;
    const items = await Promise.all([a, b].map(async (s) => Number((await stats(s.port, s.host)).get('curr_items') ?? 0)));
    result.itemsOnOld = items.reduce((x, y) => x + y, 0);
    const planned = await migrationStatus(adminPort);
    result.movedShare = planned.moved_share ?? null;
    ctx.log(`${tag}: preloaded ${opts.keys.toLocaleString('en-US')} keys in ${result.preloadS.toFixed(1)} s (A+B hold ${result.itemsOnOld.toLocaleString('en-US')}; moved share ${result.movedShare === null ? '?' : `${(result.movedShare * 100).toFixed(1)}%`})`);
    if (result.itemsOnOld < opts.keys) throw new Error(`A and B hold ${result.itemsOnOld} items after preloading ${opts.keys} keys`);
    if (planned.phase !== 'planned') throw new Error(`the migration is already in phase ${planned.phase} after the preload`);

    for (const kind of order) {
      if (ctx.stopping()) break;
      const target = kind === 'migration' ? mig : base;
      // Both runs alike: a lead load (not measured) warms the proxy; in the migration run, plan
      // probes under it, through the migrating sidecar, so the estimate sees the load the migration
      // will run under. Then the measured load takes over, and the migration starts with it.
      ctx.log(`${tag}: lead load on the ${kind === 'migration' ? 'migrating' : 'no-migration'} proxy (not measured)`);
      const lead = leadLoad(target, opts, (WARM_MS + PLAN_BUDGET_MS) / 1000 + 10);
      try {
        await untilLoad(target, 10_000, ctx.stopping);
        await sleep(WARM_MS);
        if (kind === 'migration' && !ctx.stopping()) {
          ctx.log(`${tag}: memshift plan -c ${mig.configFile} (its probe runs in the migrating sidecar, under the load)`);
          const planned = Date.now();
          const plan = await runMemshiftCli(['plan', '-c', mig.configFile], (line) => ctx.log(`  ${line}`), PLAN_BUDGET_MS);
          result.planS = (Date.now() - planned) / 1000;
          result.estimate = parseEstimateLine(plan.stdout);
          if (result.estimate === null) throw new Error(`memshift plan printed no estimate (exit ${plan.status})`);
        }
      } catch (err) {
        await lead.stop().catch(() => undefined);
        throw err;
      }
      if (ctx.stopping()) {
        await lead.stop().catch(() => undefined);
        break;
      }
      ctx.log(`${tag}: ${LABEL[kind]} (${opts.durationS}s, -c ${opts.concurrency})`);
      const measured = runMemcaslap({ host: target.host, port: target.port, durationS: opts.durationS, concurrency: opts.concurrency, threads: opts.threads, valueSize: 100 });
      await sleep(SPAWN_LEAD_MS);
      // The same polling in both runs, so both pay for it alike.
      watch = new RunWatch(target, kind === 'migration' ? adminPort : null, Date.now());
      if (kind === 'migration') {
        const started = await startMigration(adminPort, 'bench');
        result.startAt = new Date(watch.zero).toISOString();
        ctx.log(`${tag}: POST /migration/start (as memshift migrate start): ${started.phase ?? '?'}`);
      }
      await lead.stop();
      // A migration that outlasts the measured load runs on under a trailing load (not measured),
      // spawned as the measured one ends: it runs under the load its estimate was made under.
      const doneWithinMs = Math.max(120_000, 10 * ((3 * opts.keys) / rate) * 1000);
      const current = watch;
      trailTimer = kind === 'migration' ? setTimeout(() => void (current.done || (trail = leadLoad(target, opts, doneWithinMs / 1000 + 10))), opts.durationS * 1000 - SPAWN_LEAD_MS) : undefined;
      const run = await measured;
      const exitS = (Date.now() - watch.zero) / 1000;
      if (kind === 'no_migration') await watch.stop();
      else if (watch.done) await watch.stop();
      else {
        ctx.log(`  the migration is still in phase ${watch.last?.phase ?? '?'}; waiting for done${trail === undefined ? '' : ' under a trailing load (not measured)'}`);
        await watch.waitDone(doneWithinMs, ctx.stopping);
      }
      clearTimeout(trailTimer);
      const trailed = trail !== undefined;
      await trail?.stop();
      trail = undefined;
      // The load's window as the proxy saw it; memcaslap's exit when stats did not answer, or when a
      // trailing load kept the proxy busy after it.
      const loadStartS = watch.loadStartS ?? 0;
      const loadS = (trailed ? exitS : (watch.loadEndS ?? exitS)) - loadStartS;
      const s = sampleOf(round, kind, run.result, loadS);
      result.samples.push(s);
      ctx.log(`  ${s.tps} TPS, avg ${s.avgUs} µs, p99≈ ${s.p99Us} µs, max ${s.maxUs} µs, get_misses ${s.getMisses}; load ${loadS.toFixed(1)} s from +${loadStartS.toFixed(1)} s after the switch`);
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
          `  verify passes: ${(st?.verify?.pass_times ?? []).map((p) => `${p.kind} ${p.checked} checked${p.swept > 0 ? ` + ${p.swept} swept` : ''} in ${p.seconds.toFixed(2)} s`).join('; ') || '-'}`,
        );
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
    clearTimeout(trailTimer);
    await watch?.stop();
    await (trail as { stop: () => Promise<void> } | undefined)?.stop().catch(() => undefined);
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
