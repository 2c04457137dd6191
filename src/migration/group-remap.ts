/**
 * A failover's migration in a pool with replica groups: one group's ring loses a dead server and
 * its arcs move to the group's other servers, filled from a healthy group (failover.ts). This is
 * the group's data path for the moved keys while that happens (the GroupRemap hook of
 * ReplicaGroups); keys whose owner stays are untouched.
 *
 *   mode               group's owner   reads of moved keys              read-modify-writes of moved keys
 *   old                its own ring    (the dead owner: other groups)   (as replica groups do)
 *   dual_old/dual_new  the new ring    other groups only (filling)      on another group; the new owner
 *                                                                       follows it (synced) like any group
 *   cutover            the new ring    the group too; a miss tries      held until every sidecar is out
 *                                      the other groups                 of verify
 *   new                the new ring    as replica groups do             as replica groups do
 *
 * Writes that fan out (set, delete, touch) reach the new owner from dual_write on, like any group
 * member; the background copy (add + re-check) fills in the rest, and verify proves it before reads
 * move. The old owner is dead: nothing is written to it (its failed-write log is marked for a full
 * rebuild, should it come back before the failover ends).
 */
import { Cmd, fansOut, type Request } from '../protocol/index.js';
import type { Backend } from '../backend/index.js';
import type { GroupRemap, ReplicaGroups } from '../replication/replica-groups.js';
import type { Slot, SlotOwner } from '../proxy/reply-slots.js';
import type { MovedArcs } from './arcs.js';
import type { RouteMode } from './phases.js';
import type { RouteCounters } from './route.js';
import { HoldQueue } from './hold-queue.js';

export class GroupRemapRoute implements GroupRemap {
  #mode: RouteMode = 'old';
  readonly #held = new HoldQueue();
  readonly counters: RouteCounters = { backfilled: 0, backfillErrors: 0, raced: 0, syncErrors: 0, dirtyOverflow: 0, held: 0 };

  constructor(
    readonly groups: ReplicaGroups,
    readonly group: number,
    readonly arcs: MovedArcs,
    /** The group's servers on the new ring, in its order. */
    readonly newBackends: readonly Backend[],
  ) {}

  get active(): boolean {
    return this.#mode !== 'old';
  }

  get mode(): RouteMode {
    return this.#mode;
  }

  /** Switches the mode; read-modify-writes held in cutover run under the new one. */
  set mode(mode: RouteMode) {
    this.#mode = mode;
    if (mode !== 'cutover') this.#held.release((req, owner) => this.groups.dispatch(req, owner));
  }

  get fallbackOnMiss(): boolean {
    return this.#mode === 'cutover';
  }

  ownerOf(key: Buffer): Backend {
    return this.newBackends[this.arcs.newOwner(this.arcs.locate(key))]!;
  }

  isOut(b: Backend): boolean {
    return this.active && this.groups.backends[this.group]!.includes(b) && !this.newBackends.includes(b);
  }

  filling(key: Buffer): boolean {
    const m = this.#mode;
    return (m === 'dual_old' || m === 'dual_new') && this.arcs.moved(this.arcs.locate(key));
  }

  expireHeld(ms: number): void {
    this.#held.expire(ms);
  }

  #hold(req: Request, owner: SlotOwner): Slot {
    const slot = this.#held.hold(req, owner);
    this.counters.held = this.#held.total;
    return slot;
  }

  intercept(req: Request, owner: SlotOwner): Slot | null {
    // A connection with a held request keeps its order: what it sends after waits too.
    if (this.#held.holds(owner)) return this.#hold(req, owner);
    const m = this.#mode;
    if (m === 'new' || m === 'new_deletes_both') return null;
    const cmd = req.cmd;
    if (cmd <= Cmd.Gats || cmd === Cmd.MetaGet || cmd === Cmd.MetaDebug || fansOut(req)) return null;
    const key = req.hashKey ?? req.keys[0]!;
    if (!this.arcs.moved(this.arcs.locate(key))) return null;
    // The group that serializes this key's read-modify-writes changes at cutover: hold them meanwhile.
    // (Before it they run on another group, the new owner being `filling`, and it is synced from
    // there before the client hears back: ReplicaGroups' primary write.)
    return m === 'cutover' ? this.#hold(req, owner) : null;
  }
}
