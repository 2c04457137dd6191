/**
 * A write to a pool with replica groups goes to every group; the client is
 * answered once the `write` policy is met, with mcrouter's "worst reply" among
 * the replies it waited for:
 *   all       wait for every group; the worst of all replies (an error is worst)
 *   majority  wait for more than half of the groups to succeed; the worst of those
 *   one       wait for one group to succeed, and for the parts in `waitFor` to reply (the group
 *             that reads of the key go to first: a read through another connection right after
 *             the reply must find the write there, not the value from before)
 * If the policy can no longer be met (too many groups failed) the client gets the
 * worst reply, an error. The remaining groups complete in the background. A group
 * whose write failed (error reply, timeout, TKO) is reported as a missed write,
 * for the failed-write log and its replay.
 *
 * A group whose owner of the key is recovering (back empty, rebuilt or replaying its log) or still
 * filling (a failover's new owner) gets the write but does not count: its NOT_FOUND or NOT_STORED
 * says nothing about the key ("not copied yet"). Its success does, though: with `write: one`, when
 * every counted group failed (a server died while the other group's owner of the key replays its
 * log, say), an uncounted group that applied the write (STORED, DELETED, TOUCHED, HD) answers
 * instead of the error; the failed groups' part is in their failed-write log like any other.
 */
import { isPrefix, type Request } from '../protocol/index.js';
import type { Backend, Op } from '../backend/index.js';
import { Slot, visible, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import type { WritePolicy } from '../config/types.js';

/** 3: an error; 2: the write did not apply (NOT_STORED, NOT_FOUND, EXISTS, NS, NF, EX); 1: it applied. */
export function replyRank(reply: Buffer): number {
  const c = reply[0];
  if (c === 0x53 && isPrefix(reply, 0, 'SERVER_ERROR')) return 3;
  if ((c === 0x43 && isPrefix(reply, 0, 'CLIENT_ERROR')) || (c === 0x45 && isPrefix(reply, 0, 'ERROR'))) return 3;
  if (isPrefix(reply, 0, 'NOT_') || isPrefix(reply, 0, 'EXISTS') || isPrefix(reply, 0, 'NS') || isPrefix(reply, 0, 'NF') || isPrefix(reply, 0, 'EX')) return 2;
  return 1;
}

export function acksNeeded(policy: WritePolicy, groups: number): number {
  return policy === 'all' ? groups : policy === 'majority' ? Math.floor(groups / 2) + 1 : 1;
}

/** Group `group`'s server `backend` missed `req` (the one it was sent to; the group's owner of its key now when not given). */
export type MissedWrite = (group: number, req: Request, backend?: Backend) => void;

/** The shadow parts of a write (a migrating group's other owner of the key): parts `groups` on. */
export interface ShadowParts {
  readonly count: number;
  /** Part `part` failed: the write may be missing there (resolves once the key was dropped there, or remembered). */
  failed(part: number): Promise<void>;
}

export class FanoutWriteSlot extends Slot {
  readonly #need: number;
  readonly #groups: number;
  readonly #waitForAll: boolean;
  #replied = 0;
  /** Bit g: group g replied (or failed). */
  #repliedParts = 0;
  #succeeded = 0;
  #worstSuccess: Buffer | null = null;
  /** The worst success among the `waitFor` groups: with `write: one`, the answer when there is one. */
  #waitedSuccess: Buffer | null = null;
  #worstAll: Buffer | null = null;
  /** With `write: one`: an uncounted group's success (the write applied there), the answer when every counted group failed. */
  #uncountedSuccess: Buffer | null = null;
  /** With `write: one`: uncounted groups yet to reply, or 0 (other policies never fall back on them). */
  #uncountedPending = 0;
  /** Every counted group failed: the answer is an uncounted group's success once one comes, else `#worstAll`. */
  #countedFailed = false;
  /** The reply, once the policy decided it; sent when no shadow part is pending. */
  #answer: Buffer | null = null;
  #shadowsPending: number;
  #sent = false;

  readonly #allGroups: number;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly stats: ProxyStats,
    groups: number,
    policy: WritePolicy,
    readonly missed: MissedWrite,
    /**
     * Bit g set: group g gets the write but its reply neither answers nor counts (its owner of the
     * key is still being filled by a failover: NOT_FOUND there means "not copied yet").
     */
    readonly uncounted = 0,
    /**
     * Shadow parts: never counted or logged, but the client is answered only once they landed (or,
     * failed, were dropped): a sidecar still a phase behind may read the shadow right after the reply.
     */
    readonly shadows?: ShadowParts,
    /** Groups whose reply (or failure) the answer waits for too, beyond what the policy needs. */
    readonly waitFor = 0,
    /**
     * Each group's server the write was sent to: a failure is logged for that one, even if the
     * group's owner of the key changed since (this sidecar stood still across a phase switch).
     */
    readonly targets?: readonly Backend[],
  ) {
    super(owner);
    this.#allGroups = groups;
    for (let g = 0; g < groups; g++) if ((uncounted & (1 << g)) !== 0) groups--;
    if (policy === 'one') this.#uncountedPending = this.#allGroups - groups;
    this.#groups = groups;
    this.#need = acksNeeded(policy, groups);
    this.#waitForAll = policy === 'all';
    this.#shadowsPending = shadows?.count ?? 0;
  }

  #counts(part: number): boolean {
    return (this.uncounted & (1 << part)) === 0;
  }

  override onOpReply(op: Op, reply: Buffer): void {
    const rank = replyRank(reply);
    if (op.part >= this.#allGroups) return this.#shadowDone(op.part, rank === 3);
    if (rank === 3) this.missed(op.part, this.req, this.targets?.[op.part]);
    if (this.#counts(op.part)) this.#record(reply, rank, op.part);
    else this.#uncountedReplied(reply, rank);
  }

  override onOpError(op: Op, error: Buffer): void {
    this.stats.backendErrors++;
    if (op.part >= this.#allGroups) return this.#shadowDone(op.part, true);
    this.missed(op.part, this.req, this.targets?.[op.part]);
    if (this.#counts(op.part)) this.#record(error, 3, op.part);
    else this.#uncountedReplied(error, 3);
  }

  /** An uncounted group replied: with `write: one`, its success is kept for when every counted group failed. */
  #uncountedReplied(reply: Buffer, rank: number): void {
    if (this.#uncountedPending === 0) return;
    this.#uncountedPending--;
    if (rank === 1) this.#uncountedSuccess ??= reply;
    if (this.#countedFailed) this.#fallBack();
  }

  /** Every counted group failed (`write: one`): an uncounted group's success answers, or the error once none can. */
  #fallBack(): void {
    if (this.#answer !== null) return;
    if (this.#uncountedSuccess !== null) this.#answer = this.#uncountedSuccess;
    else if (this.#uncountedPending === 0) this.#answer = this.#worstAll;
    this.#send();
  }

  #shadowDone(part: number, failed: boolean): void {
    const done = (): void => {
      this.#shadowsPending--;
      this.#send();
    };
    if (failed && this.shadows !== undefined) void this.shadows.failed(part).then(done, done);
    else done();
  }

  #record(reply: Buffer, rank: number, part: number): void {
    this.#replied++;
    this.#repliedParts |= 1 << part;
    if (this.#worstAll === null || rank > replyRank(this.#worstAll)) this.#worstAll = reply;
    if (rank < 3) {
      this.#succeeded++;
      if (this.#worstSuccess === null || rank > replyRank(this.#worstSuccess)) this.#worstSuccess = reply;
      if ((this.waitFor & (1 << part)) !== 0 && (this.#waitedSuccess === null || rank > replyRank(this.#waitedSuccess))) this.#waitedSuccess = reply;
    }
    if (this.#answer !== null) return;
    const failed = this.#replied - this.#succeeded;
    if (this.#waitForAll) {
      if (this.#replied === this.#groups) this.#answer = this.#worstAll;
    } else if ((this.#repliedParts & this.waitFor) !== this.waitFor) {
      return; // a group that reads go to first has yet to reply
    } else if (this.#waitedSuccess !== null) {
      this.#answer = this.#waitedSuccess; // what the group that reads go to first now holds
    } else if (this.#succeeded >= this.#need) {
      this.#answer = this.#worstSuccess;
    } else if (this.#groups - failed < this.#need) {
      // The policy can no longer be met: the worst reply, an error (`write: one`: unless an uncounted group applied it).
      if (this.#uncountedPending > 0 || this.#uncountedSuccess !== null) {
        this.#countedFailed = true;
        return this.#fallBack();
      }
      this.#answer = this.#worstAll;
    }
    this.#send();
  }

  #send(): void {
    if (this.#sent || this.#answer === null || this.#shadowsPending > 0) return;
    this.#sent = true;
    this.stats.countReply(this.req, this.#answer);
    this.complete(visible(this.req, this.#answer));
  }
}
