/**
 * A reload of `workers: N`: every worker applies the config, or none does.
 *
 *   dry run   each worker answers what it would do; the answer is the first refusal or failure
 *             (by worker index), else worker 0's.
 *   reload    each worker checks the config and builds its next generation (as one process does:
 *             app/reload.ts), then answers `prepared`, or its result when it stops before that
 *             (refused, failed, unchanged). Prepared everywhere (or unchanged somewhere): every
 *             prepared worker serves what it built, and the answer is worker 0's. Any refusal or
 *             failure (a worker that died or did not answer is one): every prepared worker undoes
 *             what it built, and the answer is that refusal.
 */
import type { Config } from '../../config/types.js';
import { reloadOutcome, type ReloadOptions, type ReloadResult } from '../reload.js';
import type { Caller } from './calls.js';
import type { Calls } from './messages.js';

/** How long a worker may take to check and build a reload (a migration it joins waits for its record). */
const RELOAD_CALL_MS = 60_000;
const RELOAD_END_MS = 30_000;

type Step = Calls['reload']['value'];

const bad = (r: ReloadResult): boolean => r.result === 'refused' || r.result === 'failed';

/** The step of a worker that could not be asked (gone, or no answer): a failure naming it. */
const failed = (index: number, err: unknown, dryRun: boolean): Step => ({ done: reloadOutcome('failed', dryRun, { errors: [`worker ${index}: ${(err as Error).message}`] }) });

export async function reloadWorkers(
  workers: readonly { index: number; caller: Caller }[],
  config: Config,
  opts: ReloadOptions,
): Promise<{ outcome: ReloadResult; refusedBy?: number }> {
  const dryRun = opts.dryRun === true;
  const args = { config, opts: { ...(opts.force === undefined ? {} : { force: opts.force }), dryRun, ...(opts.trigger === undefined ? {} : { trigger: opts.trigger }) } };
  const steps = await Promise.all(workers.map((w) => w.caller.call('reload', args, RELOAD_CALL_MS).catch((err: unknown) => failed(w.index, err, dryRun))));
  const refusal = steps.findIndex((s) => 'done' in s && bad(s.done));
  const prepared = workers.filter((_, i) => 'prepared' in steps[i]!);
  const end = (commit: boolean): Promise<ReloadResult[]> =>
    Promise.all(prepared.map((w) => w.caller.call('reload_end', { commit }, RELOAD_END_MS).catch((err: unknown) => (failed(w.index, err, dryRun) as { done: ReloadResult }).done)));
  if (refusal >= 0) {
    await end(false);
    return { outcome: (steps[refusal] as { done: ReloadResult }).done, refusedBy: workers[refusal]!.index };
  }
  const finals = await end(true);
  const applied = finals.find((r) => r.result === 'applied');
  if (applied !== undefined) return { outcome: applied };
  // A worker that failed while it switched over (it died): the others serve the new config.
  const late = finals.findIndex(bad);
  if (late >= 0) return { outcome: finals[late]!, refusedBy: prepared[late]!.index };
  const first = steps[0];
  return { outcome: first !== undefined && 'done' in first ? first.done : reloadOutcome('unchanged', dryRun) };
}
