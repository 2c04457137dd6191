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
 *   cutover           new, miss → old (no backfill)                 new owner, sync to old         held until rmwFrom,
 *                                                                   (deletes: old owner, sync)     then new owner,
 *                                                                                                  sync to old
 *   new_deletes_both  new owner                                     new owner; deletes: both       new owner
 *                                                                   (the old owner only loses keys)
 *   new               new ring                                      new ring                       new ring
 *
 * A `gets` is served by the owner a `cas` then runs on. The mode is set by the migration's state
 * (runtime.ts) from the published record.
 */
import { Cmd, R, fansOut, hasFlag, isGetAndTouch, isRead, wantsCas, type Request } from '../protocol/index.js';
import { Backend, type BackendConnection } from '../backend/index.js';
import { forward, forwardTo } from '../proxy/forward.js';
import type { PoolRoute } from '../proxy/pool-route.js';
import type { Slot, SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { FailoverMultiGetSlot, type GroupReader } from '../replication/read-failover.js';
import { sendRequest } from '../proxy/send-request.js';
import type { MovedKeys } from './moved-keys.js';
import type { RouteMode } from './phases.js';
import { KeySync } from './key-sync.js';
import { MovingReadSlot, MovingWriteSlot, type MovingKey, type WritePlan } from './moving-slots.js';
import type { SyncOutcome } from '../copy/index.js';
import { HOLD_BUCKETS_SEC, PhasedRoute, type RouteCounters } from './phased-route.js';
import { LatencyHistogram } from '../observability/histogram.js';

export { emptyRouteCounters, type RouteCounters } from './phased-route.js';

export class MigrationRoute extends PhasedRoute implements MovingKey, PoolRoute {
  readonly #old = (key: Buffer): Backend => this.oldBackends[this.arcs.oldOwnerOf(key)]!;
  readonly #new = (key: Buffer): Backend => this.newBackends[this.arcs.newOwnerOf(key)]!;
  readonly keys = new KeySync(
    this.counters,
    () => this.current(),
    (key, b) => (this.mode === 'new' ? 'sole' : this.readOwner(key) === b ? 'owner' : 'other'),
  );
  readonly #readOwner = (key: Buffer): Backend => this.readOwner(key);

  constructor(
    arcs: MovedKeys,
    /** In old ring order. */
    readonly oldBackends: readonly Backend[],
    /** In new ring order. */
    readonly newBackends: readonly Backend[],
    readonly stats: ProxyStats,
  ) {
    super(arcs);
  }

  protected redispatch(req: Request, owner: SlotOwner): Slot {
    return this.dispatch(req, owner);
  }

  /** The authoritative owner of `key` for a plain read: the old one until cutover. */
  readOwner(key: Buffer): Backend {
    const m = this.mode;
    return m === 'old' || m === 'dual_old' || m === 'dual_new' ? this.#old(key) : this.#new(key);
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const waiting = this.waits(req, owner);
    if (waiting !== null) return waiting;
    const mode = this.mode;
    if (mode === 'old') return forward(req, owner, this.stats, this.#old);
    if (mode === 'new') return forward(req, owner, this.stats, this.#new);
    const cmd = req.cmd;
    const touches = isGetAndTouch(cmd) || (cmd === Cmd.MetaGet && hasFlag(req, 0x54 /* T */));
    if (touches && mode !== 'new_deletes_both') {
      // A read that also sets the TTL is a write: the authority runs it and the other owner is synced.
      if (req.keys.length > 1) return forward(req, owner, this.stats, this.#readOwner);
    } else if (isRead(cmd)) {
      const cas = wantsCas(req);
      // The owner that serializes writes serves tokens: the old one until cutover.
      if (mode === 'dual_old' || (mode === 'dual_new' && cas)) return forward(req, owner, this.stats, this.#old);
      if (mode === 'new_deletes_both' || cmd === Cmd.MetaDebug) return forward(req, owner, this.stats, this.#new);
      return req.keys.length > 1 ? this.#multiRead(req, owner, mode === 'dual_new') : this.#read(req, owner, cas, mode === 'dual_new');
    }
    // One lookup: a key whose owner stays goes straight to it.
    // (A moved prefix's route is only given its own keys, all moved.)
    const i = this.arcs.locate(req.hashKey!);
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    if (!this.arcs.moved(i)) return forwardTo(req, owner, this.stats, n);
    return this.#write(req, owner, mode, this.oldBackends[this.arcs.oldOwner(i)]!, n);
  }

  #read(req: Request, owner: SlotOwner, wantsCas: boolean, backfill: boolean): Slot {
    const i = this.arcs.locate(req.hashKey!);
    const n = this.newBackends[this.arcs.newOwner(i)]!;
    if (!this.arcs.moved(i)) return forwardTo(req, owner, this.stats, n);
    // A new owner whose copy may be stale (a sync there failed, and so did the delete) is not read: the old owner has every write up to cleanup.
    if ((backfill || this.mode === 'cutover') && this.isDirty(req.hashKey!, n)) return forwardTo(req, owner, this.stats, this.oldBackends[this.arcs.oldOwner(i)]!);
    return new MovingReadSlot(owner, req, this, this.oldBackends[this.arcs.oldOwner(i)]!, n, wantsCas, backfill).start();
  }

  /** A multi-key get in dual_new: the new owners first; keys they miss on moved arcs go to the old owners. */
  #multiRead(req: Request, owner: SlotOwner, backfill: boolean): Slot {
    const keys = req.keys;
    let anyMoved = false;
    for (let k = 0; k < keys.length && !anyMoved; k++) anyMoved = this.arcs.moved(this.arcs.locate(keys[k]!));
    if (!anyMoved) return forward(req, owner, this.stats, this.#new);
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
    // A read-modify-write waits in cutover until every sidecar has left verify: until then some still run them on the old owner.
    if (!fansOut(req) && this.rmwHeld()) return this.held.hold(req, owner);
    const plan = this.#plan(req, mode, o, n);
    return plan.second === null ? forwardTo(req, owner, this.stats, plan.first) : new MovingWriteSlot(owner, req, this, plan).start();
  }

  /** Where a write of the moved key `req` names runs now, and which owner follows it (none: one owner). */
  planNow(req: Request): WritePlan | { first: Backend; second: null } {
    const i = this.arcs.locate(req.hashKey!);
    return this.#plan(req, this.mode, this.oldBackends[this.arcs.oldOwner(i)]!, this.newBackends[this.arcs.newOwner(i)]!);
  }

  #plan(req: Request, mode: RouteMode, o: Backend, n: Backend): WritePlan | { first: Backend; second: null } {
    const isDelete = req.cmd === Cmd.Delete || req.cmd === Cmd.MetaDelete;
    switch (mode) {
      case 'old':
        return { first: o, second: null };
      case 'new':
        return { first: n, second: null };
      case 'new_deletes_both':
        return isDelete ? { first: n, second: o, dropSecond: true } : { first: n, second: null };
      case 'cutover':
        // A read-modify-write (past rmwFrom: no sidecar runs them on the old owner any more) as in cleanup, the old owner synced.
        if (!fansOut(req)) return { first: n, second: o };
        // A delete still reaches the old owner first: a sidecar not yet out of verify may backfill from it.
        // Other writes: the new owner may still have a hole a sidecar in verify is about to fill; then the old owner runs it.
        return isDelete ? { first: o, second: n } : { first: n, second: o, fallbackTo: o };
      default:
        return { first: o, second: n };
    }
  }

  backfill(key: Buffer, from: Backend, to: Backend): Promise<unknown> {
    return this.keys.backfill(key, from, to);
  }

  sync(key: Buffer, from: Backend, to: Backend): Promise<SyncOutcome> {
    return this.keys.sync(key, from, to);
  }

  drop(key: Buffer, on: Backend): Promise<unknown> {
    return this.keys.drop(key, on);
  }

  /** The key may be stale on `b` (reads go to the other owner). */
  isDirty(key: Buffer, b: Backend): boolean {
    return this.keys.isDirty(key, b);
  }

  override close(): void {
    super.close();
    this.keys.close();
  }
}

/**
 * Stands for a failed-over server while no sidecar may use it (a plain pool's failover, before its
 * keys move): every request to it is refused with SERVER_ERROR, as while it was down, even if it
 * answers again, so that no write lands on it while other sidecars already write its keys elsewhere.
 */
class RetiredBackend extends Backend {
  static readonly #conn = { refuse: (): Buffer => R.BACKEND_DOWN } as unknown as BackendConnection;

  constructor(address: string) {
    super(address, []);
  }

  override pick(): BackendConnection {
    return RetiredBackend.#conn;
  }
}

/**
 * A failover of a pool without replica groups (failover.ts): the old owner of the moved keys is
 * dead and no copy of them exists.
 *
 *   old        the old ring (the dead server: its keys fail, as since it died)
 *   dual_old   the old ring, the dead server refused whatever it answers: from here on nobody writes
 *              it (a server that comes back, or that one sidecar still reaches, must not take writes
 *              that others will not see); the copy phase empties the new owners' moved arcs
 *   dual_read… the new ring, where moved keys start empty
 *
 * Every sidecar is in dual_old before the emptying starts (settle), and none writes a new owner's
 * moved keys before it ends, so nothing the emptying deletes was written.
 */
export class DeadOwnerRoute implements PoolRoute {
  #mode: RouteMode = 'old';
  #active: MigrationRoute;
  readonly #refusing: MigrationRoute;

  constructor(
    readonly inner: MigrationRoute,
    /** The address of the server that died (a failover's), or of each (an autopilot's: src/discovery). */
    dead: string | readonly string[],
  ) {
    const gone = new Set(typeof dead === 'string' ? [dead] : dead);
    const old = inner.oldBackends.map((b) => (gone.has(b.address) ? new RetiredBackend(b.address) : b));
    this.#refusing = new MigrationRoute(inner.arcs, old, inner.newBackends, inner.stats);
    this.#active = inner;
  }

  get mode(): RouteMode {
    return this.#mode;
  }

  set mode(mode: RouteMode) {
    this.#mode = mode;
    this.#active = mode === 'dual_old' ? this.#refusing : this.inner;
    this.inner.mode = mode === 'old' ? 'old' : 'new';
  }

  get validUntil(): number {
    return this.inner.validUntil;
  }

  set validUntil(t: number) {
    this.inner.validUntil = t;
    this.#refusing.validUntil = t;
  }

  get rmwFrom(): number {
    return this.inner.rmwFrom;
  }

  set rmwFrom(t: number) {
    this.inner.rmwFrom = t;
    this.#refusing.rmwFrom = t;
  }

  get counters(): RouteCounters {
    return this.inner.counters;
  }

  get holds(): LatencyHistogram {
    const h = new LatencyHistogram(HOLD_BUCKETS_SEC);
    h.merge(this.inner.holds);
    h.merge(this.#refusing.holds);
    return h;
  }

  expireHeld(ms: number): void {
    this.inner.expireHeld(ms);
    this.#refusing.expireHeld(ms);
  }

  close(): void {
    this.inner.close();
    this.#refusing.close();
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    return this.#active.dispatch(req, owner);
  }

  readOwner(key: Buffer): Backend {
    return this.#active.readOwner(key);
  }
}
