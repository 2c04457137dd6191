/**
 * The background jobs of a migration's leader (runtime.ts decides which one runs, and stops it when
 * the phase moves on, the migration is paused or the lease is lost):
 *
 *   copy, verify   copyParts (jobs.ts) over every part; between them the leader moves to dual_read
 *                  and waits for verify; a copy pass with errors is done again, whole
 *   dual_write     lazy copy: reconcile what the new owners got by dual-writes, then copied
 *   cleanup        delete the moved keys from the old owners (after an abort: from the new ones)
 *
 * Counts: a job's own counters start at 0 with each run (a run stopped by pause, a lost lease or
 * a restart starts over). What a run adds is added to the migration's counts (addGrowth), so they
 * only grow for the whole migration: they are the record's, never a run's.
 */
import type { MigrationSettings, PoolConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { sleep } from '../backend/clock.js';
import { cleanPart, copyParts, reconcileNew, type PartsProgress } from './jobs.js';
import { repairWaitMs } from './estimate.js';
import type { PhaseEvent } from './phases.js';
import { addGrowth, type MigrationCounts, type MigrationRecord, type RunProgress } from './record.js';
import type { MigrationSpace } from './space.js';

/** What the jobs need of their migration (runtime.ts). */
export interface JobHost {
  readonly pool: PoolConfig;
  readonly space: MigrationSpace;
  readonly logger: Logger;
  readonly config: MigrationSettings;
  /** How long a job waits between looks at the record. */
  readonly every: number;
  /** The record as this process has it now. */
  record(): MigrationRecord;
  /** Changes this process's counts (published with the record's next publish). */
  count(change: (c: MigrationCounts) => MigrationCounts): void;
  /** The current run's progress (its bar and ETA). */
  progress(p: RunProgress): void;
  apply(e: PhaseEvent): Promise<MigrationRecord>;
  publish(r: MigrationRecord): Promise<void>;
}

export class LeaderJobs {
  /** Copy passes that ended with errors (a pass with errors is done again, up to 3). */
  #copyAttempts = 0;

  constructor(readonly host: JobHost) {}

  async copyVerify(copy: boolean, signal: AbortSignal, fence: () => boolean): Promise<void> {
    const h = this.host;
    const m = h.config;
    if (h.space.parts.every((p) => p.gone === true)) return this.#startEmpty(copy, signal, fence);
    let last: PartsProgress['counts'] | null = null;
    const report = await copyParts(h.space.parts, {
      copy,
      fence,
      rateKeysPerSec: m.rateKeysPerSec,
      ...(m.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: m.rateBytesPerSec }),
      signal,
      onProgress: (s) => {
        const run = s.counts;
        h.progress({ phase: s.phase, expected: s.expected, walked: s.walked, eta_s: s.etaSec, scanned: run.scanned, checked: run.verified + run.mismatched });
        const before = last ?? {};
        last = run;
        h.count((c) => addGrowth(c, run, before));
      },
      beforeVerify: async (counts) => {
        // A copy pass with errors (a server timed out or died) is done again, whole, before reads move:
        // a stopped server may still apply writes late, and only a clean pass after that is trusted.
        // After three such passes, a few keys that keep failing (too large for a new server, say) are
        // left to verify, which repairs or reports them, rather than copying everything forever.
        if (copy && counts.errors > 0) {
          this.#copyAttempts++;
          const few = counts.errors <= Math.max(10, counts.scanned / 1_000);
          if (this.#copyAttempts < 3 || !few) throw new Error(`the copy had ${counts.errors} errors; copying again`);
          h.logger.warn({ pool: h.pool.name, errors: counts.errors }, 'copy errors persist after 3 passes; verify repairs or reports them');
        }
        // What the new owners got by dual-writes while some sidecars still wrote the old owners only
        // (a delete there, say) is checked against the old owners before reads move.
        if (copy) await this.#reconcileCounts(signal, fence);
        // The copy is done: every sidecar reads dual once the record says so, and verify starts after settle.
        if (copy && fence()) await h.apply({ type: 'copied' });
        while (!signal.aborted && h.record().phase !== 'verify') await sleep(h.every);
      },
      settleMs: repairWaitMs(m.settleMs),
    });
    if (signal.aborted || !fence()) return;
    if (report.ok) {
      await h.publish({ ...h.record(), verify: { passes: report.passes, left: 0, note: 'the last pass found no difference', pass_times: report.passTimes } });
      await h.apply({ type: 'verified' });
      return;
    }
    const note = `${report.left} keys still differed or could not be read after ${report.passes} passes (${report.errorSample ?? 'under write load'}); they were deleted from the new owner where they differed, and verify runs again`;
    await h.publish({ ...h.record(), verify: { passes: report.passes, left: report.left, note, pass_times: report.passTimes } });
    await sleep(1_000);
  }

  /**
   * A failover without a copy (plain pool): the copy phase empties the new owners' moved arcs
   * (leftovers of an earlier ring would be stale), then reads move, and there is nothing to verify.
   */
  async #startEmpty(copy: boolean, signal: AbortSignal, fence: () => boolean): Promise<void> {
    const h = this.host;
    if (copy) {
      let errors = 0;
      for (const part of h.space.parts) if (!signal.aborted) errors += await cleanPart(part, 'new', signal, fence, this.#countCleaned);
      if (signal.aborted || !fence()) return;
      if (errors > 0) throw new Error(`emptying the new owners: ${errors} deletes failed`);
      await h.apply({ type: 'copied' });
      while (!signal.aborted && h.record().phase !== 'verify') await sleep(h.every);
    }
    if (signal.aborted || !fence()) return;
    await h.publish({ ...h.record(), verify: { passes: 0, left: 0, note: "no copy of the dead server's keys exists: they start empty on their new owners" } });
    await h.apply({ type: 'verified' });
  }

  async reconcile(signal: AbortSignal, fence: () => boolean): Promise<void> {
    await this.#reconcileCounts(signal, fence);
    if (!signal.aborted && fence()) await this.host.apply({ type: 'copied' });
  }

  /** reconcileNew (jobs.ts), counted; throws when keys could not be compared. */
  async #reconcileCounts(signal: AbortSignal, fence: () => boolean): Promise<void> {
    let [checked, deleted, errors] = [0, 0, 0];
    for (const part of this.host.space.parts) {
      const [c, d, e] = await reconcileNew(part.arcs, part.sourceOf, signal, fence);
      [checked, deleted, errors] = [checked + c, deleted + d, errors + e];
    }
    if (signal.aborted) return;
    if (errors > 0) throw new Error(`reconcile: ${errors} keys could not be compared`);
    this.host.count((c) => ({ ...c, verified: c.verified + checked - deleted, repaired: c.repaired + deleted }));
  }

  readonly #countCleaned = (n: number): void => this.host.count((c) => ({ ...c, cleaned: c.cleaned + n }));

  async cleanup(signal: AbortSignal, fence: () => boolean, side: 'old' | 'new', now: () => number): Promise<void> {
    const h = this.host;
    const started = now();
    let errors = 0;
    for (const part of h.space.parts) {
      if (!signal.aborted) errors += await cleanPart(part, side, signal, fence, this.#countCleaned);
    }
    if (signal.aborted || !fence()) return;
    if (errors > 0) throw new Error(`${errors} deletes failed`);
    if (side === 'old') await h.apply({ type: 'cleaned' });
    else {
      const r = h.record();
      await h.publish({ ...r, seq: r.seq + 1, times: { ...r.times, cleanupStart: started, cleanupEnd: now() } });
    }
  }
}
