/**
 * Reads from a pool with replica groups: the groups are tried in the read
 * policy's order (primary, local or fastest first; TKO backends last), and a
 * read moves on to the next group on an error, or also on a miss with
 * `read_failover: errors_and_misses`. A multi-key get is split by owner in the
 * group it is trying; only the keys whose part failed (or missed) move on, split
 * again by the next group's ring, and the blocks are merged back in the client's
 * key order with one END. While some server is down or recovering, each key of a
 * multi-key get goes in its own order (`orderOf`), not its first key's.
 */
import { Cmd, R, isGetAndTouch, isPrefix, isRetrieval, noreplyHidesErrors, placeValueBlocks, type Request } from '../protocol/index.js';
import type { Backend, Op } from '../backend/index.js';
import { Slot, visible, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';

/** What a read slot needs from the dispatcher: the owner of a key in a group, and a way to send. */
export interface GroupReader {
  /** Group indexes in the order this read should try them. */
  readonly order: readonly number[];
  /** The key's owner in `group`; null: the group has nothing for it (a multi-get counts a miss). */
  ownerIn(group: number, key: Buffer): Backend | null;
  /**
   * A multi-key get tries each key in the order this gives (its own), instead of `order` (its
   * first key's): a key whose owner in that order's first group is down or recovering is read from
   * a group that can serve it first.
   */
  orderOf?(key: Buffer): readonly number[];
  /** Called for each key a multi-get found, with the position in `order` it was found at. */
  onHit?(keyIndex: number, attempt: number): void;
  /** Sends `req` (all keys, or the given key indexes) to `backend` as op `part` of `slot`; the refusal reply, or null when sent. */
  send(backend: Backend, req: Request, keyIndexes: readonly number[] | null, slot: Slot, part: number): Buffer | null;
}

function isMiss(req: Request, reply: Buffer): boolean {
  if (req.cmd === Cmd.MetaGet || req.cmd === Cmd.MetaDebug) return isPrefix(reply, 0, 'EN');
  return isPrefix(reply, 0, 'END');
}

/** One key (get/gets/gat/gats with one key, mg, me). */
export class FailoverReadSlot extends Slot {
  #attempt = 0;
  #lastError: Buffer | null = null;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly stats: ProxyStats,
    readonly reader: GroupReader,
    readonly onMisses: boolean,
  ) {
    super(owner);
  }

  start(): this {
    this.#next();
    return this;
  }

  #next(): void {
    const order = this.reader.order;
    while (this.#attempt < order.length) {
      const group = order[this.#attempt++]!;
      const backend = this.reader.ownerIn(group, this.req.hashKey!);
      if (backend === null) continue;
      const refused = this.reader.send(backend, this.req, null, this, group);
      if (refused === null) return;
      this.#lastError = refused;
    }
    this.#finish(this.#lastError ?? R.BACKEND_DOWN); // no group at all: cannot happen with one or more groups
  }

  override onOpReply(_op: Op, reply: Buffer): void {
    const more = this.#attempt < this.reader.order.length;
    if (more && isPrefix(reply, 0, 'SERVER_ERROR')) {
      this.#lastError = reply;
      return this.#next();
    }
    if (more && this.onMisses && isMiss(this.req, reply)) return this.#next();
    this.stats.countReply(this.req, reply);
    this.#finish(visible(this.req, reply));
  }

  override onOpError(_op: Op, error: Buffer): void {
    this.stats.backendErrors++;
    this.#lastError = error;
    if (this.#attempt < this.reader.order.length) return this.#next();
    if (isRetrieval(this.req.cmd)) this.stats.getErrors++;
    this.#finish(noreplyHidesErrors(this.req) ? null : error);
  }

  #finish(reply: Buffer | null): void {
    if (!this.done) this.complete(reply);
  }
}

interface Part {
  keys: number[];
  attempt: number;
}

/** A multi-key get/gets/gat/gats over replica groups. */
export class FailoverMultiGetSlot extends Slot {
  readonly #blocks: (Buffer | undefined)[];
  #parts: Part[] = [];
  /** Per key, its own order (`orderOf`), once asked. */
  #orders: (readonly number[] | undefined)[] | null = null;
  #pending = 0;
  #failedKeys = 0;
  #started = false;

  constructor(
    owner: SlotOwner,
    readonly req: Request,
    readonly stats: ProxyStats,
    readonly reader: GroupReader,
    readonly onMisses: boolean,
  ) {
    super(owner);
    this.#blocks = new Array<Buffer | undefined>(req.keys.length);
  }

  start(): this {
    this.#dispatch(
      this.req.keys.map((_, i) => i),
      0,
    );
    this.#started = true;
    if (this.#pending === 0) this.#finish();
    return this;
  }

  /** Key `k`'s group order (the reader's, or the key's own: `orderOf`). */
  #order(k: number): readonly number[] {
    if (this.reader.orderOf === undefined) return this.reader.order;
    this.#orders ??= new Array<readonly number[] | undefined>(this.req.keys.length);
    return (this.#orders[k] ??= this.reader.orderOf(this.req.keys[k]!));
  }

  /** Send `keys` to their group at position `attempt` of their order, split by owner there. */
  /** `failed`: these keys come from an error (else from a miss, which is no error when no group has them). */
  #dispatch(keys: number[], attempt: number, failed = false): void {
    if (attempt >= this.reader.order.length) {
      if (failed) this.#failedKeys += keys.length;
      return;
    }
    const byOwner = new Map<Backend, number[]>();
    for (const k of keys) {
      const b = this.reader.ownerIn(this.#order(k)[attempt]!, this.req.keys[k]!);
      if (b === null) continue; // nothing there: stays a miss
      const list = byOwner.get(b);
      if (list) list.push(k);
      else byOwner.set(b, [k]);
    }
    for (const [backend, list] of byOwner) {
      const id = this.#parts.length;
      this.#parts.push({ keys: list, attempt });
      this.#pending++;
      if (this.reader.send(backend, this.req, list, this, id) !== null) {
        this.#pending--;
        this.#dispatch(list, attempt + 1, true);
      }
    }
  }

  override onOpReply(op: Op, reply: Buffer): void {
    const part = this.#parts[op.part]!;
    if (isPrefix(reply, 0, 'SERVER_ERROR')) return this.onOpError(op, reply);
    const missing: number[] = [];
    placeValueBlocks(reply, this.req.keys, part.keys, this.#blocks, missing);
    const onHit = this.reader.onHit;
    if (onHit !== undefined && missing.length < part.keys.length) {
      for (const k of part.keys) if (!missing.includes(k)) onHit.call(this.reader, k, part.attempt);
    }
    if (this.onMisses && missing.length > 0) this.#dispatch(missing, part.attempt + 1);
    this.#settle();
  }

  override onOpError(op: Op, _error: Buffer): void {
    this.stats.backendErrors++;
    const part = this.#parts[op.part]!;
    this.#dispatch(part.keys, part.attempt + 1, true);
    this.#settle();
  }

  #settle(): void {
    if (--this.#pending === 0 && this.#started) this.#finish();
  }

  #finish(): void {
    if (this.done) return;
    const out: Buffer[] = [];
    let hits = 0;
    for (const b of this.#blocks) {
      if (b) {
        out.push(b);
        hits++;
      }
    }
    out.push(R.END);
    this.stats.getErrors += this.#failedKeys;
    this.stats.countRetrieval(isGetAndTouch(this.req.cmd), this.req.keys.length - this.#failedKeys, hits);
    this.complete(out);
  }
}
