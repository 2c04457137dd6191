/**
 * The one driver entry point of the copy engine: replica sync (rebuild a group) and migration (move
 * arcs to a new owner) both call `syncServers`; they differ only in sources, target and filter.
 *
 *   t0 ─ copy: for each source in turn, scan (metadump) ─► filter ─► pace ─► copyKey (add + re-check)
 *   t1 ─ sync: `beforeVerify` (the caller keeps dual-writing until it is satisfied)
 *   t2 ─ verify: full pass + orphan sweep, incremental passes (verifier.ts)
 *   t3 ─ report
 *
 * It runs while clients keep reading and writing the sources and targets, with every client write
 * going to both (the dual-write). The rules that make that safe, in short (the reasoning is in
 * copier.ts and verifier.ts):
 * - the copy writes with add, so a value a client wrote to the target wins over our older copy;
 * - after each write the source's CAS is re-checked, and our write is deleted if it moved or the
 *   key is gone ("when in doubt, delete": a miss is safe, a stale hit is not);
 * - verify re-reads before it calls anything a mismatch (a dual-write in flight explains most),
 *   never writes over a target value (it may be newer than the source's, its source leg still on
 *   the way): it deletes the version it compared (`md C<cas>`), waits `settleMs`, then copies with
 *   the copier's add and re-check; and it deletes target keys no source holds.
 *
 * Sources are scanned one after another (one crawler per server; a BUSY crawler is waited for, see
 * scanner.ts). Everything runs on the engine's own connections. The keys/s rate paces both the copy
 * and verify scans; the eviction watch halves it while a target's `evictions` grow.
 * An abort (signal) stops taking keys, lets the keys in flight finish, and returns the report with
 * `aborted: true`.
 */
import { copyKey } from './copier.js';
import { isCopyError } from './copy-error.js';
import { Engine, type EngineOptions, type KeyFilter, type TargetSpec } from './engine.js';
import { endpointId, type Endpoint } from './meta-client.js';
import { Progress, type ProgressSnapshot } from './progress.js';
import { EvictionWatch, type EvictionPolicy } from './rate-limiter.js';
import { LoopLagWatch } from './loop-lag.js';
import type { DumpEntry, Scan } from './scanner.js';
import { runVerify, type VerifyReport } from './verifier.js';

export interface SyncOptions {
  sources: readonly Endpoint[];
  /** One server, or where each key goes (e.g. its owner on the new ring). */
  target: TargetSpec;
  /** Only keys that pass are copied and verified (migration: the moved arcs; replication: the group's keys). */
  filter?: KeyFilter;
  /** Keys per second (Infinity: unlimited; it reads as null in the JSON of a report). */
  rateKeysPerSec: number;
  rateBytesPerSec?: number;
  verify: boolean;
  /** false: no copy pass, straight to `beforeVerify` and verify (a lazy migration, or a resumed verify). */
  copy?: boolean;
  /** The copy compares a key the target already holds and replaces a different one (copier.ts). */
  distrustTarget?: boolean;
  signal?: AbortSignal;
  /** Asked before every write: false stops the run before it writes (EngineOptions.fence). */
  fence?: () => boolean;
  /** Called every `progressIntervalMs` (default 1000) and once at the end. */
  onProgress?: (snapshot: ProgressSnapshot) => void;
  progressIntervalMs?: number;
  /** Pass one to read it (or mark t2) from outside while the sync runs. */
  progress?: Progress;
  /** Awaited between copy and verify: the dual-write window (t1 → t2). */
  beforeVerify?: (progress: Progress) => Promise<void> | void;
  /** Keys in flight at once (default 32). */
  concurrency?: number;
  /** Verify passes in all (default 5). */
  maxVerifyPasses?: number;
  /** Default 2 s. */
  ttlToleranceSec?: number;
  /** How long verify waits between deleting a differing target value and copying the source's (default 2000 ms). */
  settleMs?: number;
  /**
   * Target servers to sweep for keys no source holds. Default: the target when it is one server
   * (with the filter, if any), none when the target is a function. `false`: no sweep.
   */
  orphanSweep?: boolean | readonly Endpoint[];
  /**
   * Slow down while this process's event loop lags (default false; true where the copy shares the
   * process with client traffic: a migration or rebuild inside memshift). See loop-lag.ts.
   */
  watchEventLoop?: boolean;
  /** Slow down while a target evicts (default true), polling every `evictionPollMs` (default 1000). */
  watchEvictions?: boolean;
  evictionPollMs?: number;
  /** How far to slow down and how fast to recover (rate-limiter.ts). */
  evictionPolicy?: EvictionPolicy;
  scan?: EngineOptions['scan'];
  client?: EngineOptions['client'];
}

export interface SourceReport {
  source: string;
  /** Item lines the copy's metadump listed, and how many passed the filter. */
  dumped: number;
  matched: number;
  maxCas: number;
  mode: string;
  /** Dump lines that were not well-formed item lines (skipped). */
  unparsed: number;
  /** Set when the copy's scan of this source failed (verify still runs). */
  error?: string;
}

export interface SyncReport {
  /** Not aborted, every source scanned, and verify converged (without verify: no copy errors). */
  ok: boolean;
  aborted: boolean;
  progress: ProgressSnapshot;
  sources: SourceReport[];
  verify: VerifyReport | null;
  rate: { keysPerSec: number; bytesPerSec: number | null; factor: number; evictionSlowdowns: number; loopLagSlowdowns: number };
  /** BUSY answers waited out over every scan. */
  busyRetries: number;
  errors: { count: number; sample: string[] };
}

function countOutcome(engine: Engine, entry: DumpEntry, outcome: Awaited<ReturnType<typeof copyKey>>): void {
  const p = engine.progress;
  switch (outcome.outcome) {
    case 'copied':
      p.add('copied');
      p.add('bytes', outcome.bytes);
      return;
    case 'skipped':
    case 'vanished':
    case 'raced':
      p.add(outcome.outcome);
      return;
    case 'error':
      engine.recordError(outcome.error ?? new Error('copy failed'), entry.key);
  }
}

async function estimateItems(engine: Engine): Promise<number | null> {
  try {
    const all = await Promise.all(engine.sources.map((s) => engine.client(s).stats()));
    return all.reduce((sum, st) => sum + Number(st.get('curr_items') ?? 0), 0);
  } catch {
    return null;
  }
}

/** Copies every key of `sources` (that passes `filter`) to its target, then verifies. See the header. */
export async function syncServers(opts: SyncOptions): Promise<SyncReport> {
  const engine = new Engine({ ...opts, progress: opts.progress });
  const progress = engine.progress;
  // The copy goes no faster than the slower of the two watches allows.
  let evictionFactor = 1;
  let lagFactor = 1;
  const applyFactor = (): void => {
    engine.limiter.factor = Math.min(evictionFactor, lagFactor);
  };
  const watch = new EvictionWatch({
    ...opts.evictionPolicy,
    intervalMs: opts.evictionPollMs,
    onFactor: (f) => {
      evictionFactor = f;
      applyFactor();
    },
  });
  const lag = new LoopLagWatch({
    onFactor: (f) => {
      lagFactor = f;
      applyFactor();
    },
  });
  if (opts.watchEventLoop === true) lag.start();
  if (opts.watchEvictions !== false) {
    engine.onNewTarget = (e, client) => watch.add(endpointId(e), async () => Number((await client.stats()).get('evictions') ?? 0));
    if (engine.fixedTarget !== null) engine.noteTarget(engine.fixedTarget);
    if (Array.isArray(opts.orphanSweep)) for (const t of opts.orphanSweep) engine.noteTarget(t);
    watch.start();
  }
  let walkedBefore = 0;
  let current: Scan | null = null;
  const updateWalked = (): void => {
    progress.counts.walked = walkedBefore + (current?.stats.dumped ?? 0);
  };
  const report = (): void => {
    updateWalked();
    try {
      opts.onProgress?.(progress.snapshot());
    } catch {
      // a failing progress callback must not take the copy down
    }
  };
  const ticker = opts.onProgress === undefined ? null : setInterval(report, opts.progressIntervalMs ?? 1_000);
  ticker?.unref();

  const sources: SourceReport[] = [];
  const copyMaxCas = new Map<string, number>();
  let verify: VerifyReport | null = null;
  try {
    progress.start();
    progress.expected = await estimateItems(engine);
    for (const source of opts.copy === false ? [] : opts.sources) {
      if (engine.aborted) break;
      const scan = engine.scan(source);
      current = scan;
      const rep: SourceReport = { source: endpointId(source), dumped: 0, matched: 0, unparsed: 0, maxCas: 0, mode: scan.stats.mode };
      try {
        await engine.pump(engine.paced(scan), async (entry) => {
          progress.add('scanned');
          updateWalked();
          const target = engine.client(engine.targetFor(entry.key));
          countOutcome(engine, entry, await copyKey(engine.client(source), target, entry.key, { dumpExp: entry.exp, beforeWrite: engine.beforeWrite, distrustTarget: opts.distrustTarget === true }));
        });
      } catch (err) {
        if (!isCopyError(err, 'COPY_ABORTED')) {
          engine.recordError(err);
          rep.error = err instanceof Error ? err.message : String(err);
        }
      }
      const { dumped, matched, unparsed, maxCas, mode } = scan.stats;
      Object.assign(rep, { dumped, matched, unparsed, maxCas, mode });
      walkedBefore += dumped;
      current = null;
      copyMaxCas.set(rep.source, maxCas);
      sources.push(rep);
    }
    updateWalked();
    if (!engine.aborted) {
      progress.markCopyDone();
      await opts.beforeVerify?.(progress);
      progress.markSyncDone();
    }
    if (!engine.aborted && opts.verify) {
      const sweepTargets = opts.orphanSweep === false ? [] : Array.isArray(opts.orphanSweep) ? opts.orphanSweep : engine.fixedTarget !== null ? [engine.fixedTarget] : [];
      verify = await runVerify(engine, {
        maxPasses: opts.maxVerifyPasses,
        ttlToleranceSec: opts.ttlToleranceSec,
        settleMs: opts.settleMs,
        sweepTargets,
        copyMaxCas,
      });
    }
    if (engine.aborted) progress.markAborted();
    else progress.markVerifyDone();
  } finally {
    if (ticker !== null) clearInterval(ticker);
    watch.stop();
    lag.stop();
    engine.close();
  }
  report();
  const snapshot = progress.snapshot();
  const rate = engine.limiter.snapshot();
  return {
    ok: !engine.aborted && sources.every((s) => s.error === undefined) && (verify !== null ? verify.converged : progress.counts.errors === 0),
    aborted: engine.aborted,
    progress: snapshot,
    sources,
    verify,
    rate: { ...rate, evictionSlowdowns: watch.slowdowns, loopLagSlowdowns: lag.slowdowns },
    busyRetries: engine.busyRetries,
    errors: { count: progress.counts.errors, sample: [...engine.errorSample] },
  };
}
