/**
 * Read-modify-writes of moved keys held while the owner that serializes them changes (the cutover):
 * each keeps its place in its client's FIFO, and whatever that client sends after it waits too, so
 * a pipeline stays in order. `release` runs them all (in arrival order) under the new mode;
 * `expire` fails the ones held too long with SERVER_ERROR. Bounded: past MAX_HELD a request is
 * refused rather than queued.
 */
import { R, noreplyHidesErrors, type Request } from '../protocol/index.js';
import { LocalSlot, type Slot, type SlotOwner } from '../proxy/reply-slots.js';
import { HeldSlot } from './moving-slots.js';
import type { LatencyHistogram } from '../observability/histogram.js';

/** Held read-modify-writes at most; past it they are refused (SERVER_ERROR) rather than queued. */
const MAX_HELD = 10_000;

export class HoldQueue {
  #held: HeldSlot[] = [];
  #closed = false;
  /** Held requests per client connection. */
  readonly #heldBy = new Map<SlotOwner, number>();

  /** `counters.held` counts the requests held since start, `waited` how long each waited (for status and metrics). */
  constructor(
    readonly counters: { held: number },
    readonly waited: LatencyHistogram,
  ) {}

  /** The connection has a held request: what it sends now must wait behind it. */
  holds(owner: SlotOwner): boolean {
    return this.#heldBy.size > 0 && this.#heldBy.has(owner);
  }

  get size(): number {
    return this.#held.length;
  }

  hold(req: Request, owner: SlotOwner): Slot {
    if (this.#held.length >= MAX_HELD || this.#closed) return new LocalSlot(owner, noreplyHidesErrors(req) ? null : R.MIGRATION_BUSY);
    const held = new HeldSlot(owner, req);
    this.#held.push(held);
    this.#heldBy.set(owner, (this.#heldBy.get(owner) ?? 0) + 1);
    this.counters.held++;
    return held;
  }

  /** Runs every held request through `dispatch` (the route under its new mode), in arrival order. */
  release(dispatch: (req: Request, owner: SlotOwner) => Slot): void {
    if (this.#held.length === 0) return;
    const held = this.#held;
    this.#held = [];
    this.#heldBy.clear();
    const now = performance.now();
    for (const h of held) {
      this.waited.observe(now - h.heldAt);
      h.release(dispatch);
    }
  }

  /** Every held request fails with SERVER_ERROR, and so does any held from now on (the route's migration stopped). */
  close(): void {
    this.#closed = true;
    this.expire(-Infinity);
  }

  /** Held requests older than `ms` fail with SERVER_ERROR (a cutover that does not end). */
  expire(ms: number): void {
    const cutoff = performance.now() - ms;
    while (this.#held.length > 0 && this.#held[0]!.heldAt < cutoff) {
      const h = this.#held.shift()!;
      const n = (this.#heldBy.get(h.owner) ?? 1) - 1;
      if (n <= 0) this.#heldBy.delete(h.owner);
      else this.#heldBy.set(h.owner, n);
      this.waited.observe(performance.now() - h.heldAt);
      h.fail(R.MIGRATION_BUSY);
    }
  }
}
