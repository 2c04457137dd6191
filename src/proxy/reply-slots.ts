/**
 * A reply slot holds the place of one client request in its connection's FIFO
 * until the reply is known. Slots receive backend replies (as OpHandlers) and
 * decide what the client sees, so noreply, meta `q`, multi-get merging and
 * backend failures are handled in one place.
 */
import { Cmd, R, isGetAndTouch, isPrefix, isRetrieval, noreplyHidesErrors, placeValueBlocks, type Request } from '../protocol/index.js';
import type { Op, OpHandler } from '../backend/index.js';
import type { ProxyStats } from './stats.js';

export interface SlotOwner {
  slotDone(slot: Slot): void;
}

export abstract class Slot implements OpHandler {
  done = false;
  /** What the client sees; null for nothing. */
  reply: Buffer | Buffer[] | null = null;
  /** Close the client connection once this slot's reply is written (quit). */
  closeAfter = false;
  /** The bytes its client counts for it (reply-memory.ts): its reply's worst case while in flight, then its size. */
  held = 0;

  constructor(protected readonly owner: SlotOwner) {}

  protected complete(reply: Buffer | Buffer[] | null): void {
    this.reply = reply;
    this.done = true;
    this.owner.slotDone(this);
  }

  onOpReply(_op: Op, _reply: Buffer): void {}
  onOpError(_op: Op, _error: Buffer): void {}
}

/** A reply memshift knows at once. */
export class LocalSlot extends Slot {
  constructor(owner: SlotOwner, reply: Buffer | null, closeAfter = false) {
    super(owner);
    this.reply = reply;
    this.done = true;
    this.closeAfter = closeAfter;
  }
}

/** What memcached would show for a backend reply to `req`. */
export function visible(req: Request, reply: Buffer): Buffer | null {
  if (req.tooLarge) return req.noreply ? null : R.TOO_LARGE;
  if (req.untilNoop) return reply.length > 4 ? reply.subarray(0, reply.length - 4) : null; // drop our MN
  if (!req.noreply) return reply;
  switch (req.cmd) {
    case Cmd.MetaGet:
      return isQuietMiss(reply, 'EN') ? null : reply;
    case Cmd.MetaSet:
    case Cmd.MetaDelete:
      return isQuietMiss(reply, 'HD') ? null : reply;
    case Cmd.MetaDebug:
      return reply;
    default:
      return null; // noreply hides successes and errors alike
  }
}

function isQuietMiss(reply: Buffer, code: string): boolean {
  return isPrefix(reply, 0, code) && (reply[2] === 0x20 || reply[2] === 13 || reply[2] === 10);
}

/** One request, one backend op. */
export class KeyedSlot extends Slot {
  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly stats: ProxyStats,
    /** A multi-key get whose keys all live on one backend shows a failure as misses. */
    readonly failAsMisses = false,
    /** Called with the backend's reply before the client sees it (replication follows a primary write). */
    readonly onBackendReply?: (reply: Buffer) => void,
  ) {
    super(owner);
  }

  override onOpReply(_op: Op, reply: Buffer): void {
    this.onBackendReply?.(reply);
    this.stats.countReply(this.req, reply);
    this.complete(visible(this.req, reply));
  }

  override onOpError(_op: Op, error: Buffer): void {
    this.stats.backendErrors++;
    const req = this.req;
    if (this.failAsMisses) {
      this.stats.getErrors += req.keys.length;
      return this.complete(R.END);
    }
    if (isRetrieval(req.cmd)) this.stats.getErrors++;
    this.complete(noreplyHidesErrors(req) ? null : error);
  }
}

/** A get/gets/gat/gats whose keys live on several backends. */
export class MultiGetSlot extends Slot {
  #pending: number;
  /** Keys whose backend failed: shown as misses, counted as errors (not as misses). */
  #failedKeys = 0;
  readonly #replies: (Buffer | null)[];

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    /** The request's key indexes sent to each part, in the client's order. */
    readonly parts: readonly number[][],
    readonly stats: ProxyStats,
  ) {
    super(owner);
    this.#pending = parts.length;
    this.#replies = new Array<Buffer | null>(parts.length).fill(null);
  }

  override onOpReply(op: Op, reply: Buffer): void {
    if (isPrefix(reply, 0, 'SERVER_ERROR')) return this.onOpError(op, reply);
    this.#replies[op.part] = reply;
    if (--this.#pending === 0) this.#merge();
  }

  override onOpError(op: Op, _error: Buffer): void {
    this.stats.backendErrors++;
    this.stats.getErrors += this.parts[op.part]!.length;
    this.#failedKeys += this.parts[op.part]!.length;
    if (--this.#pending === 0) this.#merge();
  }

  /** VALUE blocks back in the client's key order, then one END. */
  #merge(): void {
    const keys = this.req.keys;
    const blocks = new Array<Buffer | undefined>(keys.length);
    let hits = 0;
    for (let p = 0; p < this.parts.length; p++) {
      const reply = this.#replies[p];
      if (!reply) continue;
      hits += placeValueBlocks(reply, keys, this.parts[p]!, blocks);
    }
    const out: Buffer[] = [];
    for (let i = 0; i < blocks.length; i++) if (blocks[i]) out.push(blocks[i]!);
    out.push(R.END);
    this.stats.countRetrieval(isGetAndTouch(this.req.cmd), keys.length - this.#failedKeys, hits);
    this.complete(out);
  }
}

/** flush_all on every backend: OK, or the first error. */
export class FanoutSlot extends Slot {
  #pending: number;
  #error: Buffer | null = null;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    parts: number,
    readonly stats: ProxyStats,
  ) {
    super(owner);
    this.#pending = parts;
    if (parts === 0) this.#finish();
  }

  override onOpReply(_op: Op, reply: Buffer): void {
    if (!isPrefix(reply, 0, 'OK') && this.#error === null) this.#error = reply;
    if (--this.#pending === 0) this.#finish();
  }

  override onOpError(_op: Op, error: Buffer): void {
    this.stats.backendErrors++;
    if (this.#error === null) this.#error = error;
    if (--this.#pending === 0) this.#finish();
  }

  #finish(): void {
    this.complete(this.req.noreply ? null : (this.#error ?? R.OK));
  }
}
