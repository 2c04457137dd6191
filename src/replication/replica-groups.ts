/**
 * The data path of a pool with replica groups (DESIGN: the Replicated target).
 *
 * Reads try the groups in the read policy's order (read-failover.ts). Writes:
 * - set, delete, touch, meta set (plain set mode, no CAS) and meta delete fan out
 *   to every group, answered by the `write` policy (write-fanout.ts);
 * - commands whose result depends on what a group already holds (add, replace,
 *   cas, incr/decr, append/prepend, meta arithmetic, meta set with a mode or a
 *   CAS) run on ONE group, the first healthy one in order (the primary unless it
 *   is TKO), and the client gets that group's reply. The others then follow it,
 *   so the groups cannot drift apart: when the command stored a value memshift
 *   knows (add, replace, cas), the same value is `set` on the other groups; when
 *   the result is only on the backend (incr/decr, append/prepend, ma), the other
 *   groups drop the key (`delete`), so none of them can serve a value that missed
 *   the operation (their next read misses, or fails over with errors_and_misses).
 * - gets/gats read from the same first healthy group, so a CAS token always
 *   belongs to the group a later `cas` runs on.
 * Every write a group missed is reported to `missed` for the failed-write log.
 */
import { Cmd, ReplyKind, fansOut, followUp, hasFlag, type Request } from '../protocol/index.js';
import { sendRequest } from '../proxy/send-request.js';
import { Op, type Backend, type OpHandler } from '../backend/index.js';
import type { PoolConfig } from '../config/types.js';
import type { Router } from '../routing/index.js';
import { KeyedSlot, type Slot, type SlotOwner } from '../proxy/reply-slots.js';
import type { ProxyStats } from '../proxy/stats.js';
import { FanoutWriteSlot, replyRank, type MissedWrite } from './write-fanout.js';
import { FailoverMultiGetSlot, FailoverReadSlot, type GroupReader } from './read-failover.js';

export class ReplicaGroups {
  readonly #groups: number;
  readonly #localIndex: number;
  /** Backends being recovered (replay or rebuild, recovery.ts): they serve no reads until it is done. */
  held: ReadonlySet<Backend> = new Set();

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

  ownerIn(group: number, key: Buffer): Backend {
    return this.backends[group]![this.router.groupRing(this.poolIndex, group).ownerOf(key)]!;
  }


  /** Group order for a read of `key`: the policy's first choice, the rest in order, TKO owners last. */
  readOrder(key: Buffer, forCas: boolean): number[] {
    const all = Array.from({ length: this.#groups }, (_, i) => i);
    let order = all;
    if (!forCas && this.pool.read === 'local') order = [this.#localIndex, ...all.filter((g) => g !== this.#localIndex)];
    else if (!forCas && this.pool.read === 'fastest') {
      const latency = (g: number): number => this.ownerIn(g, key).connections[0]!.latencyMs || Number.MAX_VALUE;
      order = [...all].sort((a, b) => latency(a) - latency(b));
    }
    const up = order.filter((g) => this.#readable(this.ownerIn(g, key)));
    return up.length === order.length ? order : [...up, ...order.filter((g) => !up.includes(g))];
  }

  #readable(b: Backend): boolean {
    return b.state === 'up' && !this.held.has(b);
  }

  /** Owners of `key` in the groups other than `group`, in read order, that can serve a read. */
  sourcesFor(group: number, key: Buffer): Backend[] {
    return this.readOrder(key, true)
      .filter((g) => g !== group)
      .map((g) => this.ownerIn(g, key))
      .filter((b) => this.#readable(b));
  }

  dispatch(req: Request, owner: SlotOwner): Slot {
    const key = req.hashKey ?? req.keys[0]!;
    const cmd = req.cmd;
    const failoverOnMisses = this.pool.readFailover === 'errors_and_misses';
    if (cmd <= Cmd.Gats || cmd === Cmd.MetaGet || cmd === Cmd.MetaDebug) {
      const forCas = cmd === Cmd.Gets || cmd === Cmd.Gats || (cmd === Cmd.MetaGet && hasFlag(req, 0x63));
      const reader = this.#reader(this.readOrder(key, forCas));
      if (req.keys.length > 1) return new FailoverMultiGetSlot(owner, req, this.stats, reader, failoverOnMisses).start();
      return new FailoverReadSlot(owner, req, this.stats, reader, failoverOnMisses).start();
    }
    if (fansOut(req)) {
      const slot = new FanoutWriteSlot(owner, req, this.stats, this.#groups, this.pool.write, this.missed);
      for (let g = 0; g < this.#groups; g++) {
        const refused = sendRequest(this.ownerIn(g, key), req, null, slot, g);
        if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Line, g), refused);
      }
      return slot;
    }
    return this.#onPrimary(req, owner, key);
  }

  #reader(order: number[]): GroupReader {
    return {
      order,
      ownerIn: (group, key) => this.ownerIn(group, key),
      send: sendRequest,
    };
  }

  /** Run on the first healthy group; the others follow with a set of the same value, or a delete. */
  #onPrimary(req: Request, owner: SlotOwner, key: Buffer): Slot {
    const order = this.readOrder(key, true);
    const primary = order[0]!;
    const follow = (reply: Buffer): void => {
      if (replyRank(reply) !== 1) return;
      const copy = followUp(req);
      for (const g of order.slice(1)) {
        const handler = backgroundWrite(this.missed, g, copy);
        if (sendRequest(this.ownerIn(g, key), copy, null, handler, g) !== null) this.missed(g, copy);
      }
    };
    const slot = new KeyedSlot(owner, req, this.stats, false, follow);
    const refused = sendRequest(this.ownerIn(primary, key), req, null, slot, primary);
    if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Line, primary), refused);
    return slot;
  }
}

function backgroundWrite(missed: MissedWrite, group: number, req: Request): OpHandler {
  return {
    onOpReply: (_op, reply) => {
      if (replyRank(reply) === 3) missed(group, req);
    },
    onOpError: () => missed(group, req),
  };
}
