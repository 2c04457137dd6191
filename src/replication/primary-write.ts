/**
 * A command whose result depends on what a group holds (add, replace, cas, incr/decr,
 * append/prepend, ma, ms with a mode or a CAS) in a pool with replica groups: it runs on one
 * group, the primary, and when it applied there the other groups follow (`follow`: each is synced
 * from the primary, syncKey in src/copy). The client is answered once they have, whatever the write
 * policy: a read or a fanned-out write (touch, say) right after the reply then finds the same value
 * on every group, and an acknowledged result is never only on one server (with `write: one` too:
 * if that server dies, another group has it). When a migration's phase moved on while it ran (this
 * sidecar stood still), `follow` answers SERVER_ERROR instead.
 *
 * When the primary fails with the command in flight (no reply: it died, or timed out), or applied
 * it but died before the others could follow, the command runs on the next group instead (`retry`)
 * and the client gets that reply: the surviving groups hold the state from before it, so it takes
 * effect once there, and the failed server is logged for replay (which copies the survivors'
 * value onto it), so a late apply there is overwritten. Only with no other group left does the
 * client get the error (or `outcome unknown`).
 */
import { R, ReplyKind, noreplyHidesErrors, type Request } from '../protocol/index.js';
import { Op, type Backend } from '../backend/index.js';
import { sendRequest } from '../proxy/send-request.js';
import { Slot, visible, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { replyRank, type MissedWrite } from './write-fanout.js';

export class PrimaryWriteSlot extends Slot implements SlotOwner {
  #group = 0;
  #primary: Backend | undefined;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly stats: ProxyStats,
    /**
     * Brings the other groups in line with the primary once it applied the command; resolves to a
     * reply to send instead (SERVER_ERROR: a migration's phase moved on meanwhile), or null.
     */
    readonly follow: () => Promise<Buffer | null>,
    /** Where a command that got no reply is logged for replay (the failed-write log of its group). */
    readonly missed?: MissedWrite,
    /** Runs the command on the next group, the one that failed left out, owned by `owner`; null when none is left. */
    readonly retry?: (failed: number, owner: SlotOwner) => Slot | null,
  ) {
    super(owner);
  }

  start(primary: Backend, group: number): this {
    this.#group = group;
    this.#primary = primary;
    const refused = sendRequest(primary, this.req, null, this, group);
    if (refused !== null) this.onOpError(new Op(this, ReplyKind.Line, group), refused);
    return this;
  }

  override onOpReply(_op: Op, reply: Buffer): void {
    this.stats.countReply(this.req, reply);
    if (replyRank(reply) !== 1) return this.complete(visible(this.req, reply));
    void this.follow().then((instead) => {
      if (instead === null) return this.complete(visible(this.req, reply));
      if (instead === R.OUTCOME_UNKNOWN && this.#retried(this.#group)) return;
      this.complete(noreplyHidesErrors(this.req) ? null : instead);
    });
  }

  override onOpError(op: Op, error: Buffer): void {
    this.stats.backendErrors++;
    // No reply (a timeout, a closed connection): the server may still apply it, late, and no other
    // group would follow. Its failed-write log gets the key: replay copies a healthy group's value.
    this.missed?.(op.part, this.req, this.#primary);
    if (this.#retried(op.part)) return;
    this.complete(noreplyHidesErrors(this.req) ? null : error);
  }

  /** Runs the command on the next group instead; false when there is none. */
  #retried(failed: number): boolean {
    const slot = this.retry?.(failed, this) ?? null;
    if (slot === null) return false;
    if (slot.done) this.slotDone(slot);
    return true;
  }

  /** The retry's slot finished: its reply is this one's. */
  slotDone(slot: Slot): void {
    if (this.done) return;
    this.closeAfter = slot.closeAfter;
    this.complete(slot.reply);
  }
}
