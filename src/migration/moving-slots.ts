/**
 * Reply slots for a key whose owner is changing (a moved arc during a migration). Which owner
 * answers and in which order the two are written is decided by the route mode (phases.ts):
 *
 *   writes   set, delete, touch, plain ms, md: the OLD owner first, then the new one; the old
 *            owner answers (it holds every key). Deletes and sets reach the old owner before the
 *            new one, so a copy or a backfill that reads the old owner afterwards sees them, and a
 *            read-then-backfill can never put back a value a delete already removed.
 *            read-modify-writes (add, replace, cas, incr, decr, append, prepend, ma, ms with a mode
 *            or CAS) run first on the owner that serializes them, which answers, and the other
 *            follows (the same request, or a `set` of the stored value): the old owner in dual_old,
 *            the new one in dual_new (a key it lacks: the old owner runs it and fills the new one). While that owner
 *            changes (dual_read, and a rollback) they are held (HeldSlot), so two sidecars never
 *            serialize one key on two servers.
 *   reads    dual_old: the old owner (plain routing, not here). dual_new: the new owner; a miss or an
 *            error there falls back to the old owner, and a hit there is backfilled to the new one
 *            (CAS-guarded add and re-check, copier.ts). A `gets`-like read re-reads the new owner
 *            after the backfill, so its CAS token is the new owner's.
 *
 * The client gets the authoritative owner's reply (old in dual_old, new in dual_new and after).
 * A failed leg on the other owner may leave it stale, so the key is deleted there (best effort),
 * and the failure is counted.
 */
import { Cmd, ReplyKind, followUp, deleteOf, isPrefix, type Request } from '../protocol/index.js';
import { Op, type Backend, type OpHandler } from '../backend/index.js';
import { Slot, visible, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { sendRequest } from '../proxy/send-request.js';
import { replyRank } from '../replication/write-fanout.js';

/** What the slots need from the route. */
export interface MovingKey {
  readonly stats: ProxyStats;
  /** Copy the key from `from` to `to` unless `to` has it (add + re-check); resolves when done. */
  backfill(key: Buffer, from: Backend, to: Backend): Promise<unknown>;
  /** A leg on `on` failed: drop the key there and copy it again from `from` (best effort). */
  repair(req: Request, on: Backend, from: Backend): void;
}

const NOOP: OpHandler = { onOpReply: () => {}, onOpError: () => {} };

function isMiss(req: Request, reply: Buffer): boolean {
  if (req.cmd === Cmd.MetaGet || req.cmd === Cmd.MetaDebug) return isPrefix(reply, 0, 'EN');
  return isPrefix(reply, 0, 'END');
}

/** A rank-2 reply that may only mean the new owner has not got the key yet. */
function isNotThere(reply: Buffer): boolean {
  return isPrefix(reply, 0, 'NOT_FOUND') || isPrefix(reply, 0, 'NOT_STORED') || isPrefix(reply, 0, 'NF') || isPrefix(reply, 0, 'NS');
}

function send(backend: Backend, req: Request, handler: OpHandler, part: number): void {
  const refused = sendRequest(backend, req, null, handler, part);
  if (refused !== null) handler.onOpError(new Op(handler, ReplyKind.Line, part), refused);
}

/** A one-key read in dual_new: the new owner, falling back to the old one (see the header). */
export class MovingReadSlot extends Slot {
  #oldReply: Buffer | null = null;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly ctx: MovingKey,
    readonly oldB: Backend,
    readonly newB: Backend,
    /** The reply carries a CAS token (gets, gats, mg c): take it from the new owner. */
    readonly wantsCas: boolean,
  ) {
    super(owner);
  }

  start(): this {
    send(this.newB, this.req, this, 0);
    return this;
  }

  override onOpReply(op: Op, reply: Buffer): void {
    if (op.part === 0) {
      if (isMiss(this.req, reply) || isPrefix(reply, 0, 'SERVER_ERROR')) return send(this.oldB, this.req, this, 1);
      return this.#finish(reply);
    }
    if (op.part === 1) {
      if (isMiss(this.req, reply)) return this.#finish(reply);
      const key = this.req.hashKey!;
      if (!this.wantsCas) {
        void this.ctx.backfill(key, this.oldB, this.newB);
        return this.#finish(reply);
      }
      this.#oldReply = reply;
      void this.ctx.backfill(key, this.oldB, this.newB).then(() => send(this.newB, this.req, this, 2));
      return;
    }
    // After the backfill: the new owner's reply (and token); if it still misses, the old owner's value.
    this.#finish(isMiss(this.req, reply) || isPrefix(reply, 0, 'SERVER_ERROR') ? this.#oldReply! : reply);
  }

  override onOpError(op: Op, error: Buffer): void {
    if (op.part === 0) return send(this.oldB, this.req, this, 1);
    if (op.part === 2) return this.#finish(this.#oldReply!);
    this.ctx.stats.backendErrors++;
    if (this.req.cmd <= Cmd.Gats) this.ctx.stats.getErrors++;
    this.#finish(error, false);
  }

  #finish(reply: Buffer, count = true): void {
    if (this.done) return;
    if (count) this.ctx.stats.countReply(this.req, reply);
    this.complete(this.req.noreply && this.req.cmd < Cmd.MetaGet && isPrefix(reply, 0, 'SERVER_ERROR') ? null : visible(this.req, reply));
  }
}

export interface WritePlan {
  /** Runs the request and (with `answerFirst`) answers. */
  first: Backend;
  /** Follows `first`. */
  second: Backend;
  /** The client gets `first`'s reply (else `second`'s). */
  answerFirst: boolean;
  /**
   * The client gets an error if either failed, else the better of the two replies (STORED, DELETED,
   * TOUCHED over NOT_FOUND): while both owners may each lack some keys (holes the new owner is
   * still filling, writes a cut-over sidecar sent to the new owner only), a key exists if either has it.
   */
  bestOfBoth?: boolean;
  /**
   * `second` gets the same request (`same`: always, for plain writes, so a delete also reaches a copy
   * the first lacked; `same_if_applied`: only when `first` applied it, for read-modify-writes, so an
   * increment `first` refused is not applied on `second` behind the client's back), or the follow-up
   * of what `first` stored (a set, or a delete).
   */
  follow: 'same' | 'same_if_applied' | 'follow_up';
  /** Copy the key to `first` from here before running (an `add` on the new owner). */
  backfillFirstFrom?: Backend;
  /**
   * When `first` (the new owner) answers NOT_FOUND/NOT_STORED, it may only lack the key: run the
   * request on this server (the old owner, which holds every key) instead, and fill `first` from it.
   */
  fallbackTo?: Backend;
  /** When `second` (the new owner) lacks the key for the same request: copy it from `first` before answering. */
  fillSecond?: boolean;
}

/** A write to a moved key, as planned by the route (see the header). */
export class MovingWriteSlot extends Slot {
  #firstReply: Buffer | null = null;
  #secondReq: Request | null = null;
  #retried = false;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly ctx: MovingKey,
    public plan: WritePlan,
  ) {
    super(owner);
  }

  start(): this {
    const p = this.plan;
    if (p.backfillFirstFrom === undefined) send(p.first, this.req, this, 0);
    else void this.ctx.backfill(this.req.hashKey!, p.backfillFirstFrom, p.first).then(() => send(p.first, this.req, this, 0));
    return this;
  }

  override onOpReply(op: Op, reply: Buffer): void {
    if (op.part === 0) return this.#onFirst(reply);
    this.#onSecond(reply);
  }

  override onOpError(op: Op, error: Buffer): void {
    this.ctx.stats.backendErrors++;
    if (op.part === 0) return this.#onFirst(error);
    this.#onSecond(error);
  }

  #onFirst(reply: Buffer): void {
    const p = this.plan;
    const rank = replyRank(reply);
    if (rank === 2 && p.fallbackTo !== undefined && !this.#retried && isNotThere(reply)) {
      this.#retried = true;
      this.plan = { first: p.fallbackTo, second: p.first, answerFirst: true, follow: p.follow, fillSecond: true };
      send(this.plan.first, this.req, this, 0);
      return;
    }
    this.#firstReply = reply;
    if (rank === 3) {
      // Failed, maybe applied late: the other owner must not keep a value that may be older.
      this.ctx.repair(this.req, p.answerFirst ? p.second : p.first, p.answerFirst ? p.first : p.second);
      if (p.answerFirst) return this.#finish(reply);
    }
    if (p.follow !== 'same' && rank !== 1) return this.#finish(reply); // not applied: nothing to follow
    this.#secondReq = p.follow === 'follow_up' ? followUp(this.req) : this.req;
    send(p.second, this.#secondReq, this, 1);
  }

  #onSecond(reply: Buffer): void {
    const p = this.plan;
    let answer = p.answerFirst ? this.#firstReply! : reply;
    if (p.bestOfBoth === true) answer = replyRank(reply) === 3 || replyRank(reply) < replyRank(this.#firstReply!) ? reply : this.#firstReply!;
    if (replyRank(reply) === 3) {
      if (p.answerFirst) this.ctx.repair(this.#secondReq ?? this.req, p.second, p.first);
    } else if (p.fillSecond === true && p.follow !== 'same' && replyRank(this.#firstReply!) === 1 && isNotThere(reply)) {
      // The old owner applied it, the new one lacks the key: copy the result over first.
      void this.ctx.backfill(this.req.hashKey!, p.first, p.second).then(() => this.#finish(answer));
      return;
    }
    this.#finish(answer);
  }

  #finish(reply: Buffer): void {
    if (this.done) return;
    if (replyRank(reply) === 3) {
      if (this.req.noreply && this.req.cmd < Cmd.MetaGet) return this.complete(null);
    } else this.ctx.stats.countReply(this.req, reply);
    this.complete(visible(this.req, reply));
  }
}

/**
 * A request held while the route's mode forbids running it (read-modify-writes of moved keys while
 * the owner that serializes them changes); it keeps its place in the client's FIFO and runs when
 * released, then completes with whatever the real slot answers.
 */
export class HeldSlot extends Slot implements SlotOwner {
  constructor(
    owner: SlotOwner,
    readonly req: Request,
  ) {
    super(owner);
  }

  /** Runs the request now; `dispatch` builds the real slot with this one as its owner. */
  release(dispatch: (req: Request, owner: SlotOwner) => Slot): void {
    const slot = dispatch(this.req, this);
    if (slot.done) this.slotDone(slot);
  }

  fail(reply: Buffer): void {
    if (!this.done) this.complete(this.req.noreply && this.req.cmd < Cmd.MetaGet ? null : reply);
  }

  slotDone(slot: Slot): void {
    if (this.done) return;
    this.closeAfter = slot.closeAfter;
    this.complete(slot.reply);
  }
}

/** Fire-and-forget delete of `req`'s key on `backend` (a repair). */
export function sendRepair(req: Request, backend: Backend): void {
  const del = deleteOf(req);
  send(backend, del, NOOP, 0);
}

