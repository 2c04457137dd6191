/**
 * The data path of a pool with a migration: one binary search over the merged arcs gives a key's
 * old and new owner (arcs.ts). A key whose owner does not change takes the plain path to its one
 * server (no second lookup, no extra backend call). A moved key is routed by the phase's mode:
 *
 *   mode              reads                                   writes (read-modify-writes: see moving-slots.ts)
 *   old               old ring                                old ring
 *   dual_old          old owner                               old owner, then new; RMW on the old owner first
 *   dual_hold_new     new owner, miss → old owner + backfill  old owner, then new; RMW held
 *   dual_new          new owner, miss → old owner + backfill  old owner, then new; RMW on the new owner first
 *   dual_hold_old     old owner                               old owner, then new; RMW held (a rollback)
 *   new_deletes_both  new owner                               new owner; deletes: old, then new
 *   new               new ring                                new ring
 *
 * The mode is set by the migration's state (index.ts) from the published record.
 */
import { Cmd, R, fansOut, hasFlag, type Request } from '../protocol/index.js';
import type { Backend } from '../backend/index.js';
import type { Dispatcher } from '../proxy/dispatcher.js';
import { LocalSlot, type Slot, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { FailoverMultiGetSlot, type GroupReader } from '../replication/read-failover.js';
import { sendRequest } from '../proxy/send-request.js';
import { copyKey } from '../copy/index.js';
import type { MovedArcs } from './arcs.js';
import type { RouteMode } from './phases.js';
import { BackendMeta } from './backend-meta.js';
import { HeldSlot, MovingReadSlot, MovingWriteSlot, sendRepair, type MovingKey } from './moving-slots.js';

/** Counters of the moved-key data path, for status and metrics. */
export interface RouteCounters {
  /** Reads of a moved key that the new owner missed and the old owner had (copied over). */
  backfilled: number;
  backfillErrors: number;
  /** Deletes sent to an owner whose write leg failed. */
  repairs: number;
  /** Read-modify-writes held while their serializing owner changed. */
  held: number;
}

/** Held read-modify-writes at most; past it they are refused (SERVER_ERROR) rather than queued. */
const MAX_HELD = 10_000;

export class MigrationRoute implements MovingKey {
  #mode: RouteMode = 'old';
  #held: HeldSlot[] = [];
  readonly counters: RouteCounters = { backfilled: 0, backfillErrors: 0, repairs: 0, held: 0 };
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

  get mode(): RouteMode {
    return this.#mode;
  }

  /** Switches the mode; read-modify-writes held by the old mode run under the new one. */
  set mode(mode: RouteMode) {
    this.#mode = mode;
    if (this.#held.length === 0 || mode === 'dual_hold_new' || mode === 'dual_hold_old') return;
    const held = this.#held;
    this.#held = [];
    for (const h of held) h.release((req, owner) => this.dispatch(req, owner));
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const mode = this.#mode;
    if (mode === 'old') return this.dispatcher.plain(req, owner, this.#old);
    if (mode === 'new') return this.dispatcher.plain(req, owner, this.#new);
    const cmd = req.cmd;
    const reading = cmd <= Cmd.Gats || cmd === Cmd.MetaGet || cmd === Cmd.MetaDebug;
    if (reading) {
      if (mode === 'dual_old' || mode === 'dual_hold_old') return this.dispatcher.plain(req, owner, this.#old);
      if (mode === 'new_deletes_both' || cmd === Cmd.MetaDebug) return this.dispatcher.plain(req, owner, this.#new);
      return req.keys.length > 1 ? this.#multiRead(req, owner) : this.#read(req, owner);
    }
    // One lookup: a key whose owner stays goes straight to it.
    const i = this.arcs.locate(req.hashKey!);
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    if (!this.arcs.moved(i)) return this.dispatcher.keyed(req, owner, n);
    return this.#write(req, owner, mode, this.oldBackends[this.arcs.oldOwner(i)]!, n);
  }

  #read(req: Request, owner: SlotOwner): Slot {
    const i = this.arcs.locate(req.hashKey!);
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    if (!this.arcs.moved(i)) return this.dispatcher.keyed(req, owner, n);
    const o = this.oldBackends[this.arcs.oldOwner(i)]!;
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
    if (mode === 'new_deletes_both') {
      if (cmd !== Cmd.Delete && cmd !== Cmd.MetaDelete) return this.dispatcher.plain(req, owner, this.#new);
      return new MovingWriteSlot(owner, req, this, { first: o, second: n, answerFirst: false, follow: 'same' }).start();
    }
    if (fansOut(req)) {
      // set, delete, touch, md, plain ms: the old owner first. Up to the copy it answers (it holds
      // every key); from dual_read on, a key exists if either owner has it (the new owner may still
      // fill a hole, and a sidecar that already cut over writes the new owner only).
      const best = mode === 'dual_hold_new' || mode === 'dual_new';
      return new MovingWriteSlot(owner, req, this, { first: o, second: n, answerFirst: true, follow: 'same', bestOfBoth: best }).start();
    }
    if (mode === 'dual_hold_new' || mode === 'dual_hold_old') {
      if (this.#held.length >= MAX_HELD) return new LocalSlot(owner, req.noreply && cmd < Cmd.MetaGet ? null : R.MIGRATION_BUSY);
      const held = new HeldSlot(owner, req);
      this.#held.push(held);
      this.counters.held++;
      return held;
    }
    // add, replace, cas: a set of the stored value follows; incr, decr, append, prepend, ma, ms with a
    // mode: the same request follows.
    const sets = cmd === Cmd.Add || cmd === Cmd.Replace || cmd === Cmd.Cas || (cmd === Cmd.MetaSet && !hasFlag(req, 0x4d /* M */));
    const follow = sets ? 'follow_up' : 'same_if_applied';
    if (mode === 'dual_old') return new MovingWriteSlot(owner, req, this, { first: o, second: n, answerFirst: true, follow, fillSecond: true }).start();
    // dual_new: the new owner serializes; a key it lacks is copied from the old owner first.
    const isAdd = cmd === Cmd.Add || (cmd === Cmd.MetaSet && metaMode(req) === 0x45 /* E */);
    const plan = isAdd ? { backfillFirstFrom: o } : { fallbackTo: o };
    return new MovingWriteSlot(owner, req, this, { first: n, second: o, answerFirst: true, follow, ...plan }).start();
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

  repair(req: Request, on: Backend, from: Backend): void {
    this.counters.repairs++;
    sendRepair(req, on);
    // In mode new_deletes_both the old owner may lack newer writes: never copy from it then.
    if (this.#mode !== 'new_deletes_both' && this.#mode !== 'new' && this.#mode !== 'old') void this.backfill(req.hashKey!, from, on);
  }
}

/** The mode byte of an `ms` (its M flag), or 0. */
function metaMode(req: Request): number {
  const line = req.line;
  if (line === null) return 0;
  for (let i = 1; i + 1 < line.length; i++) if (line[i] === 0x4d && line[i - 1] === 0x20) return line[i + 1]!;
  return 0;
}
