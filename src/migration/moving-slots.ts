/**
 * Reply slots for a key whose owner is changing (a moved arc during a migration). The route mode
 * (phases.ts, route.ts) says which owner is authoritative:
 *
 *   writes   every write runs on the authoritative owner (the old one up to verify, the new one from
 *            cutover), which answers; then the other owner is synced from it: it gets the
 *            authority's current value with a plain set, or a delete when the authority has none,
 *            and the authority's CAS is read again (syncKey, copier.ts). Writes from several sidecars
 *            may reach the two owners in different orders; syncing the result instead of replaying
 *            the request makes the other owner end equal to the authority (or with a hole, never an
 *            older value). Read-modify-writes are held while the authority changes (cutover).
 *   reads    dual_new: the new owner; a miss or an error falls back to the old owner, and a hit there
 *            is backfilled to the new one (CAS-guarded add and re-check). Deletes reach the old owner
 *            first, so a backfill can never put back a deleted value. In cutover the fallback reads
 *            the old owner without backfilling (deletes reach the new owner first then).
 *
 * A request whose next step comes when this sidecar's phase may be out of date (phase-view.ts: it
 * stalled, or has not read the record for too long) does not take it on the old assumptions: a read
 * answers SERVER_ERROR rather than fall back to the old owner; a write waits until the phase is
 * current, then follows the authority of that phase, or, when the authority moved meanwhile (the
 * write ran on an owner that no longer is one), deletes what it wrote there and answers SERVER_ERROR.
 */
import { Cmd, R, ReplyKind, isPrefix, isRetrieval, noreplyHidesErrors, type Request } from '../protocol/index.js';
import type { SyncOutcome } from '../copy/index.js';
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
  /** Make `to` hold what `from` holds for `key` (syncKey); a failed sync leaves a hole in `to`. */
  sync(key: Buffer, from: Backend, to: Backend): Promise<SyncOutcome>;
  /** Delete `key` on `on` (remembered and retried when it cannot be reached). */
  drop(key: Buffer, on: Backend): Promise<unknown>;
  /** Whether this sidecar's phase is current (phase-view.ts). */
  current(): boolean;
  /** Resolves true once it is current again; false when that takes too long. */
  whenCurrent(): Promise<boolean>;
  /** Where a write of the key runs under the phase now, and which owner follows it (none: one owner). */
  planNow(req: Request): WritePlan | { first: Backend; second: null };
}

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
    /** Copy a key found only on the old owner to the new one (dual_new; not in cutover). */
    readonly backfill: boolean,
  ) {
    super(owner);
  }

  start(): this {
    send(this.newB, this.req, this, 0);
    return this;
  }

  override onOpReply(op: Op, reply: Buffer): void {
    if (op.part === 0) {
      if (isMiss(this.req, reply) || isPrefix(reply, 0, 'SERVER_ERROR')) return this.#fallBack();
      return this.#finish(reply);
    }
    if (op.part === 1) {
      if (isMiss(this.req, reply)) return this.#finish(reply);
      const key = this.req.hashKey!;
      if (!this.backfill) return this.#finish(reply);
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

  /** The new owner missed: the old one may have it, unless the phase may have moved on since. */
  #fallBack(): void {
    if (!this.ctx.current()) return this.#finish(R.MIGRATION_BUSY, false);
    send(this.oldB, this.req, this, 1);
  }

  override onOpError(op: Op, error: Buffer): void {
    if (op.part === 0) return this.#fallBack();
    if (op.part === 2) return this.#finish(this.#oldReply!);
    this.ctx.stats.backendErrors++;
    if (isRetrieval(this.req.cmd)) this.ctx.stats.getErrors++;
    this.#finish(error, false);
  }

  #finish(reply: Buffer, count = true): void {
    if (this.done) return;
    if (count) this.ctx.stats.countReply(this.req, reply);
    this.complete(noreplyHidesErrors(this.req) && isPrefix(reply, 0, 'SERVER_ERROR') ? null : visible(this.req, reply));
  }
}

export interface WritePlan {
  /** The authoritative owner: runs the request and answers. */
  first: Backend;
  /** The other owner: made equal to `first` afterwards (syncKey: its value, or its absence). */
  second: Backend;
  /**
   * When `first` answers NOT_FOUND/NOT_STORED it may only have a hole: run the request on this
   * server instead (the other owner) and sync from it (cutover, where the new owner answers).
   */
  fallbackTo?: Backend;
  /**
   * `second` only loses the key, never gets a value (a delete in the grace window after cutover:
   * the old owner is being emptied, and a value synced onto it after the cleanup walked past would stay).
   */
  dropSecond?: boolean;
}

/**
 * A write to a moved key: the authoritative owner runs it, then the other owner is synced from it
 * (moving-slots header), then the client gets the authority's reply. Syncing the result rather than
 * replaying the request makes the two owners converge whatever order writes from several sidecars
 * reach them in.
 */
export class MovingWriteSlot extends Slot {
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
    send(this.plan.first, this.req, this, 0);
    return this;
  }

  override onOpReply(_op: Op, reply: Buffer): void {
    this.#onFirst(reply);
  }

  override onOpError(_op: Op, error: Buffer): void {
    this.ctx.stats.backendErrors++;
    this.#onFirst(error);
  }

  #onFirst(reply: Buffer): void {
    if (!this.ctx.current()) return this.#afterStall(reply);
    const p = this.plan;
    if (replyRank(reply) === 2 && p.fallbackTo !== undefined && !this.#retried && isNotThere(reply)) {
      this.#retried = true;
      this.plan = { first: p.fallbackTo, second: p.first };
      send(this.plan.first, this.req, this, 0);
      return;
    }
    this.#follow(reply);
  }

  /** Whatever the reply (even an error: the write may have landed), the other owner follows the authority. */
  #follow(reply: Buffer): void {
    const key = this.req.hashKey!;
    const follow = this.plan.dropSecond === true ? this.ctx.drop(Buffer.from(key), this.plan.second) : this.ctx.sync(key, this.plan.first, this.plan.second);
    void follow.then((outcome) => (outcome === 'stale' ? this.#afterStall(reply) : this.#finish(reply)));
  }

  /** The write ran, but the phase may have moved on before the other owner followed: decide under the phase now. */
  #afterStall(reply: Buffer): void {
    void this.ctx.whenCurrent().then((current) => {
      if (!current) return this.#finish(R.MIGRATION_BUSY);
      const now = this.ctx.planNow(this.req);
      // Cutover's fallback ran it on the old owner, and the phase still sends such writes there.
      if (this.#retried && now.second !== null && now.fallbackTo === this.plan.first) return this.#follow(reply);
      if (now.first !== this.plan.first) {
        // It ran on an owner that is no longer the authority (the authority only moves at cutover, to the
        // new owner, which holds every acknowledged write): take it back there; the client may retry.
        return void this.ctx.drop(Buffer.from(this.req.hashKey!), this.plan.first).then(() => this.#finish(R.MIGRATION_BUSY));
      }
      if (now.second === null) return this.#finish(reply);
      this.plan = now;
      this.#onFirst(reply);
    });
  }

  #finish(reply: Buffer): void {
    if (this.done) return;
    if (replyRank(reply) === 3) {
      if (noreplyHidesErrors(this.req)) return this.complete(null);
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
  readonly heldAt = performance.now();

  constructor(
    override readonly owner: SlotOwner,
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
    if (!this.done) this.complete(noreplyHidesErrors(this.req) ? null : reply);
  }

  slotDone(slot: Slot): void {
    if (this.done) return;
    this.closeAfter = slot.closeAfter;
    this.complete(slot.reply);
  }
}
