/**
 * Reply slots for a key whose owner is changing (a moved arc during a migration). Which owner
 * answers and in which order the two are written is decided by the route mode (phases.ts):
 *
 *   writes   set, delete, touch, plain ms, md: the OLD owner first, then the new one. Deletes and
 *            sets reach the old owner before the new one, so a copy or a backfill that reads the
 *            old owner afterwards sees them, and a read-then-backfill can never put back a value
 *            a delete already removed from the new owner.
 *            add, replace, cas: the authoritative owner runs it; when it stored, the other gets a
 *            `set` of the same value (followUp).
 *            incr, decr, append, prepend, ma, ms with a mode or CAS: the authoritative owner, then
 *            the same request on the other, so both hold the result (the old owner for a rollback).
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
  /** A leg on the non-authoritative owner failed: drop the key there (best effort). */
  repair(req: Request, on: Backend): void;
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

/**
 * A write to a moved key: `first`, then `second` (the same request, or the follow-up of what `first`
 * stored). `answerFrom` is the authoritative owner; `retryAfterBackfill` lets a dual_new write that
 * found nothing on the new owner copy the key from the old one and try once more.
 */
export class MovingWriteSlot extends Slot {
  #firstReply: Buffer | null = null;
  #secondReq: Request | null = null;
  #retried = false;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly ctx: MovingKey,
    readonly first: Backend,
    readonly second: Backend,
    /** Which of the two answers the client. */
    readonly answerFirst: boolean,
    /** How `second` follows: the same request, or a follow-up (set of the stored value / delete). */
    readonly follow: 'same' | 'follow_up',
    readonly retryAfterBackfill: { from: Backend } | null,
    /** dual_new `add`: copy the key to the new owner first, so an add of a key the old owner holds fails. */
    readonly backfillFirst: { from: Backend } | null = null,
  ) {
    super(owner);
  }

  start(): this {
    if (this.backfillFirst === null) send(this.first, this.req, this, 0);
    else void this.ctx.backfill(this.req.hashKey!, this.backfillFirst.from, this.first).then(() => send(this.first, this.req, this, 0));
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
    const rank = replyRank(reply);
    if (rank === 2 && this.retryAfterBackfill !== null && !this.#retried && isNotThere(reply)) {
      // The new owner may not have the key yet: copy it from the old one, then run the write again.
      this.#retried = true;
      void this.ctx.backfill(this.req.hashKey!, this.retryAfterBackfill.from, this.first).then(() => send(this.first, this.req, this, 0));
      return;
    }
    this.#firstReply = reply;
    if (rank === 3) {
      if (this.answerFirst) {
        // The authoritative write failed (maybe applied late): the other owner must not keep a value it lacks.
        this.ctx.repair(this.req, this.second);
        return this.#finish(reply);
      }
      this.ctx.repair(this.req, this.first);
    }
    if (this.follow === 'follow_up') {
      if (rank !== 1) return this.#finish(reply); // nothing stored: nothing to follow
      this.#secondReq = followUp(this.req);
    } else this.#secondReq = this.req;
    send(this.second, this.#secondReq, this, 1);
  }

  #onSecond(reply: Buffer): void {
    if (replyRank(reply) === 3 && this.answerFirst) this.ctx.repair(this.#secondReq ?? this.req, this.second);
    this.#finish(this.answerFirst ? this.#firstReply! : reply);
  }

  #finish(reply: Buffer): void {
    if (this.done) return;
    if (replyRank(reply) === 3) {
      if (this.req.noreply && this.req.cmd < Cmd.MetaGet) return this.complete(null);
    } else this.ctx.stats.countReply(this.req, reply);
    this.complete(visible(this.req, reply));
  }
}

/** Fire-and-forget delete of `req`'s key on `backend` (a repair). */
export function sendRepair(req: Request, backend: Backend): void {
  const del = deleteOf(req);
  send(backend, del, NOOP, 0);
}

