/**
 * How many reply bytes memshift holds for its clients, per client and for the whole process.
 *
 * A client's reply bytes held are its replies queued (in its writer and its socket's buffer), the
 * replies that arrived out of order and wait for an earlier one, and every request in flight counted
 * at the most its reply can be (`worstReplyBytes`): a get of one key at max_item_size, whatever this
 * client's replies were so far. A client is paused (its socket not read) once that reaches its budget
 * (`max_queued_bytes_per_client`), so it holds at most the budget plus one request's worst case: the
 * one admitted while it was below. The sum over all clients is bounded the same way by
 * `max_reply_memory` (`ReplyMemory`): past it, a client holding `MEMORY_FULL_GRACE` or more is
 * paused, and a request that could take more than that (a get) waits in a `DeferredSlot`, in its
 * place in the client's order, until replies are written out and the sum is back under the bound.
 * Small requests (stats, version, sets, deletes) still go on, so the process holds at most
 * max_reply_memory plus MEMORY_FULL_GRACE per connection.
 */
import { Cmd, type Request } from '../protocol/index.js';
import type { LimitsConfig } from '../config/types.js';
import { Slot, type SlotOwner } from './reply-slots.js';

/** What a client may still hold, with small requests, while the process is at max_reply_memory. */
export const MEMORY_FULL_GRACE = 16 * 1024;

/** A VALUE line at its longest: "VALUE " + a 250-byte key + flags + length + cas unique + CRLFs. */
const VALUE_HEADER_MAX = 320;
/** Any reply without a value: a status line, an error line, a meta reply's flags. */
const LINE_MAX = 1024;

/** The most bytes a reply to `req` can take (what is reserved for it while it is in flight). */
export function worstReplyBytes(req: Request, limits: LimitsConfig): number {
  switch (req.cmd) {
    case Cmd.Get:
    case Cmd.Gets:
    case Cmd.Gat:
    case Cmd.Gats:
      return req.keys.length * (limits.maxItemSize + VALUE_HEADER_MAX) + 5;
    case Cmd.MetaGet:
    case Cmd.MetaArithmetic:
      return limits.maxItemSize + LINE_MAX;
    default:
      return LINE_MAX;
  }
}

/** Bytes of a slot's reply. */
export function replyBytes(reply: Buffer | Buffer[] | null): number {
  if (reply === null) return 0;
  if (!Array.isArray(reply)) return reply.length;
  let n = 0;
  for (let i = 0; i < reply.length; i++) n += reply[i]!.length;
  return n;
}

/** Something that waits for reply memory to be freed (a paused client connection). */
export interface MemoryWaiter {
  memoryFreed(): void;
}

/** The process-wide bound on reply bytes held for clients. */
export class ReplyMemory {
  /** Bytes held now, summed over the clients (each adds what it holds when that changes). */
  used = 0;
  /** Times a client was paused because the process-wide bound was reached. */
  waits = 0;
  readonly #waiting = new Set<MemoryWaiter>();
  #waking = false;

  constructor(public max: number) {}

  get full(): boolean {
    return this.used >= this.max;
  }

  /** A client holds `delta` bytes more (or fewer); below the bound again, the waiting clients are told. */
  add(delta: number): void {
    this.used += delta;
    if (delta < 0 && this.#waiting.size > 0 && !this.#waking && this.used < this.max) {
      this.#waking = true;
      queueMicrotask(() => {
        this.#waking = false;
        for (const w of this.#waiting) {
          if (this.full) break;
          this.#waiting.delete(w);
          w.memoryFreed();
        }
      });
    }
  }

  wait(w: MemoryWaiter): void {
    if (!this.#waiting.has(w)) this.waits++;
    this.#waiting.add(w);
  }

  forget(w: MemoryWaiter): void {
    this.#waiting.delete(w);
  }
}

/**
 * A request that waits for reply memory: it holds its place in the client's order, and is
 * dispatched by `start` once there is memory; its reply is then the dispatched slot's.
 */
export class DeferredSlot extends Slot implements SlotOwner {
  constructor(
    owner: SlotOwner,
    readonly request: Request,
    /** Its worst case, counted only once it is sent: waiting, it holds nothing. */
    readonly worst: number,
  ) {
    super(owner);
  }

  /** Sends the request now (`dispatch` is the dispatcher's). */
  start(dispatch: (req: Request, owner: SlotOwner) => Slot): void {
    const inner = dispatch(this.request, this);
    if (inner.done) this.slotDone(inner);
  }

  slotDone(inner: Slot): void {
    this.closeAfter = inner.closeAfter;
    this.complete(inner.reply);
  }
}
