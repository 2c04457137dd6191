/**
 * The data path of a pool with a migration: one binary search over the merged arcs gives a key's
 * old and new owner (arcs.ts). A key whose owner does not change takes the plain path to its one
 * server (no second lookup, no extra backend call). A moved key is routed by the phase's mode:
 *
 *   mode              reads                                   writes
 *   old               old ring                                old ring
 *   dual_old          old owner                               old owner, then new (moving-slots.ts)
 *   dual_new          new owner, miss → old owner + backfill  both; the new owner answers
 *   new_deletes_both  new owner                               new owner; deletes: old, then new
 *   new               new ring                                new ring
 *
 * The mode is set by the migration's state (index.ts) from the published record.
 */
import { Cmd, fansOut, hasFlag, type Request } from '../protocol/index.js';
import type { Backend } from '../backend/index.js';
import type { Dispatcher } from '../proxy/dispatcher.js';
import type { Slot, SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { FailoverMultiGetSlot, type GroupReader } from '../replication/read-failover.js';
import { sendRequest } from '../proxy/send-request.js';
import { copyKey } from '../copy/index.js';
import type { MovedArcs } from './arcs.js';
import type { RouteMode } from './phases.js';
import { BackendMeta } from './backend-meta.js';
import { MovingReadSlot, MovingWriteSlot, sendRepair, type MovingKey } from './moving-slots.js';

/** Counters of the moved-key data path, for status and metrics. */
export interface RouteCounters {
  /** Reads of a moved key that the new owner missed and the old owner had (copied over). */
  backfilled: number;
  backfillErrors: number;
  /** Deletes sent to an owner whose write leg failed. */
  repairs: number;
}

export class MigrationRoute implements MovingKey {
  mode: RouteMode = 'old';
  readonly counters: RouteCounters = { backfilled: 0, backfillErrors: 0, repairs: 0 };
  readonly #old = (key: Buffer): Backend => this.oldBackends[this.arcs.oldRing.ownerOf(key)]!;
  readonly #new = (key: Buffer): Backend => this.newBackends[this.arcs.newRing.ownerOf(key)]!;
  readonly #meta = new Map<Backend, BackendMeta>();

  constructor(
    readonly arcs: MovedArcs,
    /** In old ring order. */
    readonly oldBackends: readonly Backend[],
    /** In new ring order. */
    readonly newBackends: readonly Backend[],
    readonly dispatcher: Dispatcher,
    readonly stats: ProxyStats,
  ) {}

  dispatch(req: Request, owner: SlotOwner): Slot {
    const mode = this.mode;
    if (mode === 'old') return this.dispatcher.plain(req, owner, this.#old);
    if (mode === 'new') return this.dispatcher.plain(req, owner, this.#new);
    const cmd = req.cmd;
    const reading = cmd <= Cmd.Gats || cmd === Cmd.MetaGet || cmd === Cmd.MetaDebug;
    if (reading) {
      if (mode === 'dual_old') return this.dispatcher.plain(req, owner, this.#old);
      if (mode === 'new_deletes_both' || cmd === Cmd.MetaDebug) return this.dispatcher.plain(req, owner, this.#new);
      return req.keys.length > 1 ? this.#multiRead(req, owner) : this.#read(req, owner);
    }
    const i = this.arcs.locate(req.hashKey!);
    if (!this.arcs.moved(i)) return this.dispatcher.plain(req, owner, this.#new);
    const o = this.oldBackends[this.arcs.oldOwner(i)]!;
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    return this.#write(req, owner, mode, o, n);
  }

  #read(req: Request, owner: SlotOwner): Slot {
    const i = this.arcs.locate(req.hashKey!);
    if (!this.arcs.moved(i)) return this.dispatcher.plain(req, owner, this.#new);
    const o = this.oldBackends[this.arcs.oldOwner(i)]!;
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    const wantsCas = req.cmd === Cmd.Gets || req.cmd === Cmd.Gats || (req.cmd === Cmd.MetaGet && hasFlag(req, 0x63 /* c */));
    return new MovingReadSlot(owner, req, this, o, n, wantsCas).start();
  }

  /** A multi-key get in dual_new: the new owners first; keys they miss on moved arcs go to the old owners. */
  #multiRead(req: Request, owner: SlotOwner): Slot {
    const keys = req.keys;
    let anyMoved = false;
    for (let k = 0; k < keys.length && !anyMoved; k++) anyMoved = this.arcs.moved(this.arcs.locate(keys[k]!));
    if (!anyMoved) return this.dispatcher.plain(req, owner, this.#new);
    const reader: GroupReader = {
      order: [0, 1],
      ownerIn: (group, key) => {
        const i = this.arcs.locate(key);
        if (group === 0) return this.newBackends[this.arcs.newOwner(i)]!;
        return this.arcs.moved(i) ? this.oldBackends[this.arcs.oldOwner(i)]! : null;
      },
      onHit: (k, attempt) => {
        if (attempt !== 1) return;
        const key = keys[k]!;
        const i = this.arcs.locate(key);
        void this.backfill(key, this.oldBackends[this.arcs.oldOwner(i)]!, this.newBackends[this.arcs.newOwner(i)]!);
      },
      send: sendRequest,
    };
    return new FailoverMultiGetSlot(owner, req, this.stats, reader, true).start();
  }

  #write(req: Request, owner: SlotOwner, mode: RouteMode, o: Backend, n: Backend): Slot {
    const cmd = req.cmd;
    const deleting = cmd === Cmd.Delete || cmd === Cmd.MetaDelete;
    if (mode === 'new_deletes_both') {
      if (!deleting) return this.dispatcher.plain(req, owner, this.#new);
      return new MovingWriteSlot(owner, req, this, o, n, false, 'same', null).start();
    }
    const newAnswers = mode === 'dual_new';
    if (fansOut(req)) {
      // set, delete, touch, md, plain ms: the old owner first, the authoritative one answers.
      return new MovingWriteSlot(owner, req, this, o, n, !newAnswers, 'same', null).start();
    }
    const [first, second] = newAnswers ? [n, o] : [o, n];
    const retry = newAnswers ? { from: o } : null;
    const isAdd = cmd === Cmd.Add || (cmd === Cmd.MetaSet && metaMode(req) === 0x45 /* E */);
    if (isAdd || cmd === Cmd.Replace || cmd === Cmd.Cas) {
      return new MovingWriteSlot(owner, req, this, first, second, true, 'follow_up', isAdd ? null : retry, isAdd ? retry : null).start();
    }
    // incr, decr, append, prepend, ma, ms with a mode or CAS: the same on both, the authoritative first.
    return new MovingWriteSlot(owner, req, this, first, second, true, 'same', retry).start();
  }

  #metaOf(b: Backend): BackendMeta {
    let m = this.#meta.get(b);
    if (m === undefined) this.#meta.set(b, (m = new BackendMeta(b)));
    return m;
  }

  async backfill(key: Buffer, from: Backend, to: Backend): Promise<unknown> {
    const r = await copyKey(this.#metaOf(from), this.#metaOf(to), Buffer.from(key));
    if (r.outcome === 'copied') this.counters.backfilled++;
    else if (r.outcome === 'error') this.counters.backfillErrors++;
    return r;
  }

  repair(req: Request, on: Backend): void {
    this.counters.repairs++;
    sendRepair(req, on);
  }
}

/** The mode byte of an `ms` (its M flag), or 0. */
function metaMode(req: Request): number {
  const line = req.line;
  if (line === null) return 0;
  for (let i = 1; i + 1 < line.length; i++) if (line[i] === 0x4d && line[i - 1] === 0x20) return line[i + 1]!;
  return 0;
}
