/**
 * Compares sources with targets and repairs the differences, while clients keep writing both sides.
 *
 * Per key (`verifyKey`):
 *   read source and target (mg v f t c u: no LRU bump) ─ same value, flags, TTL (± tolerance) ─► equal
 *     │ different
 *   re-read both after `rereadDelayMs` ─ same ─► equal (a dual-write was in flight between our reads)
 *     │ the source's CAS moved again ─► re-read (up to `fluxRereads`), then left for the next pass
 *     │ still different, source steady ─► mismatched; repair, read both again, up to `maxRepairs` times:
 *     ├ source lacks it       ─► target: md <key> C<the target cas we saw>
 *     ├ target lacks it       ─► copyKey: add, then re-check the source's CAS (copier.ts)
 *     └ both, but different   ─► target: md <key> C<the target cas we saw>, wait `settleMs`,
 *                                then (next round) the target lacks it ─► copyKey
 *   equal after a repair ─► repaired; still different after the last one ─► left (reported)
 *
 * Why verify never writes over a target value: the source is the authority (clients read it until
 * the cut-over) and every client write goes to both sides, but its two legs land at different
 * moments. A target value that differs from the source may be the newer one, written by a client
 * whose source leg has not landed yet. Overwriting it with the source's older value (a CAS-guarded
 * set, say) would leave a stale hit once that source leg lands after our re-check. So a differing
 * target value is only ever deleted (just the version we compared: `C<cas>`; a client write in
 * between makes the delete fail with EX and stays), and the source is copied, with add, only
 * after `settleMs` (default 2 s, above the proxy's backend timeout): by then every dual-write whose
 * target leg we saw has landed on the source too, and our read sees it. A miss meanwhile is safe;
 * the target serves no reads before the cut-over. A re-read first filters out the common case, a
 * dual-write caught between our two reads, at no cost.
 *
 * Passes (`runVerify`): a full pass over every key a fresh source scan lists, plus an orphan sweep
 * of the targets (a target key in scope that no source holds is deleted, guarded by its dump CAS),
 * then incremental passes over keys whose source CAS shows they changed, until a pass finds nothing
 * to repair or `maxPasses` is reached. CAS is one counter per server, so a key written after pass
 * k−1 began has a CAS above every CAS that existed then, in particular above the highest CAS seen by
 * the scan before it (pass k−2; for pass 1, the copy's scan). Pass k therefore takes keys with a CAS
 * above that mark. (The highest CAS of pass k−1 itself is not enough: a key compared early in that
 * pass and written while it ran can have a lower CAS than a key written and dumped later.) Keys left
 * or failed in a pass are carried into the next one (up to `maxCarried`); what is left after the
 * last pass is reported.
 */
import { copyKey } from './copier.js';
import { isCopyError } from './copy-error.js';
import { sleep } from './sleep.js';
import { showKey, type Engine } from './engine.js';
import { endpointId, flagNumber, type Endpoint, type MetaClient, type MetaReply } from './meta-client.js';
import { ttlMatches } from './ttl.js';

/** What one side holds for a key. */
export interface ItemState {
  readonly present: boolean;
  readonly value: Buffer | null;
  readonly flags: number;
  /** Seconds left, -1 for none. */
  readonly ttl: number;
  readonly cas: number;
}

const ABSENT: ItemState = { present: false, value: null, flags: 0, ttl: -1, cas: 0 };

/** An `mg … v f t c [u]` reply as an item state. */
export function itemState(reply: MetaReply): ItemState {
  if (reply.status === 'EN') return ABSENT;
  if (reply.status !== 'VA' || reply.value === null) throw new Error(`mg answered ${reply.status} ${reply.flags.join(' ')}`);
  return { present: true, value: reply.value, flags: flagNumber(reply, 'f'), ttl: flagNumber(reply, 't'), cas: flagNumber(reply, 'c') };
}

/** Same value, flags and TTL (within `toleranceSec`), or both absent. CAS is per server and never compared. */
export function sameItem(a: ItemState, b: ItemState, toleranceSec: number): boolean {
  if (!a.present || !b.present) return a.present === b.present;
  return a.flags === b.flags && ttlMatches(a.ttl, b.ttl, toleranceSec) && a.value !== null && b.value !== null && a.value.equals(b.value);
}

export type VerifyOutcome = 'equal' | 'repaired' | 'left';

export interface VerifyKeyOptions {
  /** Default 2 s. */
  ttlToleranceSec?: number;
  /** Wait before the re-read (default 20 ms). */
  rereadDelayMs?: number;
  /** Wait after deleting a differing target value before copying the source's (default 2000 ms). */
  settleMs?: number;
  /** Repair rounds before a key is left (default 3). */
  maxRepairs?: number;
  /** Re-reads while the source keeps changing before a key is left for the next pass (default 5). */
  fluxRereads?: number;
  beforeWrite?: (bytes: number) => Promise<void>;
  signal?: AbortSignal;
}

async function readBoth(source: MetaClient, target: MetaClient, key: Buffer): Promise<[ItemState, ItemState]> {
  const [s, t] = await Promise.all([source.mg(key, 'v f t c u'), target.mg(key, 'v f t c u')]);
  return [itemState(s), itemState(t)];
}

/** Deletes the target's version `cas` of `key` (EX: a newer one replaced it and stays). */
async function dropTarget(target: MetaClient, key: Buffer, cas: number): Promise<void> {
  const r = await target.md(key, `C${cas}`);
  if (r.status !== 'HD' && r.status !== 'NF' && r.status !== 'EX') throw new Error(`md answered ${r.status}`);
}

/** Compares one key and repairs it (see the header). Throws only when a server cannot be read. */
export async function verifyKey(source: MetaClient, target: MetaClient, key: Buffer, opts: VerifyKeyOptions = {}): Promise<VerifyOutcome> {
  const tol = opts.ttlToleranceSec ?? 2;
  let [s, t] = await readBoth(source, target, key);
  if (sameItem(s, t, tol)) return 'equal';
  // A key the source keeps changing (a hot counter) differs because writes are in flight, not
  // because the target is wrong: wait for a quiet moment; if none comes, leave it to the next pass
  // (its source CAS moved, so the next incremental pass takes it again). Deleting the target's
  // version of a key that clients are busy changing would open a hole under their writes.
  for (let quiet = 0; ; quiet++) {
    const before = s.cas;
    await sleep(opts.rereadDelayMs ?? 20, opts.signal);
    [s, t] = await readBoth(source, target, key);
    if (sameItem(s, t, tol)) return 'equal';
    if (s.cas === before) break;
    if (quiet >= (opts.fluxRereads ?? 5)) return 'left';
  }
  for (let i = 0; i < (opts.maxRepairs ?? 3); i++) {
    if (!s.present) {
      await opts.beforeWrite?.(0);
      await dropTarget(target, key, t.cas);
    } else if (t.present) {
      await opts.beforeWrite?.(0);
      await dropTarget(target, key, t.cas);
      await sleep(opts.settleMs ?? 2_000, opts.signal);
    } else {
      const r = await copyKey(source, target, key, { beforeWrite: opts.beforeWrite });
      if (r.outcome === 'error') throw r.error ?? new Error('copy failed');
    }
    [s, t] = await readBoth(source, target, key);
    if (sameItem(s, t, tol)) return 'repaired';
  }
  return 'left';
}

/**
 * A target key in scope that no source holds is deleted (only the version the dump listed:
 * `md C<cas>`; a fresh client write makes it EX and stays). True when it was deleted.
 */
export async function sweepOrphan(sources: readonly MetaClient[], target: MetaClient, key: Buffer, targetCas: number, fence: () => void = () => {}): Promise<boolean> {
  const held = await Promise.all(sources.map((s) => s.mg(key, 'u')));
  for (const r of held) {
    if (r.status === 'HD') return false;
    if (r.status !== 'EN') throw new Error(`mg answered ${r.status}`);
  }
  fence();
  const r = await target.md(key, `C${targetCas}`);
  if (r.status !== 'HD' && r.status !== 'NF' && r.status !== 'EX') throw new Error(`md answered ${r.status}`);
  return r.status === 'HD';
}

export interface VerifyPassReport {
  pass: number;
  kind: 'full' | 'incremental';
  /** Per source: keys with a CAS above this were checked (0 in the full pass). */
  casAbove: Record<string, number>;
  checked: number;
  equal: number;
  mismatched: number;
  repaired: number;
  left: number;
  errors: number;
  /** Target keys the orphan sweep looked at, and how many of them no source held (deleted). */
  swept: number;
  orphansDeleted: number;
  durationMs: number;
}

export interface VerifyReport {
  passes: VerifyPassReport[];
  /** The last pass found nothing it could not repair and had no errors. */
  converged: boolean;
  /** Keys still different or unreadable after the last pass. */
  left: { count: number; sample: string[] };
}

export interface VerifyRunOptions extends VerifyKeyOptions {
  /** Passes in all, the full one included (default 5). */
  maxPasses?: number;
  /** Targets to sweep for orphans in the full pass (empty: no sweep). */
  sweepTargets?: readonly Endpoint[];
  /** Per source id: the highest CAS the copy's scan saw (the first incremental pass's mark). */
  copyMaxCas: ReadonlyMap<string, number>;
  /** Left keys carried from pass to pass (default 10,000). */
  maxCarried?: number;
}

interface Carried {
  key: Buffer;
  source: Endpoint;
}

/** The full pass, the orphan sweep and the incremental passes (see the header). */
export async function runVerify(engine: Engine, opts: VerifyRunOptions): Promise<VerifyReport> {
  const passes: VerifyPassReport[] = [];
  const maxPasses = Math.max(1, opts.maxPasses ?? 5);
  const maxCarried = opts.maxCarried ?? 10_000;
  let carried = new Map<string, Carried>();
  let overflow = 0;
  let markBefore = new Map(opts.copyMaxCas); // highest CAS of the scan before the previous one
  let markPrev = new Map<string, number>(); // highest CAS of the previous pass's scan
  for (let pass = 0; pass < maxPasses && !engine.aborted; pass++) {
    const started = Date.now();
    const full = pass === 0;
    const casAbove: Record<string, number> = {};
    const rep: VerifyPassReport = { pass, kind: full ? 'full' : 'incremental', casAbove, checked: 0, equal: 0, mismatched: 0, repaired: 0, left: 0, errors: 0, swept: 0, orphansDeleted: 0, durationMs: 0 };
    const nextCarried = new Map<string, Carried>();
    overflow = 0;
    const check = async (key: Buffer, source: Endpoint): Promise<void> => {
      rep.checked++;
      let outcome: VerifyOutcome | 'error';
      try {
        outcome = await verifyKey(engine.client(source), engine.client(engine.targetFor(key)), key, { ...opts, beforeWrite: engine.beforeWrite, signal: engine.signal });
      } catch (err) {
        if (isCopyError(err, 'COPY_ABORTED')) return;
        engine.recordError(err, key);
        outcome = 'error';
      }
      if (outcome === 'equal') {
        rep.equal++;
        engine.progress.add('verified');
        return;
      }
      if (outcome !== 'error') {
        rep.mismatched++;
        engine.progress.add('mismatched');
      }
      if (outcome === 'repaired') {
        rep.repaired++;
        engine.progress.add('repaired');
        return;
      }
      if (outcome === 'left') rep.left++;
      else rep.errors++;
      if (nextCarried.size < maxCarried) nextCarried.set(key.toString('latin1'), { key, source });
      else overflow++;
    };
    // Keys left by the previous pass first (their CAS may not have moved); the scan then skips them.
    const rechecked = new Set(carried.keys());
    await engine.pump([...carried.values()], (c) => check(c.key, c.source));
    const seenMax = new Map<string, number>();
    for (const source of engine.sources) {
      if (engine.aborted) break;
      const id = endpointId(source);
      const above = full ? 0 : (markBefore.get(id) ?? 0);
      casAbove[id] = above;
      const scan = engine.scan(source);
      try {
        await engine.pump(engine.paced(changedSince(scan, above, rechecked)), (e) => check(e.key, source));
      } catch (err) {
        if (!isCopyError(err, 'COPY_ABORTED')) {
          engine.recordError(err);
          rep.errors++;
        }
      }
      seenMax.set(id, scan.stats.maxCas);
    }
    if (full) rep.orphansDeleted = await sweep(engine, opts.sweepTargets ?? [], rep);
    rep.durationMs = Date.now() - started;
    passes.push(rep);
    carried = nextCarried;
    markBefore = pass === 0 ? new Map(opts.copyMaxCas) : markPrev;
    markPrev = seenMax;
    if (rep.mismatched === 0 && rep.errors === 0 && carried.size === 0 && !full) break;
  }
  const last = passes[passes.length - 1];
  const sample = [...carried.values()].slice(0, 20).map((c) => showKey(c.key));
  return {
    passes,
    converged: last !== undefined && carried.size + overflow === 0 && last.errors === 0 && !engine.aborted,
    left: { count: carried.size + overflow, sample },
  };
}

/** Entries with a CAS above `above`, except keys already checked in this pass. */
async function* changedSince<T extends { cas: number; key: Buffer }>(entries: AsyncIterable<T>, above: number, skip: ReadonlySet<string>): AsyncGenerator<T, void, undefined> {
  for await (const e of entries) if (e.cas > above && (skip.size === 0 || !skip.has(e.key.toString('latin1')))) yield e;
}

/** Deletes target keys in scope that no source holds; returns how many. */
async function sweep(engine: Engine, targets: readonly Endpoint[], rep: VerifyPassReport): Promise<number> {
  let deleted = 0;
  const sources = engine.sources.map((s) => engine.client(s));
  for (const target of targets) {
    if (engine.aborted) break;
    const id = endpointId(target);
    const mine = engine.fixedTarget !== null ? undefined : (k: Buffer) => endpointId(engine.targetFor(k)) === id;
    try {
      await engine.pump(engine.paced(engine.scan(target, mine)), async (e) => {
        rep.swept++;
        try {
          if (await sweepOrphan(sources, engine.client(target), e.key, e.cas, () => engine.checkFence())) {
            deleted++;
            rep.mismatched++;
            rep.repaired++;
            engine.progress.add('mismatched');
            engine.progress.add('repaired');
          }
        } catch (err) {
          if (isCopyError(err, 'COPY_ABORTED')) return;
          rep.errors++;
          engine.recordError(err, e.key);
        }
      });
    } catch (err) {
      if (!isCopyError(err, 'COPY_ABORTED')) {
        rep.errors++;
        engine.recordError(err);
      }
    }
  }
  return deleted;
}
