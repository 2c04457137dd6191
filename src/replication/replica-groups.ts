/**
 * The data path of a pool with replica groups (DESIGN: the Replicated target).
 *
 * Reads try the groups in the read policy's order (read-failover.ts). Writes:
 * - set, delete, touch, meta set (plain set mode, no CAS) and meta delete fan out
 *   to every group, answered by the `write` policy (write-fanout.ts);
 * - commands whose result depends on what a group already holds (add, replace,
 *   cas, incr/decr, append/prepend, meta arithmetic, meta set with a mode or a
 *   CAS) run on ONE group, the first healthy one in order (the primary unless it
 *   is TKO), and the client gets that group's reply. The others then follow it
 *   (`follow`: each is synced from the primary's owner with syncKey: its value,
 *   flags and TTL, or a delete when it has none), before the reply unless the
 *   write policy is `one`, so the groups cannot drift apart.
 * - gets/gats read from the same first healthy group, so a CAS token always
 *   belongs to the group a later `cas` runs on.
 * Every write a group missed is reported to `missed` for the failed-write log.
 */
import { Cmd, R, ReplyKind, fansOut, isClassicKeyed, isRead, noreplyHidesErrors, wantsCas, type Request } from '../protocol/index.js';
import { sendRequest } from '../proxy/send-request.js';
import { Op, type Backend } from '../backend/index.js';
import { BackendMeta, syncKey } from '../copy/index.js';
import { PrimaryWriteSlot } from './primary-write.js';
import type { PoolConfig } from '../config/types.js';
import type { Router } from '../routing/index.js';
import { LocalSlot, type Slot, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import type { PoolRoute } from '../proxy/pool-route.js';
import { FanoutWriteSlot, type MissedWrite } from './write-fanout.js';
import { FailoverMultiGetSlot, FailoverReadSlot, type GroupReader } from './read-failover.js';

const NO_SHADOWS: readonly { group: number; backend: Backend }[] = [];

/**
 * A change of which server of one group owns some keys (a migration of the group's ring, or a
 * failover's, src/migration): while it is active the group's owner of a key is the remap's, an
 * owner still being filled serves no reads and runs no read-modify-write, a second owner (the
 * shadow) may get every write too, and the remap routes some requests itself.
 */
export interface GroupRemap {
  readonly group: number;
  /** false: the group's own ring applies. */
  readonly active: boolean;
  /** The group's owner of `key` under the remap. */
  ownerOf(key: Buffer): Backend;
  /** The group's other owner of `key` that gets the write too (the reply waits for it), or null. */
  shadow(key: Buffer, isDelete: boolean): Backend | null;
  /** A write to `shadow` failed: the remap drops `key` there (or remembers it until it can). */
  shadowMissed(key: Buffer, shadow: Backend): Promise<void>;
  /** The group's owner of `key` does not hold everything yet (no reads, no read-modify-writes). */
  filling(key: Buffer): boolean;
  /** Reads that miss try the other groups too (while the remapped owners take over reads). */
  readonly fallbackOnMiss: boolean;
  /** `b` is a server of the group that the remap took out of its ring. */
  isOut(b: Backend): boolean;
  /** `key` is changing owners in the group (sidecars a phase apart may read different groups first). */
  moving(key: Buffer): boolean;
  /** A slot for a request the remap routes itself (a held or synced read-modify-write), or null. */
  intercept(req: Request, owner: SlotOwner): Slot | null;
  /** This sidecar's phase of the migration is current (src/migration/phase-view.ts). */
  current(): boolean;
  /** Resolves true once it is current again; false when that takes too long. */
  whenCurrent(): Promise<boolean>;
}

export class ReplicaGroups {
  readonly #groups: number;
  readonly #localIndex: number;
  /** Backends being recovered (replay or rebuild, recovery.ts): they serve no reads until it is done. */
  held: ReadonlySet<Backend> = new Set();
  /** Per group: the remap of its ring while one is on (set by src/migration). */
  readonly #remaps: (GroupRemap | undefined)[] = [];
  #anyRemap = false;

  constructor(
    readonly poolIndex: number,
    readonly pool: PoolConfig,
    readonly router: Router,
    /** byGroup[group][server] */
    readonly backends: readonly (readonly Backend[])[],
    readonly stats: ProxyStats,
    readonly missed: MissedWrite,
  ) {
    this.#groups = pool.groups.length;
    this.#localIndex = Math.max(0, pool.groups.findIndex((g) => g.name === pool.localGroup));
  }

  /**
   * A write the shadow of migrating group `group` missed: its remap drops the key there (a miss is
   * safe). Decided under the phase now: after this sidecar stood still the shadow may have become
   * the group's owner (cutover), which took newer writes meanwhile; then it is a missed write of
   * the group (its failed-write log, for replay from a healthy group), never a delete.
   */
  async #shadowFailed(req: Request, key: Buffer, group: number, shadow: Backend): Promise<void> {
    // (A phase that stays unknown: dropped as before; a miss is safer than a stale hit.)
    if ((this.#current() || (await this.#whenCurrent())) && this.ownerIn(group, key) === shadow) return this.missed(group, req, shadow);
    await this.#remap(group)?.shadowMissed(key, shadow);
  }

  /** The shadows of `key` (migrating groups' other owners that get the write too), with their groups. */
  #shadowsOf(key: Buffer, isDelete: boolean): { group: number; backend: Backend }[] | null {
    let shadows: { group: number; backend: Backend }[] | null = null;
    for (let g = 0; this.#anyRemap && g < this.#groups; g++) {
      const backend = this.#remap(g)?.shadow(key, isDelete) ?? null;
      if (backend !== null) (shadows ??= []).push({ group: g, backend });
    }
    return shadows;
  }

  /** Routes `remap.group` by the remap (while it is active), in place of any it had. */
  setRemap(remap: GroupRemap): void {
    this.#remaps[remap.group] = remap;
    this.#anyRemap = true;
  }

  /** A failover took `b` out of its group's ring. */
  isOut(b: Backend): boolean {
    return this.#remaps.some((r) => r?.isOut(b) === true);
  }

  /** The servers of `group` in its ring now (less those a failover took out). */
  inRing(group: number): readonly Backend[] {
    const r = this.#remaps[group];
    return r === undefined ? this.backends[group]! : this.backends[group]!.filter((b) => !r.isOut(b));
  }

  /** Every migrating group's phase is current (true without any). */
  readonly #current = (): boolean => {
    for (let g = 0; this.#anyRemap && g < this.#groups; g++) if (this.#remap(g)?.current() === false) return false;
    return true;
  };

  async #whenCurrent(): Promise<boolean> {
    for (let g = 0; this.#anyRemap && g < this.#groups; g++) if ((await this.#remap(g)?.whenCurrent()) === false) return false;
    return true;
  }

  #remap(group: number): GroupRemap | undefined {
    if (!this.#anyRemap) return undefined;
    const r = this.#remaps[group];
    return r !== undefined && r.active ? r : undefined;
  }

  ownerIn(group: number, key: Buffer): Backend {
    const r = this.#remap(group);
    if (r !== undefined) return r.ownerOf(key);
    return this.backends[group]![this.router.groupRing(this.poolIndex, group).ownerOf(key)]!;
  }


  /**
   * Group order for a read of `key`: the policy's first choice, the rest in order, TKO owners last.
   * `inGroupOrder`: the groups in their own order whatever the policy, as cas tokens (wantsCas) and
   * read-modify-writes need.
   */
  readOrder(key: Buffer, inGroupOrder: boolean): number[] {
    const all = Array.from({ length: this.#groups }, (_, i) => i);
    let order = all;
    if (!inGroupOrder && this.pool.read === 'local') order = [this.#localIndex, ...all.filter((g) => g !== this.#localIndex)];
    else if (!inGroupOrder && this.pool.read === 'fastest') {
      const latency = (g: number): number => this.ownerIn(g, key).connections[0]!.latencyMs || Number.MAX_VALUE;
      order = [...all].sort((a, b) => latency(a) - latency(b));
    }
    const up = order.filter((g) => this.#readable(g, key));
    return up.length === order.length ? order : [...up, ...order.filter((g) => !up.includes(g))];
  }

  #readable(group: number, key: Buffer): boolean {
    const b = this.ownerIn(group, key);
    if (b.state !== 'up' || this.held.has(b)) return false;
    return this.#remap(group)?.filling(key) !== true;
  }

  /** Every server of every group is up, none is recovering and no migration or failover is on. */
  #allReadable(): boolean {
    if (this.held.size > 0) return false;
    for (let g = 0; this.#anyRemap && g < this.#groups; g++) if (this.#remap(g) !== undefined) return false;
    for (const servers of this.backends) for (const b of servers) if (b.state !== 'up') return false;
    return true;
  }

  /** Owners of `key` in the groups other than `group`, in read order, that can serve a read. */
  sourcesFor(group: number, key: Buffer): Backend[] {
    return this.readOrder(key, true)
      .filter((g) => g !== group && this.#readable(g, key))
      .map((g) => this.ownerIn(g, key));
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const key = req.hashKey ?? req.keys[0]!;
    const cmd = req.cmd;
    let fallbackOnMiss = false;
    if (this.#anyRemap) {
      for (let g = 0; g < this.#groups; g++) {
        const r = this.#remap(g);
        if (r === undefined) continue;
        const slot = r.intercept(req, owner);
        if (slot !== null) return slot;
        fallbackOnMiss ||= r.fallbackOnMiss;
      }
    }
    const failoverOnMisses = this.pool.readFailover === 'errors_and_misses' || fallbackOnMiss;
    if (isRead(cmd)) {
      const inGroupOrder = wantsCas(req);
      const order = this.readOrder(key, inGroupOrder);
      if (req.keys.length <= 1) return new FailoverReadSlot(owner, req, this.stats, this.#reader(order), failoverOnMisses).start();
      // While some server is down or recovering, each key is read in its own order (healthy owners first).
      const orderOf = this.#allReadable() ? undefined : (k: Buffer): number[] => this.readOrder(k, inGroupOrder);
      return new FailoverMultiGetSlot(owner, req, this.stats, this.#reader(order, orderOf), failoverOnMisses).start();
    }
    if (fansOut(req)) return this.#fanOut(req, owner, key);
    return this.#onPrimary(req, owner, key);
  }

  /** A write that means the same everywhere: every group's owner, and the shadows of migrating groups. */
  #fanOut(req: Request, owner: SlotOwner, key: Buffer): Slot {
    // A group whose owner of the key is still filling (a failover's new owner) or recovering (back
    // empty, being rebuilt or replayed) gets the write, but its reply says nothing about the key.
    let uncounted = 0;
    for (let g = 0; g < this.#groups; g++) {
      if ((this.held.size > 0 && this.held.has(this.ownerIn(g, key))) || (this.#anyRemap && this.#remap(g)?.filling(key) === true)) uncounted |= 1 << g;
    }
    // None left to count: count them all rather than answer nothing.
    if (uncounted === (1 << this.#groups) - 1) uncounted = 0;
    const shadows = this.#shadowsOf(key, req.cmd === Cmd.Delete || req.cmd === Cmd.MetaDelete);
    const shadowParts = shadows === null ? undefined : {
      count: shadows.length,
      failed: (part: number) => {
        const s = shadows[part - this.#groups]!;
        return this.#shadowFailed(req, key, s.group, s.backend);
      },
    };
    const targets: Backend[] = [];
    for (let g = 0; g < this.#groups; g++) targets.push(this.ownerIn(g, key));
    const slot = new FanoutWriteSlot(owner, req, this.stats, this.#groups, this.pool.write, this.missed, uncounted, shadowParts, this.#waitFor(key, uncounted), targets);
    const parts = this.#groups + (shadows?.length ?? 0);
    for (let g = 0; g < parts; g++) {
      const refused = sendRequest(g < this.#groups ? targets[g]! : shadows![g - this.#groups]!.backend, req, null, slot, g);
      if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Line, g), refused);
    }
    return slot;
  }

  /**
   * With `write: one`, the groups a fanned-out write waits for beyond the first success: the group
   * that reads of `key` try first (so a read through any connection after the reply finds the
   * write, not the value from before it); while a migration or failover moves the key, every
   * counted group (sidecars a phase apart may read different groups first).
   */
  #waitFor(key: Buffer, uncounted: number): number {
    if (this.pool.write !== 'one') return 0;
    for (let g = 0; this.#anyRemap && g < this.#groups; g++) if (this.#remap(g)?.moving(key) === true) return ((1 << this.#groups) - 1) & ~uncounted;
    if (this.pool.read === 'fastest') {
      const first = this.readOrder(key, false)[0]!;
      return this.#readable(first, key) ? 1 << first : 0;
    }
    // primary and local without building the read order (the hot path): the first readable group.
    const local = this.pool.read === 'local' ? this.#localIndex : -1;
    if (local >= 0 && this.#readable(local, key)) return 1 << local;
    for (let g = 0; g < this.#groups; g++) if (g !== local && this.#readable(g, key)) return 1 << g;
    return 0;
  }

  #reader(order: number[], orderOf?: (key: Buffer) => number[]): GroupReader {
    return {
      order,
      ownerIn: (group, key) => this.ownerIn(group, key),
      send: sendRequest,
      ...(orderOf === undefined ? {} : { orderOf }),
    };
  }

  /** Run on the first healthy group; the others follow it (primary-write.ts). */
  /** `tried`: bit g set, group g failed this command already (a retry runs on the next group). */
  #onPrimary(req: Request, owner: SlotOwner, key: Buffer, tried = 0): Slot {
    const down = (): Slot => new LocalSlot(owner, noreplyHidesErrors(req) ? null : R.BACKEND_DOWN);
    const primary = this.readOrder(key, true).find((g) => (tried & (1 << g)) === 0);
    if (primary === undefined) return down();
    // Only a filling owner is left (every other group down): it may lack the key, so it decides nothing.
    if (this.#remap(primary)?.filling(key) === true) return down();
    const from = this.ownerIn(primary, key);
    // Who follows is decided now, with where it runs: a migrating group may switch owners (cutover)
    // while the command runs, and its new owner must still be synced from the old one it ran on.
    const followers = this.#followers(key, primary);
    const shadows = this.#shadowsOf(key, false) ?? NO_SHADOWS;
    const slot = new PrimaryWriteSlot(owner, req, this.stats, () => this.follow(req, key, { group: primary, to: from }, followers, shadows), this.missed, (failed, as) =>
      this.#retry(req, as, key, tried | (1 << failed)),
    );
    return slot.start(from, primary);
  }

  /**
   * A read-modify-write whose group failed with it in flight, or died before the others followed:
   * it runs on the next readable group, which holds the state from before it (PrimaryWriteSlot).
   * Classic text commands only (meta commands keep the error); a `cas` answers EXISTS there, its
   * token belonging to the group that failed. Null when no readable group is left.
   */
  #retry(req: Request, owner: SlotOwner, key: Buffer, tried: number): Slot | null {
    if (!isClassicKeyed(req.cmd)) return null;
    const next = this.readOrder(key, true).find((g) => (tried & (1 << g)) === 0);
    if (next === undefined || !this.#readable(next, key)) return null;
    if (req.cmd === Cmd.Cas) return new LocalSlot(owner, req.noreply ? null : R.EXISTS);
    return this.#onPrimary(req, owner, key, tried);
  }

  /** The owners of `key` in every group but `primary`, in read order. */
  #followers(key: Buffer, primary: number): { group: number; to: Backend }[] {
    return this.readOrder(key, true)
      .filter((g) => g !== primary)
      .map((g) => ({ group: g, to: this.ownerIn(g, key) }));
  }

  /**
   * After a read-modify-write applied on `ran.to` (group `ran.group`'s owner of `key`): the other
   * groups' owners and the migrating groups' shadows, as they were when it was sent, follow it,
   * each synced from it (its value, flags and TTL, or a delete when it has none; syncKey). A group
   * that cannot be synced has the key dropped where it can be, and the write in its failed-write
   * log, for replay. Resolves to a reply to send instead, or null (see #refollow).
   */
  async follow(
    req: Request,
    key: Buffer,
    ran: { group: number; to: Backend },
    followers: readonly { group: number; to: Backend }[],
    shadows: readonly { group: number; backend: Backend }[],
  ): Promise<Buffer | null> {
    if (followers.length === 0 && shadows.length === 0) return null;
    // A migrating group's phase may have moved on while this sidecar stood still: decide under the phase now.
    if (!this.#current()) return this.#refollow(req, key, ran);
    const from = ran.to;
    const copy = Buffer.from(key);
    let stale = false;
    let sourceLost = false;
    // Nothing is written (or dropped) once the phase is out of date: an error then is no evidence either.
    const sync = async (to: Backend): Promise<boolean> => {
      const outcome = await syncKey(BackendMeta.of(from), BackendMeta.of(to), copy, { proceed: this.#current }).catch(() => 'error' as const);
      const late = outcome === 'stale' || ((outcome === 'error' || outcome === 'source_error') && !this.#current());
      if (late) stale = true;
      // The server it ran on failed before its result could be read: the others keep what they had.
      else if (outcome === 'source_error') sourceLost = true;
      return outcome !== 'error' || late;
    };
    await Promise.all([
      ...followers.map(async ({ group: g, to }) => {
        if (await sync(to)) return;
        // It may still hold the value from before the command: drop it (a miss is safe, a stale hit
        // is not). The failed-write log has the key for the replay (a backend that is down now).
        if (to.state === 'up') await BackendMeta.of(to).md(copy, '').catch(() => undefined);
        this.missed(g, req, to);
      }),
      ...shadows.map(async (s) => {
        if (!(await sync(s.backend))) await this.#shadowFailed(req, copy, s.group, s.backend);
      }),
    ]);
    if (stale) return this.#refollow(req, key, ran);
    if (!sourceLost) return null;
    // Its result is only where it ran (a server that died, say): the client hears that the outcome
    // is unknown, and that server's log gets the key (its replay copies the other groups' value).
    this.missed(ran.group, req, ran.to);
    return R.OUTCOME_UNKNOWN;
  }

  /**
   * The phase went out of date while a read-modify-write ran: once it is current, the groups follow
   * by the phase now if the server it ran on still owns the key in its group; if not (the group's
   * owner changed meanwhile), it is taken back there and the client gets SERVER_ERROR.
   */
  async #refollow(req: Request, key: Buffer, ran: { group: number; to: Backend }): Promise<Buffer | null> {
    if (!(await this.#whenCurrent())) return R.MIGRATION_BUSY;
    if (this.ownerIn(ran.group, key) !== ran.to) {
      await BackendMeta.of(ran.to).md(Buffer.from(key), '').catch(() => undefined);
      return R.MIGRATION_BUSY;
    }
    return this.follow(req, key, ran, this.#followers(key, ran.group), this.#shadowsOf(key, false) ?? NO_SHADOWS);
  }
}

/**
 * The route of a pool with replica groups (the Dispatcher's, per pool): its requests go to the
 * groups; a key of it in a get whose keys span pools is read where the plain route reads it (the
 * first group's owner on the pool's ring).
 */
export class ReplicatedRoute implements PoolRoute {
  constructor(
    readonly groups: ReplicaGroups,
    readonly plain: PoolRoute,
  ) {}

  dispatch(req: Request, owner: SlotOwner): Slot {
    return this.groups.dispatch(req, owner);
  }

  readOwner(key: Buffer): Backend {
    return this.plain.readOwner(key);
  }
}
