/**
 * The data path of a pool with a migration: one binary search over the merged arcs gives a key's
 * old and new owner (arcs.ts). A key whose owner does not change takes the plain path to its one
 * server (no second lookup, no extra backend call). A moved key is routed by the phase's mode
 * (writes: the authority runs it and answers, then the other owner is synced; moving-slots.ts):
 *
 *   mode              reads                                         writes                         read-modify-writes
 *   old               old ring                                      old ring                       old ring
 *   dual_old          old owner                                     old owner, sync to new         same
 *   dual_new          new, miss → old + backfill; gets: old owner   old owner, sync to new         same
 *   cutover           new, miss → old (no backfill)                 new owner, sync to old         held
 *                                                                   (deletes: old owner, sync)
 *   new_deletes_both  new owner                                     new owner; deletes: both       new owner
 *   new               new ring                                      new ring                       new ring
 *
 * A `gets` is served by the owner a `cas` then runs on. The mode is set by the migration's state
 * (index.ts) from the published record.
 */
import { Cmd, R, fansOut, hasFlag, type Request } from '../protocol/index.js';
import type { Backend } from '../backend/index.js';
import type { Dispatcher } from '../proxy/dispatcher.js';
import { LocalSlot, type Slot, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { FailoverMultiGetSlot, type GroupReader } from '../replication/read-failover.js';
import { sendRequest } from '../proxy/send-request.js';
import type { MovedArcs } from './arcs.js';
import type { RouteMode } from './phases.js';
import { BackendMeta, copyKey, syncKey } from '../copy/index.js';
import { HeldSlot, MovingReadSlot, MovingWriteSlot, type MovingKey } from './moving-slots.js';

/** Counters of the moved-key data path, for status and metrics. */
export interface RouteCounters {
  /** Reads of a moved key that the new owner missed and the old owner had (copied over). */
  backfilled: number;
  backfillErrors: number;
  /** Syncs whose authority changed meanwhile (the other owner was left without the key). */
  raced: number;
  /** Syncs that failed (the key was then deleted from the other owner, when it answered). */
  syncErrors: number;
  /** Keys not remembered for a retried delete because the list was full. */
  dirtyOverflow: number;
  /** Read-modify-writes held while their serializing owner changed. */
  held: number;
}

/** Held read-modify-writes at most; past it they are refused (SERVER_ERROR) rather than queued. */
const MAX_HELD = 10_000;
/** Keys remembered per backend whose stale copy could not be deleted yet. */
const MAX_DIRTY = 100_000;

export class MigrationRoute implements MovingKey {
  #mode: RouteMode = 'old';
  #held: HeldSlot[] = [];
  /** Held requests per client connection. */
  readonly #heldBy = new Map<SlotOwner, number>();
  readonly counters: RouteCounters = { backfilled: 0, backfillErrors: 0, raced: 0, syncErrors: 0, dirtyOverflow: 0, held: 0 };
  readonly #old = (key: Buffer): Backend => this.oldBackends[this.arcs.oldRing.ownerOf(key)]!;
  readonly #new = (key: Buffer): Backend => this.newBackends[this.arcs.newRing.ownerOf(key)]!;
  readonly #meta = new Map<Backend, BackendMeta>();
  readonly #readOwner = (key: Buffer): Backend => this.readOwner(key);

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
    if (this.#held.length === 0 || mode === 'cutover') return;
    const held = this.#held;
    this.#held = [];
    this.#heldBy.clear();
    for (const h of held) h.release((req, owner) => this.dispatch(req, owner));
  }

  /** The authoritative owner of `key` for a plain read: the old one until cutover. */
  readOwner(key: Buffer): Backend {
    const m = this.#mode;
    return m === 'old' || m === 'dual_old' || m === 'dual_new' ? this.#old(key) : this.#new(key);
  }

  /** Held requests older than `ms` fail with SERVER_ERROR (a cutover that does not end). */
  expireHeld(ms: number): void {
    const cutoff = performance.now() - ms;
    while (this.#held.length > 0 && this.#held[0]!.heldAt < cutoff) {
      const h = this.#held.shift()!;
      this.#unhold(h.owner);
      h.fail(R.MIGRATION_BUSY);
    }
  }

  #unhold(owner: SlotOwner): void {
    const n = (this.#heldBy.get(owner) ?? 1) - 1;
    if (n <= 0) this.#heldBy.delete(owner);
    else this.#heldBy.set(owner, n);
  }

  #hold(req: Request, owner: SlotOwner): Slot {
    if (this.#held.length >= MAX_HELD) return new LocalSlot(owner, req.noreply && req.cmd < Cmd.MetaGet ? null : R.MIGRATION_BUSY);
    const held = new HeldSlot(owner, req);
    this.#held.push(held);
    this.#heldBy.set(owner, (this.#heldBy.get(owner) ?? 0) + 1);
    this.counters.held++;
    return held;
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const mode = this.#mode;
    // A connection with a held request keeps its order: what it sends after waits too.
    if (this.#heldBy.has(owner)) return this.#hold(req, owner);
    if (mode === 'old') return this.dispatcher.plain(req, owner, this.#old);
    if (mode === 'new') return this.dispatcher.plain(req, owner, this.#new);
    const cmd = req.cmd;
    const touches = cmd === Cmd.Gat || cmd === Cmd.Gats || (cmd === Cmd.MetaGet && hasFlag(req, 0x54 /* T */));
    if (touches && mode !== 'new_deletes_both') {
      // A read that also sets the TTL is a write: the authority runs it and the other owner is synced.
      if (req.keys.length > 1) return this.dispatcher.plain(req, owner, this.#readOwner);
    } else if (cmd <= Cmd.Gats || cmd === Cmd.MetaGet || cmd === Cmd.MetaDebug) {
      const wantsCas = cmd === Cmd.Gets || cmd === Cmd.Gats || (cmd === Cmd.MetaGet && hasFlag(req, 0x63 /* c */));
      // The owner that serializes writes serves tokens: the old one until cutover.
      if (mode === 'dual_old' || (mode === 'dual_new' && wantsCas)) return this.dispatcher.plain(req, owner, this.#old);
      if (mode === 'new_deletes_both' || cmd === Cmd.MetaDebug) return this.dispatcher.plain(req, owner, this.#new);
      return req.keys.length > 1 ? this.#multiRead(req, owner, mode === 'dual_new') : this.#read(req, owner, wantsCas, mode === 'dual_new');
    }
    // One lookup: a key whose owner stays goes straight to it.
    const i = this.arcs.locate(req.hashKey!);
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    if (!this.arcs.moved(i)) return this.dispatcher.keyed(req, owner, n);
    return this.#write(req, owner, mode, this.oldBackends[this.arcs.oldOwner(i)]!, n);
  }

  #read(req: Request, owner: SlotOwner, wantsCas: boolean, backfill: boolean): Slot {
    const i = this.arcs.locate(req.hashKey!);
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    if (!this.arcs.moved(i)) return this.dispatcher.keyed(req, owner, n);
    if (backfill && this.isDirty(req.hashKey!, n)) return this.dispatcher.keyed(req, owner, this.oldBackends[this.arcs.oldOwner(i)]!);
    return new MovingReadSlot(owner, req, this, this.oldBackends[this.arcs.oldOwner(i)]!, n, wantsCas, backfill).start();
  }

  /** A multi-key get in dual_new: the new owners first; keys they miss on moved arcs go to the old owners. */
  #multiRead(req: Request, owner: SlotOwner, backfill: boolean): Slot {
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
        if (attempt !== 1 || !backfill) return;
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
      if (cmd !== Cmd.Delete && cmd !== Cmd.MetaDelete) return this.dispatcher.keyed(req, owner, n);
      return new MovingWriteSlot(owner, req, this, { first: n, second: o }).start();
    }
    if (mode === 'cutover') {
      // A read-modify-write waits until every sidecar has left verify: until then some still run them on the old owner.
      if (!fansOut(req)) return this.#hold(req, owner);
      // A delete still reaches the old owner first: a sidecar not yet out of verify may backfill from it.
      if (cmd === Cmd.Delete || cmd === Cmd.MetaDelete) return new MovingWriteSlot(owner, req, this, { first: o, second: n }).start();
      // The new owner may still have a hole a sidecar in verify is about to fill: then the old owner runs it.
      return new MovingWriteSlot(owner, req, this, { first: n, second: o, fallbackTo: o }).start();
    }
    return new MovingWriteSlot(owner, req, this, { first: o, second: n }).start();
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

  async sync(key: Buffer, from: Backend, to: Backend): Promise<unknown> {
    const copy = Buffer.from(key);
    const outcome = await syncKey(this.#metaOf(from), this.#metaOf(to), copy);
    if (outcome === 'raced') this.counters.raced++;
    else if (outcome === 'error') {
      this.counters.syncErrors++;
      // The other owner may keep an older value: drop it (a miss is safe). If it cannot be reached,
      // remember the key: reads of it skip that owner, and the delete is retried until it lands.
      const dropped = await this.#metaOf(to).md(copy, '').then(
        (r) => r.status === 'HD' || r.status === 'NF',
        () => false,
      );
      if (!dropped) this.#markDirty(copy, to);
    }
    return outcome;
  }

  /** Keys whose copy on a backend may be stale (a failed sync and delete), per backend. */
  readonly #dirty = new Map<Backend, Map<string, Buffer>>();
  #dirtyTimer: NodeJS.Timeout | null = null;

  #markDirty(key: Buffer, on: Backend): void {
    let keys = this.#dirty.get(on);
    if (keys === undefined) this.#dirty.set(on, (keys = new Map()));
    if (keys.size < MAX_DIRTY) keys.set(key.toString('latin1'), key);
    else this.counters.dirtyOverflow++;
    this.#dirtyTimer ??= setInterval(() => void this.#retryDirty(), 1_000);
    this.#dirtyTimer.unref();
  }

  /** The key may be stale on `b` (reads go to the other owner). */
  isDirty(key: Buffer, b: Backend): boolean {
    return this.#dirty.size > 0 && (this.#dirty.get(b)?.has(key.toString('latin1')) ?? false);
  }

  async #retryDirty(): Promise<void> {
    for (const [b, keys] of this.#dirty) {
      if (b.state !== 'up') continue;
      for (const [id, key] of [...keys].slice(0, 1_000)) {
        const ok = await this.#metaOf(b).md(key, '').then(
          (r) => r.status === 'HD' || r.status === 'NF',
          () => false,
        );
        if (ok) keys.delete(id);
      }
      if (keys.size === 0) this.#dirty.delete(b);
    }
    if (this.#dirty.size === 0 && this.#dirtyTimer !== null) {
      clearInterval(this.#dirtyTimer);
      this.#dirtyTimer = null;
    }
  }
}
