/**
 * A migration of one replica group's ring (src/migration, runtime.ts): its data path for the keys
 * whose owner in that group changes (the GroupRemap hook of ReplicaGroups); keys whose owner stays,
 * and the other groups, are untouched. Two cases:
 *
 * An operator's migration (the old owners are alive, and get every write until cleanup):
 *
 *   mode               group's owner of a moved key        also written (shadow)   read-modify-writes
 *   old                the old one (the old ring)                                  as replica groups do
 *   dual_old/dual_new  the old one: reads, writes, RMWs    the new one             where replica groups run them;
 *                                                                                  the new owner is synced too
 *   cutover            the new one (a miss: other groups)  the old one             held (moved keys) until
 *                                                                                  rmwFrom, then the new one
 *   new_deletes_both   the new one                         the old one (deletes)   as replica groups do
 *   new                the new one                                                 as replica groups do
 *
 * A failover (failover.ts: the old owner died, the copy reads another group; `oldAlive` false):
 *
 *   old                the old ring: the group's configured one, or (after earlier failovers of
 *                      the pool) the one they left; servers they took out are out (`isOut`)
 *   dual_old/dual_new  the new one, `filling`: no reads, no RMWs, its write replies do not count
 *   cutover            the new one (a miss: other groups); RMWs of moved keys held until rmwFrom
 *   new_deletes_both/new  the new one
 *
 * Read-modify-writes of moved keys wait in cutover while the owner that serializes them changes
 * (until `rmwFrom`: at most `settle`), as in a plain pool's migration (route.ts).
 */
import { fansOut, isRead, type Request } from '../protocol/index.js';
import type { Backend } from '../backend/index.js';
import type { GroupRemap, ReplicaGroups } from '../replication/replica-groups.js';
import type { Slot, SlotOwner } from '../proxy/reply-slots.js';
import type { MovedArcs } from './arcs.js';
import type { RouteMode } from './phases.js';
import { HOLD_BUCKETS_SEC, PhasedRoute, emptyRouteCounters, type RouteCounters } from './phased-route.js';
import { LatencyHistogram } from '../observability/histogram.js';
import { KeySync } from './key-sync.js';

export class GroupRemapRoute extends PhasedRoute implements GroupRemap {
  /** Drops keys a shadow missed (and remembers those it cannot drop yet: reads skip them there). */
  readonly #keys = new KeySync(this.counters, undefined, (key, b) => (this.mode === 'new' ? 'sole' : this.ownerOf(key) === b ? 'owner' : 'other'));
  /** The old ring is not the group's configured one (servers earlier failovers took out are not in it). */
  readonly #narrowed: boolean;

  constructor(
    readonly groups: ReplicaGroups,
    readonly group: number,
    arcs: MovedArcs,
    /** The group's servers on the old ring, in its order. */
    readonly oldBackends: readonly Backend[],
    /** The group's servers on the new ring, in its order. */
    readonly newBackends: readonly Backend[],
    /** The old owners are alive (an operator's migration), or one is gone (a failover). */
    readonly oldAlive: boolean,
  ) {
    super(arcs);
    this.#narrowed = oldBackends.length !== groups.backends[group]!.length;
  }

  /** The servers earlier failovers took out of `group`'s ring, out for good (not driven by a migration). */
  static failedOver(groups: ReplicaGroups, group: number, arcs: MovedArcs, oldBackends: readonly Backend[], newBackends: readonly Backend[]): GroupRemapRoute {
    const r = new GroupRemapRoute(groups, group, arcs, oldBackends, newBackends, false);
    r.mode = 'new';
    return r;
  }

  protected redispatch(req: Request, owner: SlotOwner): Slot {
    return this.groups.dispatch(req, owner);
  }

  /** The group's configured ring applies before a failover starts (and after a rollback), unless earlier ones narrowed it. */
  get active(): boolean {
    return this.mode !== 'old' || this.oldAlive || this.#narrowed;
  }

  get fallbackOnMiss(): boolean {
    return this.mode === 'cutover';
  }

  #dual(): boolean {
    return this.mode === 'dual_old' || this.mode === 'dual_new';
  }

  ownerOf(key: Buffer): Backend {
    const i = this.arcs.locate(key);
    if (this.mode === 'old' || (this.oldAlive && this.#dual())) return this.oldBackends[this.arcs.oldOwner(i)]!;
    return this.newBackends[this.arcs.newOwner(i)]!;
  }

  shadow(key: Buffer, isDelete: boolean): Backend | null {
    const m = this.mode;
    if (!this.oldAlive || m === 'old' || m === 'new' || (m === 'new_deletes_both' && !isDelete)) return null;
    const i = this.arcs.locate(key);
    if (!this.arcs.moved(i)) return null;
    return this.#dual() ? this.newBackends[this.arcs.newOwner(i)]! : this.oldBackends[this.arcs.oldOwner(i)]!;
  }

  shadowMissed(key: Buffer, shadow: Backend): Promise<void> {
    this.counters.syncErrors++;
    return this.#keys.drop(Buffer.from(key), shadow);
  }

  /** A failover (this one, or an earlier one) took `b` out of the group's ring. */
  isOut(b: Backend): boolean {
    return !this.oldAlive && this.groups.backends[this.group]!.includes(b) && !(this.mode === 'old' ? this.oldBackends : this.newBackends).includes(b);
  }

  moving(key: Buffer): boolean {
    return this.mode !== 'old' && this.mode !== 'new' && this.arcs.moved(this.arcs.locate(key));
  }

  filling(key: Buffer): boolean {
    if (!this.oldAlive) return this.#dual() && this.arcs.moved(this.arcs.locate(key));
    // A new owner whose copy of the key could not be dropped after a missed write is not read.
    return this.mode === 'cutover' && this.#keys.isDirty(key, this.ownerOf(key));
  }

  override close(): void {
    super.close();
    this.#keys.close();
  }

  intercept(req: Request, owner: SlotOwner): Slot | null {
    const waiting = this.waits(req, owner);
    if (waiting !== null) return waiting;
    if (!this.rmwHeld()) return null;
    const cmd = req.cmd;
    if (isRead(cmd) || fansOut(req)) return null;
    // The group that serializes this key's read-modify-writes changes at cutover: hold them meanwhile.
    return this.arcs.moved(this.arcs.locate(req.hashKey ?? req.keys[0]!)) ? this.held.hold(req, owner) : null;
  }
}

/** Several groups' remaps driven as one migration route (each group has its own arcs). */
export class GroupsRoute {
  constructor(readonly remaps: readonly GroupRemapRoute[]) {}

  get mode(): RouteMode {
    return this.remaps[0]!.mode;
  }

  set mode(mode: RouteMode) {
    for (const r of this.remaps) r.mode = mode;
  }

  get validUntil(): number {
    return this.remaps[0]!.validUntil;
  }

  get rmwFrom(): number {
    return this.remaps[0]!.rmwFrom;
  }

  set rmwFrom(t: number) {
    for (const r of this.remaps) r.rmwFrom = t;
  }

  get holds(): LatencyHistogram {
    const h = new LatencyHistogram(HOLD_BUCKETS_SEC);
    for (const r of this.remaps) h.merge(r.holds);
    return h;
  }

  set validUntil(t: number) {
    for (const r of this.remaps) r.validUntil = t;
  }

  get counters(): RouteCounters {
    const sum = emptyRouteCounters();
    for (const r of this.remaps) for (const k of Object.keys(sum) as (keyof RouteCounters)[]) sum[k] += r.counters[k];
    return sum;
  }

  expireHeld(ms: number): void {
    for (const r of this.remaps) r.expireHeld(ms);
  }

  close(): void {
    for (const r of this.remaps) r.close();
  }
}
