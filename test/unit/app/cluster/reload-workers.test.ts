/**
 * A reload of workers: N is applied by every worker or by none: each builds, then all serve what
 * they built, or all undo it when one refused, failed or is gone.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../../../src/config/index.js';
import { reloadOutcome, type ReloadResult } from '../../../../src/app/reload.js';
import { CallError, type Caller } from '../../../../src/app/cluster/calls.js';
import { reloadWorkers } from '../../../../src/app/cluster/reload-workers.js';

const config = parseConfig(stringify({ listen: ['127.0.0.1:11211'], workers: 2, pools: { main: { servers: ['10.0.0.1:11211:1'] } } }));

/** A worker whose reload answers `step` (or fails with it), and that records how it was ended. */
function worker(index: number, step: { prepared: string[] } | { done: ReloadResult } | Error) {
  const ends: boolean[] = [];
  const caller = {
    call: (op: string, args: { commit?: boolean; opts?: { dryRun?: boolean } }) => {
      if (op === 'reload') return step instanceof Error ? Promise.reject(step) : Promise.resolve(step);
      ends.push(args.commit!);
      return Promise.resolve(args.commit === true ? reloadOutcome('applied', false, { changes: ['prepared' in step ? step.prepared[0]! : ''] }) : reloadOutcome('failed', false, { errors: ['undone'] }));
    },
  } as unknown as Caller;
  return { index, caller, ends };
}

describe('reloadWorkers', () => {
  it('serves what every worker built once all of them built it', async () => {
    const ws = [worker(0, { prepared: ['flush_all: false'] }), worker(1, { prepared: ['flush_all: false'] })];
    const r = await reloadWorkers(ws, config, {});
    expect(r.outcome).toMatchObject({ result: 'applied', changes: ['flush_all: false'] });
    expect(ws.map((w) => w.ends)).toEqual([[true], [true]]);
  });

  it('undoes what the others built when one refuses, and answers its refusal', async () => {
    const refused = reloadOutcome('refused', false, { errors: ['cannot listen on 127.0.0.1:1: listen EADDRINUSE'] });
    const ws = [worker(0, { prepared: ['x'] }), worker(1, { done: refused })];
    const r = await reloadWorkers(ws, config, {});
    expect(r).toEqual({ outcome: refused, refusedBy: 1 });
    expect(ws[0]!.ends).toEqual([false]);
  });

  it('takes a worker that is gone or does not answer as a failure', async () => {
    const ws = [worker(0, { prepared: ['x'] }), worker(1, new CallError('worker 1 exited', 503))];
    const r = await reloadWorkers(ws, config, {});
    expect(r.outcome).toMatchObject({ result: 'failed', errors: ['worker 1: worker 1 exited'] });
    expect(ws[0]!.ends).toEqual([false]);
  });

  it('answers unchanged when no worker had anything to apply, and a dry run with worker 0 unless one refuses', async () => {
    expect((await reloadWorkers([worker(0, { done: reloadOutcome('unchanged', false) }), worker(1, { done: reloadOutcome('unchanged', false) })], config, {})).outcome.result).toBe('unchanged');
    const would = reloadOutcome('would_apply', true, { changes: ['c'] });
    expect((await reloadWorkers([worker(0, { done: would }), worker(1, { done: would })], config, { dryRun: true })).outcome).toEqual(would);
    const no = reloadOutcome('refused', true, { errors: ['e'] });
    expect((await reloadWorkers([worker(0, { done: would }), worker(1, { done: no })], config, { dryRun: true })).outcome).toEqual(no);
  });
});
