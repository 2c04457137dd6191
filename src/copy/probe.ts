/**
 * A short measurement, on the real servers and with the copy engine's own pieces, of how fast each
 * step of a copy run goes there now: what `memshift plan` estimates a migration's times from
 * (src/migration/estimate.ts). A second or two in all:
 *
 *   dump       `lru_crawler metadump all` of each server (scanner.ts), with the run's filter, for
 *              up to `dumpMs` each: lines listed per second (or the whole dump, when it ends first)
 *   write      `probeKeys` keys of the servers' mean value size set on the source (ms, T300)
 *   copy       copyKey (copier.ts: add + re-check, distrustTarget as a migration) source -> target,
 *              through an Engine at the run's keys/s and bytes/s limits, up to `stageMs`
 *   verify     verifyKey (verifier.ts) of the copied keys, paced the same way
 *   sweep      sweepOrphan against every source, paced
 *   reconcile  the migration's reconcile read: both owners' `mg` side by side, RECONCILE_BATCH keys at once
 *   delete     `md` of the copies on the target in batches of 64, as a cleanup deletes
 *
 * The probe keys live under `__memshift__:probe:` (clients cannot reach them, copies, verifies and
 * cleanups skip them), expire after 5 minutes, and are deleted from both servers at the end. Their
 * number is bounded by keys (20,000) and bytes (16 MiB). Client writes to the sources during the
 * probe (`stats` deltas less the probe's own) are reported too: they make verify repair keys. So
 * are the items clients add to each source (`curr_items` growth less the probe keys): a migration
 * under a load that adds keys has more keys to move by the time each of its walks runs.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RESERVED_PREFIX } from '../protocol/index.js';
import { copyKey } from './copier.js';
import { isCopyError } from './copy-error.js';
import { Engine, type KeyFilter } from './engine.js';
import { LoopLagWatch } from './loop-lag.js';
import { endpointId, type Endpoint, type MetaClient } from './meta-client.js';
import { scanServer, type DumpEntry } from './scanner.js';
import { sweepOrphan, verifyKey } from './verifier.js';

export interface ProbeOptions {
  /** The old owners that lose keys; the first is the copy's source. */
  readonly sources: readonly Endpoint[];
  /** A new owner that gains keys (the copy's target). */
  readonly target: Endpoint;
  /** Servers whose metadump to time, each with the filter the run applies to it. */
  readonly dumps: readonly { readonly endpoint: Endpoint; readonly filter?: KeyFilter }[];
  readonly rateKeysPerSec: number;
  readonly rateBytesPerSec?: number;
  /** Value size of the probe keys (the servers' mean item size, say). */
  readonly valueBytes: number;
  /** Time box of each dump (default 300 ms). */
  readonly dumpMs?: number;
  /** Time of the copy stage, over its rounds (default 900 ms); verify, sweep and reconcile get 60% of it each, delete 40%. */
  readonly stageMs?: number;
  /**
   * Slow down while this process's event loop lags, as a migration's copy does (loop-lag.ts): true
   * when the probe runs inside a sidecar that serves clients.
   */
  readonly watchEventLoop?: boolean;
  readonly signal?: AbortSignal;
}

/** One server's metadump: lines listed in `seconds`; `complete` when END came within the time box. */
export interface DumpProbe {
  readonly server: string;
  readonly listed: number;
  readonly matched: number;
  readonly seconds: number;
  readonly complete: boolean;
  /** Seconds from the request to its first line (connect, the crawler starting). */
  readonly startSeconds: number;
  /** Lines per second after the first; null when the dump failed (`error`) or listed too little to tell. */
  readonly linesPerSec: number | null;
  readonly error?: string;
}

/** One timed stage: keys done in `seconds`. */
export interface StageProbe {
  readonly keys: number;
  readonly seconds: number;
  /** Keys per second; null when no key was done. */
  readonly perSec: number | null;
  readonly errors: number;
}

export interface ProbeResult {
  readonly source: string;
  readonly target: string;
  readonly valueBytes: number;
  readonly dumps: readonly DumpProbe[];
  readonly write: StageProbe;
  readonly copy: StageProbe;
  readonly verify: StageProbe;
  readonly sweep: StageProbe;
  readonly reconcile: StageProbe;
  readonly delete: StageProbe;
  /** Writes by clients to the sources per second during the probe (null: stats unreadable). */
  readonly clientWritesPerSec: number | null;
  /**
   * Items clients added to each source per second during the probe (`curr_items` after less before,
   * less the probe keys still on it; 0 when it shrank); empty when stats were unreadable.
   */
  readonly newItems: readonly { readonly server: string; readonly perSec: number }[];
  readonly seconds: number;
}

/** Most probe keys, and most probe bytes, written at once. */
export const PROBE_MAX_KEYS = 20_000;
export const PROBE_MAX_BYTES = 16 * 1024 * 1024;
const PROBE_TTL_S = 300;
/** Requests in flight while the probe keys are written or removed; a cleanup deletes 64 at a time too. */
const BATCH = 64;
/** The reconcile (migration/jobs.ts reconcileNew) checks this many keys at once; the probe times it so. */
export const RECONCILE_BATCH = 64;
const WRITE_BATCH = 256;
/** Lines of the untimed first dump. */
const WARM_LINES = 5_000;
/** How long past its time box a stage's key may take before it is aborted. */
const STUCK_MS = 2_000;
/** Turns of copy, verify, sweep and reconcile. */
const ROUNDS = 3;

/** Write commands in a `stats` answer: sets, incr/decr, deletes, touches. */
const WRITE_STATS = ['cmd_set', 'incr_misses', 'incr_hits', 'decr_misses', 'decr_hits', 'delete_misses', 'delete_hits', 'cmd_touch'];

function writesOf(stats: Map<string, string>): number {
  return WRITE_STATS.reduce((n, s) => n + (Number(stats.get(s) ?? 0) || 0), 0);
}

const itemsOf = (stats: Map<string, string>): number => Number(stats.get('curr_items') ?? 0) || 0;

/** One timed run (the write and delete stages). */
function stage(keys: number, started: number, errors: number): StageProbe {
  const seconds = (performance.now() - started) / 1000;
  return { keys, seconds, perSec: keys > 0 && seconds > 0 ? keys / seconds : null, errors };
}

/** A time box on the caller's signal. */
function box(ms: number, outer: AbortSignal | undefined): AbortSignal {
  const t = AbortSignal.timeout(ms);
  return outer === undefined ? t : AbortSignal.any([t, outer]);
}

/** How many probe keys: enough for `stageMs` at the rate, within the key and byte bounds. */
export function probeKeyCount(rateKeysPerSec: number, stageMs: number, valueBytes: number): number {
  const byRate = Number.isFinite(rateKeysPerSec) ? Math.ceil(rateKeysPerSec * (stageMs / 1000) * 1.2) : PROBE_MAX_KEYS;
  const byBytes = Math.floor(PROBE_MAX_BYTES / Math.max(1, valueBytes));
  return Math.max(50, Math.min(PROBE_MAX_KEYS, byRate, byBytes));
}

async function timeDump(endpoint: Endpoint, filter: KeyFilter | undefined, ms: number, signal: AbortSignal | undefined): Promise<DumpProbe> {
  const scan = scanServer(endpoint, { filter, signal: box(ms, signal), busyTimeoutMs: ms, connectTimeoutMs: 2_000 });
  const started = performance.now();
  let first: number | null = null;
  let complete = false;
  let error: string | undefined;
  try {
    for await (const _ of scan) first ??= performance.now();
    complete = true;
  } catch (err) {
    if (!isCopyError(err, 'COPY_ABORTED')) error = err instanceof Error ? err.message : String(err);
    if (signal?.aborted === true) throw err;
  }
  const ended = performance.now();
  const { dumped: listed, matched } = scan.stats;
  // The first yielded line stands for the dump's start (a filter may hold back the first few lines).
  const startSeconds = ((first ?? ended) - started) / 1000;
  const streaming = (ended - (first ?? ended)) / 1000;
  const linesPerSec = error !== undefined || listed < 100 || streaming <= 0 ? null : listed / streaming;
  return { server: endpointId(endpoint), listed, matched, seconds: (ended - started) / 1000, startSeconds, complete, linesPerSec, ...(error === undefined ? {} : { error }) };
}

/** Keys handed out one by one across a stage's rounds: once each (`wrap` false), or round and round. */
class KeyCursor {
  #i = 0;
  constructor(
    readonly keys: readonly Buffer[],
    readonly wrap: boolean,
  ) {}

  next(): Buffer | undefined {
    if (this.keys.length === 0 || (!this.wrap && this.#i >= this.keys.length)) return undefined;
    return this.keys[this.#i++ % this.keys.length];
  }
}

/** A stage's keys and seconds, summed over its rounds. */
class Tally {
  keys = 0;
  seconds = 0;
  errors = 0;

  add(keys: number, started: number, errors: number): void {
    this.keys += keys;
    this.errors += errors;
    this.seconds += (performance.now() - started) / 1000;
  }

  result(): StageProbe {
    return { keys: this.keys, seconds: this.seconds, perSec: this.keys > 0 && this.seconds > 0 ? this.keys / this.seconds : null, errors: this.errors };
  }
}

/** An engine for one stage turn, and when the turn's time box ends (performance.now()). */
interface StageEngine {
  readonly engine: Engine;
  readonly until: number;
}

/** Runs `work` on keys from `cursor` through the stage's engine (paced at its limits, `concurrency` at once) until they or its time box run out. */
async function timed(stage: StageEngine, cursor: KeyCursor, tally: Tally, outer: AbortSignal | undefined, work: (key: Buffer) => Promise<boolean>): Promise<void> {
  const { engine, until } = stage;
  let done = 0;
  let errors = 0;
  const entries = async function* (): AsyncGenerator<DumpEntry> {
    // No new key past the time box; the keys in flight finish and count, with their time (a stage cut
    // off mid-flight would count the time of work it throws away, and read slow by that much).
    for (let key = cursor.next(); key !== undefined && performance.now() < until; key = cursor.next()) yield { key, exp: -1, la: 0, cas: 0, fetched: false, cls: 0, size: 0 };
  };
  const started = performance.now();
  try {
    await engine.pump(engine.paced(entries()), async (e) => {
      try {
        if (await work(e.key)) done++;
        else errors++;
      } catch (err) {
        if (!isCopyError(err, 'COPY_ABORTED')) errors++;
      }
    });
  } catch (err) {
    // The time box ends the stage while the pacing waits; the caller's abort goes on up.
    if (!isCopyError(err, 'COPY_ABORTED') || outer?.aborted === true) throw err;
  }
  tally.add(done, started, errors);
}

/** Measures each step of a copy run on the real servers (see the header). */
export async function probeCopy(o: ProbeOptions): Promise<ProbeResult> {
  const began = performance.now();
  const stageMs = o.stageMs ?? 900;
  const source = o.sources[0];
  if (source === undefined) throw new RangeError('probeCopy needs a source');
  const dumps: DumpProbe[] = [];
  // A first, untimed read of a dump: the code that reads one runs cold in a fresh process (its first
  // few thousand lines come several times slower), while a migration's later dumps run warm.
  const warm = o.dumps[0];
  if (warm !== undefined) {
    let n = 0;
    try {
      for await (const _ of scanServer(warm.endpoint, { filter: warm.filter, signal: box(o.dumpMs ?? 300, o.signal), busyTimeoutMs: 300 })) if (++n >= WARM_LINES) break;
    } catch (err) {
      if (o.signal?.aborted === true) throw err;
    }
  }
  for (const d of o.dumps) dumps.push(await timeDump(d.endpoint, d.filter, o.dumpMs ?? 300, o.signal));

  // A loop-lag watch paces each stage, as it paces a migration's copy; each starts at full rate, as
  // a migration's verify does seconds after its copy (the reconcile and the settles in between).
  let lag: LoopLagWatch | null = null;
  const warmKey = Buffer.from(`${RESERVED_PREFIX}:probe:warm`, 'latin1');
  /** A new engine for a stage, its connections opened before the stage's clock starts. */
  const engineFor = async (ms: number): Promise<StageEngine> => {
    const stop = new AbortController();
    const engine = new Engine({
      sources: o.sources,
      target: o.target,
      rateKeysPerSec: o.rateKeysPerSec,
      ...(o.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: o.rateBytesPerSec }),
      signal: o.signal === undefined ? stop.signal : AbortSignal.any([stop.signal, o.signal]),
    });
    await Promise.all([...o.sources, o.target].map((e) => engine.client(e).mg(warmKey, '').catch(() => undefined)));
    // The stage's time box starts once its connections are open. Past it no key starts; a key still
    // in flight STUCK_MS later (a hung server) is aborted.
    const until = performance.now() + ms;
    setTimeout(() => stop.abort(), ms + STUCK_MS).unref();
    lag?.stop();
    lag = o.watchEventLoop === true ? new LoopLagWatch({ onFactor: (f) => (engine.limiter.factor = f) }) : null;
    lag?.start();
    return { engine, until };
  };
  // One engine for the untimed bookkeeping (its clients are the connections every stage uses).
  const admin = new Engine({ sources: o.sources, target: o.target, rateKeysPerSec: Infinity, ...(o.signal === undefined ? {} : { signal: o.signal }) });
  const src = admin.client(source);
  const dst = admin.client(o.target);
  const tag = `${RESERVED_PREFIX}:probe:${randomBytes(6).toString('hex')}:`;
  const valueBytes = Math.max(1, Math.round(o.valueBytes));
  const count = probeKeyCount(o.rateKeysPerSec, stageMs, valueBytes);
  const keys = Array.from({ length: count }, (_, i) => Buffer.from(`${tag}${i}`, 'latin1'));
  const value = Buffer.alloc(valueBytes, 0x70);
  const statsOf = (): Promise<(Map<string, string> | null)[]> => Promise.all(o.sources.map((s) => admin.client(s).stats().catch(() => null)));
  const before = await statsOf();
  const writesStarted = performance.now();
  let ours = 0;
  /** `each` over the keys, BATCH at once; resolves to [keys that succeeded, errors]. */
  const batched = async (list: readonly Buffer[], each: (k: Buffer) => Promise<boolean>, size = BATCH): Promise<[number, number]> => {
    let ok = 0;
    let bad = 0;
    for (let i = 0; i < list.length && o.signal?.aborted !== true; i += size) {
      const results = await Promise.all(list.slice(i, i + size).map((k) => each(k).catch(() => false)));
      for (const r of results) if (r) ok++; else bad++;
    }
    return [ok, bad];
  };
  try {
    const writeStarted = performance.now();
    const [written, writeErrors] = await batched(keys, async (k) => (await src.ms(k, value, `T${PROBE_TTL_S} F0`)).status === 'HD', WRITE_BATCH);
    ours += keys.length;
    const write = stage(written, writeStarted, writeErrors);

    // Each stage runs in ROUNDS short turns, interleaved, so that a moment when this machine is busy
    // elsewhere weighs on every rate alike instead of on one.
    const copied: Buffer[] = [];
    const stages = { copy: new Tally(), verify: new Tally(), sweep: new Tally(), reconcile: new Tally() };
    const toCopy = new KeyCursor(keys, false);
    const again = new KeyCursor(copied, true);
    for (let round = 0; round < ROUNDS && o.signal?.aborted !== true; round++) {
      let turn = await engineFor(stageMs / ROUNDS);
      let engine = turn.engine;
      await timed(turn, toCopy, stages.copy, o.signal, async (key) => {
        const r = await copyKey(engine.client(source), engine.client(o.target), key, { beforeWrite: engine.beforeWrite, distrustTarget: true });
        if (r.outcome === 'copied' || r.outcome === 'skipped') copied.push(key);
        return r.outcome === 'copied' || r.outcome === 'skipped';
      });
      engine.close();

      turn = await engineFor((stageMs * 0.6) / ROUNDS);
      engine = turn.engine;
      await timed(turn, again, stages.verify, o.signal, async (key) => {
        const outcome = await verifyKey(engine.client(source), engine.client(o.target), key, { beforeWrite: engine.beforeWrite, ...(engine.signal === undefined ? {} : { signal: engine.signal }) });
        return outcome === 'equal';
      });
      engine.close();

      turn = await engineFor((stageMs * 0.6) / ROUNDS);
      engine = turn.engine;
      const sweepSources = o.sources.map((s) => engine.client(s));
      // Every probe key is on the source: the sweep reads and keeps them all.
      await timed(turn, again, stages.sweep, o.signal, async (key) => !(await sweepOrphan(sweepSources, engine.client(o.target), key, 0)));
      engine.close();

      // The reconcile's reads: both owners side by side, RECONCILE_BATCH keys at once (jobs.ts reconcileNew).
      const started = performance.now();
      const stop = box((stageMs * 0.6) / ROUNDS, o.signal);
      let reconciled = 0;
      let failed = 0;
      while (!stop.aborted) {
        const batch: Buffer[] = [];
        for (let key = again.next(); key !== undefined; key = batch.length < RECONCILE_BATCH ? again.next() : undefined) batch.push(key);
        if (batch.length === 0) break;
        const results = await Promise.allSettled(batch.map((key) => Promise.all([dst.mg(key, 'v f c u'), src.mg(key, 'v f u')])));
        for (const r of results) if (r.status === 'fulfilled') reconciled++; else failed++;
      }
      stages.reconcile.add(reconciled, started, failed);
    }
    const [copy, verify, sweep, reconcile] = [stages.copy.result(), stages.verify.result(), stages.sweep.result(), stages.reconcile.result()];

    const deleteStarted = performance.now();
    const stopDelete = box(stageMs * 0.4, o.signal);
    const toDelete = copied.slice();
    let deleted = 0;
    let deleteErrors = 0;
    while (toDelete.length > 0 && !stopDelete.aborted) {
      const [ok, bad] = await batched(toDelete.splice(0, BATCH), async (k) => (await dst.md(k, '')).status === 'HD');
      deleted += ok;
      deleteErrors += bad;
    }
    const del = stage(deleted, deleteStarted, deleteErrors);

    const seconds = (performance.now() - writesStarted) / 1000;
    const after = await statsOf();
    const pairs = after.map((a, i) => [before[i], a] as const);
    const read = pairs.every(([b, a]) => b !== null && b !== undefined && a !== null);
    const clientWrites = read ? pairs.reduce((n, [b, a]) => n + Math.max(0, writesOf(a!) - writesOf(b!)), 0) - ours : null;
    // The probe keys on a source now: all those written to the copy's source, and the copies the
    // delete stage left on the target when the target is a source too.
    const ownOn = (s: Endpoint): number => (s === source ? written : 0) + (endpointId(s) === endpointId(o.target) ? copied.length - deleted : 0);
    const newItems = read ? o.sources.map((s, i) => ({ server: endpointId(s), perSec: Math.max(0, itemsOf(pairs[i]![1]!) - itemsOf(pairs[i]![0]!) - ownOn(s)) / seconds })) : [];
    return {
      source: endpointId(source),
      target: endpointId(o.target),
      valueBytes,
      dumps,
      write,
      copy,
      verify,
      sweep,
      reconcile,
      delete: del,
      clientWritesPerSec: clientWrites === null ? null : Math.max(0, clientWrites) / seconds,
      newItems,
      seconds: (performance.now() - began) / 1000,
    };
  } finally {
    // Whatever a stage left: the probe keys go from both servers (they expire in 5 minutes anyway).
    (lag as LoopLagWatch | null)?.stop();
    await Promise.all([src, dst].map((c: MetaClient) => batched(keys, async (k) => (await c.md(k, '')).status === 'HD', WRITE_BATCH))).catch(() => undefined);
    admin.close();
  }
}
