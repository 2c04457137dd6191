/**
 * How long a migration takes, phase by phase, modelled on what the runtime does (runtime.ts, jobs.ts,
 * src/copy/sync.ts, verifier.ts) and fed with rates measured on the servers (src/copy/probe.ts).
 * Pure: `memshift plan` gathers the numbers, this turns them into T_copy, T_sync, T_verify, T_total
 * and T_cleanup, each with the terms it is the sum of and what each term rests on.
 *
 *   T_copy   dual_write's settle (the leader ticks on after `settle`, within its poll interval)
 *            + per part, for each old owner in turn: its whole metadump + its moved keys at the
 *              copy rate (one event loop parses the dump and copies: on a busy machine the two add up)
 *            + the reconcile before reads move: each new owner's metadump, its moved keys compared
 *              with the old owner, RECONCILE_BATCH keys at once (jobs.ts reconcileNew)
 *   T_sync   dual_read's settle (t1 is set by the job, so the tick comes half a poll late on average)
 *   T_verify the job notices verify (half a poll) + the full pass (each old owner's dump, its moved
 *            keys at the verify rate; then the orphan sweep of each new owner at the sweep rate)
 *            + one incremental pass (each old owner's dump again, the keys written since the copy).
 *            Not counted: a pass that repairs a key whose target value differs waits `min(2 s,
 *            settle)` before copying it again, and another pass follows (dual-writes keep the two
 *            owners equal, so this is rare; the basis says when clients write to moved keys).
 *   T_cleanup cleanup's settle + each old owner's dump with its moved keys deleted batch by batch
 *            (the walk waits for each batch: the two add up), and a second dump that finds none left
 *
 * Clients that add keys (the probe measures each old owner's `curr_items` growth) make every walk
 * longer the later it runs: the model keeps time from t0, and each walk counts the moved keys there
 * when it starts plus those added while it runs (a share of the new keys by the old owner's moved
 * share; they are dual-written to the new owners), until the cutover.
 * Lazy copy: T_copy is 0 (t1 = t0); dual_write's settle and the reconcile count in T_sync, and the
 * verify pass copies each moved key (at the copy rate).
 * Parts (replica groups) run side by side, each at its share of the rate: a phase lasts as long as
 * its slowest part. A rate that was not measured is the configured limit; with no limit either the
 * estimate is null.
 */

/** How often the leader works (Migration's constructor): `pollMs`, or settle/4 when shorter (50 ms at least). */
export function leaderIntervalMs(pollMs: number, settleMs: number): number {
  return settleMs > 0 ? Math.min(pollMs, Math.max(50, settleMs / 4)) : pollMs;
}

/** What verify waits between deleting a differing target value and copying the source's (jobs.ts). */
export function repairWaitMs(settleMs: number): number {
  return Math.min(2_000, settleMs);
}

export interface EstimateServer {
  readonly address: string;
  /** Items it holds now (`curr_items`). */
  readonly items: number;
  /** Items on moved arcs: an old owner loses them, a new owner gains them. */
  readonly moved: number;
}

/** One ring of the migration (a plain pool has one; a replicated pool one per replica group). */
export interface EstimatePart {
  readonly sources: readonly EstimateServer[];
  readonly gaining: readonly EstimateServer[];
}

/** Keys (or lines) per second; null: not measured. */
export interface MeasuredRates {
  /** metadump lines per second by server address; a server not listed gets the mean. */
  readonly dumpLinesPerSec: ReadonlyMap<string, number>;
  /** Seconds before a metadump's first line (the mean over the servers timed). */
  readonly dumpStartSeconds: number;
  readonly copy: number | null;
  readonly verify: number | null;
  readonly sweep: number | null;
  readonly reconcile: number | null;
  readonly delete: number | null;
  /** Items clients add per second to each old owner, by address (`curr_items` growth); absent or not listed: none. */
  readonly newItemsPerSec?: ReadonlyMap<string, number>;
  /** Writes by clients to the old owners per second (all keys, not only moved ones). */
  readonly clientWritesPerSec: number | null;
  /** How long the probe took (s), for the basis. */
  readonly probeSeconds: number;
}

export interface EstimateInput {
  readonly parts: readonly EstimatePart[];
  readonly copy: 'eager' | 'lazy';
  readonly cleanup: boolean;
  readonly settleMs: number;
  /** The sidecars' record poll (default 500 ms, as serve runs migrations). */
  readonly pollMs?: number;
  readonly rateKeysPerSec: number;
  readonly rateBytesPerSec?: number;
  /** Mean value bytes of a moved item (for the bytes/s limit); null: unknown. */
  readonly valueBytes: number | null;
  /** Share of the hash space that moves (the share of client writes that hit moved keys). */
  readonly movedShare: number;
  readonly measured: MeasuredRates | null;
}

/** One term of a phase: its seconds and what they rest on. */
export interface EstimateTerm {
  readonly what: string;
  readonly seconds: number;
}

export interface PhaseEstimate {
  readonly seconds: number;
  readonly terms: readonly EstimateTerm[];
}

/** A rate the estimate used, and where it came from. */
export interface UsedRate {
  readonly perSec: number | null;
  readonly from: 'measured' | 'rate limit' | 'unknown';
}

export interface MigrationEstimate {
  readonly t_copy_s: number | null;
  readonly t_sync_s: number | null;
  readonly t_verify_s: number | null;
  readonly t_total_s: number | null;
  readonly t_cleanup_s: number | null;
  readonly phases: { readonly copy: PhaseEstimate | null; readonly sync: PhaseEstimate | null; readonly verify: PhaseEstimate | null; readonly cleanup: PhaseEstimate | null };
  readonly rates: { readonly copy: UsedRate; readonly verify: UsedRate; readonly sweep: UsedRate; readonly reconcile: UsedRate; readonly delete: UsedRate; readonly dumpLinesPerSec: number | null };
  readonly movedKeys: number;
  readonly settleMs: number;
  readonly leaderIntervalMs: number;
  /** What the whole estimate rests on, one line each. */
  readonly restsOn: readonly string[];
}

const round3 = (s: number): number => Math.round(s * 1000) / 1000;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const secs = (s: number): string => `${s.toFixed(2)} s`;

function sumTerms(terms: EstimateTerm[]): PhaseEstimate {
  return { seconds: round3(terms.reduce((t, x) => t + x.seconds, 0)), terms };
}

export function estimateMigration(input: EstimateInput): MigrationEstimate {
  const m = input.measured;
  const nParts = Math.max(1, input.parts.length);
  const every = leaderIntervalMs(input.pollMs ?? 500, input.settleMs);
  const settleS = input.settleMs / 1000;
  const tickS = settleS + every / 2000;
  // The paced steps' limit: keys/s, or bytes/s over the mean value when that is lower.
  const byBytes = input.rateBytesPerSec !== undefined && input.valueBytes !== null && input.valueBytes > 0 ? input.rateBytesPerSec / input.valueBytes : Infinity;
  const limit = Math.min(input.rateKeysPerSec, byBytes);
  const paced = (measured: number | null | undefined): UsedRate =>
    measured !== null && measured !== undefined && measured > 0 ? { perSec: measured, from: 'measured' } : Number.isFinite(limit) ? { perSec: limit, from: 'rate limit' } : { perSec: null, from: 'unknown' };
  const unpaced = (measured: number | null | undefined): UsedRate => (measured !== null && measured !== undefined && measured > 0 ? { perSec: measured, from: 'measured' } : { perSec: null, from: 'unknown' });
  const rates = {
    copy: paced(m?.copy),
    verify: paced(m?.verify),
    sweep: paced(m?.sweep),
    reconcile: unpaced(m?.reconcile),
    delete: unpaced(m?.delete),
  };
  const dumpRates = [...(m?.dumpLinesPerSec.values() ?? [])].filter((r) => r > 0);
  const meanDump = dumpRates.length === 0 ? null : dumpRates.reduce((a, b) => a + b, 0) / dumpRates.length;
  /** Seconds to dump `s` when it holds `items`; 0 when no dump was measured. */
  const dumpS = (s: EstimateServer, items: number): number => {
    const r = m?.dumpLinesPerSec.get(s.address) ?? meanDump;
    return r === null || r <= 0 ? 0 : (m?.dumpStartSeconds ?? 0) + Math.max(0, items) / r;
  };
  /** Seconds for `keys` at a part's share of `rate`; null when the rate is unknown. */
  const at = (keys: number, rate: UsedRate, share = nParts): number | null => (rate.perSec === null ? (keys === 0 ? 0 : null) : keys / (rate.perSec / share));
  const grow = growthOf(input);
  const movedKeys = input.parts.reduce((n, p) => n + p.sources.reduce((k, s) => k + s.moved, 0), 0);
  /** Moved keys of all parts' old owners (or new owners) `t` seconds after t0: clients add keys until the cutover. */
  const movedOn = (side: Side, t: number): number => input.parts.reduce((n, p) => n + p[side].reduce((k, s) => k + grow.movedAt(s, side, t), 0), 0);
  const partMax = (f: (p: EstimatePart) => number | null): number | null => {
    let max = 0;
    for (const p of input.parts) {
      const v = f(p);
      if (v === null) return null;
      max = Math.max(max, v);
    }
    return max;
  };
  /**
   * Each old (or new) owner in turn from `t0` s after the start: its dump (of what it holds then,
   * `holds`) plus its moved keys at `rate` (one event loop parses the one and does the other); the parts side by
   * side. The keys are those there when its walk starts, and those clients add while it runs (at
   * the walk's length without them: the dump lists what is added ahead of it).
   */
  const walk = (side: Side, rate: UsedRate, t0: number, holds: (s: EstimateServer, t: number) => number = (s, t) => grow.itemsAt(s, side, t)): number | null =>
    partMax((p) => {
      let t = 0;
      for (const s of p[side]) {
        const keys = grow.movedAt(s, side, t0 + t);
        const first = at(keys, rate);
        if (first === null) return null;
        t += dumpS(s, holds(s, t0 + t)) + (at(keys + grow.movedPerSec(s, side) * first, rate) ?? first);
      }
      return t;
    });
  /** What a new owner holds after an eager copy: what it held, and every moved key it gains. */
  const afterCopy = (s: EstimateServer, t: number): number => s.items + grow.movedAt(s, 'gaining', t);

  const dualWriteTerm: EstimateTerm = { what: `dual_write: settle ${secs(settleS)} + half the leader's ${secs(every / 1000)} poll`, seconds: tickS };
  const dualReadTerm: EstimateTerm = { what: `dual_read: settle ${secs(settleS)} + half the leader's ${secs(every / 1000)} poll`, seconds: tickS };
  // Eager: the copy walks the old owners after dual_write's tick; lazy: nothing is copied (t1 = t0).
  const copyWalk = input.copy === 'eager' ? walk('sources', rates.copy, tickS) : 0;
  // The reconcile walks every part in turn (runtime.ts #reconcileCounts), RECONCILE_BATCH keys at once: no share.
  // Unmeasured (no probe), its keys are not counted: the rate limit does not pace it.
  const reconcileAt = tickS + (copyWalk ?? 0);
  const reconcileKeys = input.copy === 'eager' ? movedOn('gaining', reconcileAt) : 0;
  let reconcile = 0;
  for (const p of input.parts) {
    for (const g of p.gaining) {
      const t = reconcileAt + reconcile;
      const keys = input.copy === 'eager' ? grow.movedAt(g, 'gaining', t) : 0;
      reconcile += Math.max(dumpS(g, input.copy === 'eager' ? afterCopy(g, t) : grow.itemsAt(g, 'gaining', t)), at(keys, rates.reconcile, 1) ?? 0);
    }
  }
  const reconcileTerm: EstimateTerm = {
    what: `reconcile: each new owner's metadump, ${fmt(reconcileKeys)} moved keys compared with their old owner in batches${rateText(rates.reconcile)}`,
    seconds: reconcile,
  };

  let copy: PhaseEstimate | null = null;
  let sync: PhaseEstimate;
  if (input.copy === 'eager') {
    if (copyWalk !== null) {
      copy = sumTerms([dualWriteTerm, { what: `copy: ${fmt(movedOn('sources', tickS))} moved keys${grow.any ? ' (and those clients add meanwhile)' : ''}${rateText(rates.copy, nParts)}, plus each old owner's metadump`, seconds: copyWalk }, reconcileTerm]);
    }
    sync = sumTerms([dualReadTerm]);
  } else {
    copy = sumTerms([{ what: 'lazy copy: t1 = t0 (the keys are copied by verify and by read misses)', seconds: 0 }]);
    sync = sumTerms([dualWriteTerm, reconcileTerm, dualReadTerm]);
  }

  // Verify: the full pass (lazy: it copies every moved key), the orphan sweep, one incremental pass.
  let verify: PhaseEstimate | null = null;
  const verifyRate = input.copy === 'eager' ? rates.verify : rates.copy;
  const notice = every / 2000;
  const fullAt = (copy?.seconds ?? 0) + sync.seconds + notice;
  const fullPass = walk('sources', verifyRate, fullAt);
  const sweepAt = fullAt + (fullPass ?? 0);
  const sweep = walk('gaining', rates.sweep, sweepAt, input.copy === 'eager' ? afterCopy : undefined);
  const movedWrites = m?.clientWritesPerSec === null || m?.clientWritesPerSec === undefined ? 0 : m.clientWritesPerSec * input.movedShare;
  if (copy !== null && fullPass !== null && sweep !== null) {
    const terms: EstimateTerm[] = [{ what: `the copy job notices verify: half the leader's ${secs(every / 1000)} poll`, seconds: notice }];
    const full = fullPass + sweep;
    terms.push({
      what: `full pass: ${fmt(movedOn('sources', fullAt))} moved keys${rateText(verifyRate, nParts)}, then the orphan sweep of the new owners${rateText(rates.sweep, nParts)}`,
      seconds: full,
    });
    // Keys written since the copy scanned them: over the reconcile, T_sync and the full pass.
    const since = (input.copy === 'eager' ? reconcile : 0) + sync.seconds + full;
    const incrementalAt = fullAt + full;
    const changed = Math.min(movedOn('sources', incrementalAt), movedWrites * since);
    const dumps = partMax((p) => p.sources.reduce((t, s) => t + dumpS(s, grow.itemsAt(s, 'sources', incrementalAt)), 0)) ?? 0;
    const changedS = at(changed, verifyRate) ?? 0;
    terms.push({ what: `incremental pass: each old owner's metadump again${changed > 0 ? `, ~${fmt(changed)} keys written since the copy` : ''}`, seconds: dumps + changedS });
    verify = sumTerms(terms);
  }

  // Cleanup waits settle into its phase, then deletes (unpaced) and walks each old owner once more.
  // The walk waits for each batch of deletes before it reads on (jobs.ts deleteMoved): the dump and
  // the deletes add up. Clients add no moved keys to the old owners after the cutover (the end of verify).
  let cleanup: PhaseEstimate | null = null;
  const cutoverAt = verify === null || copy === null ? null : copy.seconds + sync.seconds + verify.seconds;
  if (!input.cleanup) cleanup = sumTerms([]);
  else if (cutoverAt !== null) {
    const start = cutoverAt + tickS;
    const del = partMax((p) => {
      let t = 0;
      for (const s of p.sources) {
        const moved = grow.movedAt(s, 'sources', cutoverAt);
        const items = grow.itemsAt(s, 'sources', start + t);
        const keys = at(moved, rates.delete, 1) ?? 0;
        t += dumpS(s, items) + keys + dumpS(s, items - moved);
      }
      return t;
    });
    if (del !== null) {
      cleanup = sumTerms([
        { what: `settle ${secs(settleS)} into cleanup + half the leader's ${secs(every / 1000)} poll`, seconds: tickS },
        { what: `${fmt(movedOn('sources', cutoverAt))} moved keys deleted from the old owners${rateText(rates.delete)}, then a metadump that finds none left`, seconds: del },
      ]);
    }
  }

  const total = cutoverAt === null ? null : round3(cutoverAt);
  return {
    t_copy_s: copy?.seconds ?? null,
    t_sync_s: sync?.seconds ?? null,
    t_verify_s: verify?.seconds ?? null,
    t_total_s: total,
    t_cleanup_s: cleanup?.seconds ?? null,
    phases: { copy, sync, verify, cleanup },
    rates: { ...rates, dumpLinesPerSec: meanDump },
    movedKeys,
    settleMs: input.settleMs,
    leaderIntervalMs: every,
    restsOn: restsOn(input, rates, meanDump, movedKeys, limit, grow),
  };
}

type Side = 'sources' | 'gaining';

/** How clients adding keys grow each server over the migration (MeasuredRates.newItemsPerSec). */
interface Growth {
  /** Some server grows. */
  readonly any: boolean;
  /** New items per second on `s`, and those on moved arcs. */
  readonly itemsPerSec: (s: EstimateServer, side: Side) => number;
  readonly movedPerSec: (s: EstimateServer, side: Side) => number;
  /** Its items, and its moved keys, `t` seconds after the start. */
  readonly itemsAt: (s: EstimateServer, side: Side, t: number) => number;
  readonly movedAt: (s: EstimateServer, side: Side, t: number) => number;
}

/**
 * An old owner gains keys at the measured rate, a share of them on moved arcs (its moved items over
 * its items: its share of the ring that moves); those are dual-written, so its part's new owners
 * gain them too, each by its share of the moved keys. A new owner takes no other client writes
 * before the cutover.
 */
function growthOf(input: EstimateInput): Growth {
  const rates = input.measured?.newItemsPerSec;
  const old = (s: EstimateServer): number => Math.max(0, rates?.get(s.address) ?? 0);
  const oldMoved = (s: EstimateServer): number => (s.items > 0 ? (old(s) * Math.min(s.moved, s.items)) / s.items : 0);
  const partOf = new Map<EstimateServer, EstimatePart>();
  for (const p of input.parts) for (const g of p.gaining) partOf.set(g, p);
  const newMoved = (g: EstimateServer): number => {
    const p = partOf.get(g);
    if (p === undefined) return 0;
    const gained = p.gaining.reduce((n, x) => n + x.moved, 0);
    const share = gained > 0 ? g.moved / gained : 1 / p.gaining.length;
    return p.sources.reduce((n, s) => n + oldMoved(s), 0) * share;
  };
  const movedPerSec = (s: EstimateServer, side: Side): number => (side === 'sources' ? oldMoved(s) : newMoved(s));
  const itemsPerSec = (s: EstimateServer, side: Side): number => (side === 'sources' ? old(s) : newMoved(s));
  return {
    any: input.parts.some((p) => p.sources.some((s) => old(s) > 0)),
    itemsPerSec,
    movedPerSec,
    itemsAt: (s, side, t) => s.items + itemsPerSec(s, side) * t,
    movedAt: (s, side, t) => s.moved + movedPerSec(s, side) * t,
  };
}

function rateText(r: UsedRate, share = 1): string {
  if (r.perSec === null) return ' (rate unknown)';
  const part = share > 1 ? `, ${share} parts side by side` : '';
  return ` at ${fmt(r.perSec)} keys/s (${r.from}${part})`;
}

function restsOn(input: EstimateInput, rates: Omit<MigrationEstimate['rates'], 'dumpLinesPerSec'>, meanDump: number | null, movedKeys: number, limit: number, grow: Growth): string[] {
  const items = input.parts.reduce((n, p) => n + p.sources.reduce((k, s) => k + s.items, 0), 0);
  const out = [
    `items: ${fmt(movedKeys)} of the ${fmt(items)} items on the old owners that lose keys move (stats curr_items x the moved share of each)`,
    `rate limit: ${Number.isFinite(input.rateKeysPerSec) ? `${fmt(input.rateKeysPerSec)} keys/s` : 'none'}${input.rateBytesPerSec === undefined ? '' : `, ${fmt(input.rateBytesPerSec)} bytes/s`}${Number.isFinite(limit) && limit < input.rateKeysPerSec ? ` (= ${fmt(limit)} keys/s at ${fmt(input.valueBytes ?? 0)} bytes a value)` : ''}`,
    `settle ${(input.settleMs / 1000).toFixed(2)} s before each phase switch; the leader works every ${(leaderIntervalMs(input.pollMs ?? 500, input.settleMs) / 1000).toFixed(2)} s`,
  ];
  const m = input.measured;
  if (m === null) out.push('no probe: every paced step at the rate limit, dumps and unpaced steps not counted (an underestimate when the servers or this machine are the limit)');
  else {
    const r = (u: UsedRate): string => (u.perSec === null ? '-' : `${fmt(u.perSec)}${u.from === 'measured' ? '' : ' (limit)'}`);
    out.push(
      `measured on the servers (probe ${m.probeSeconds.toFixed(1)} s, the copy engine at the rate limits): metadump ${meanDump === null ? '-' : fmt(meanDump)} lines/s after ${(m.dumpStartSeconds * 1000).toFixed(0)} ms to the first, copy ${r(rates.copy)}, verify ${r(rates.verify)}, sweep ${r(rates.sweep)}, reconcile ${r(rates.reconcile)}, delete ${r(rates.delete)} keys/s`,
      `new items: ${grow.any ? `clients add ${fmt(sumOver(input, 'sources', grow.itemsPerSec))}/s to the old owners, ~${fmt(sumOver(input, 'sources', grow.movedPerSec))}/s on moved arcs (curr_items during the probe, less its own keys); each walk counts the keys there when it starts and those added while it runs, until the cutover` : 'none added during the probe (curr_items, less the probe keys)'}`,
      `client writes: ${m.clientWritesPerSec === null ? 'unknown' : `${fmt(m.clientWritesPerSec)}/s on the old owners, ~${fmt(m.clientWritesPerSec * input.movedShare)}/s to moved keys (the incremental pass checks them)`}; a verify pass that must repair a key adds ${(repairWaitMs(input.settleMs) / 1000).toFixed(2)} s (min(2 s, settle)) and a pass, not counted`,
    );
  }
  return out;
}

function sumOver(input: EstimateInput, side: Side, f: (s: EstimateServer, side: Side) => number): number {
  return input.parts.reduce((n, p) => n + p[side].reduce((k, s) => k + f(s, side), 0), 0);
}
