/**
 * A pool's data path, one per pool (the Dispatcher holds them): the plain one below, a replicated
 * pool's (src/replication: ReplicatedRoute) or a migrating pool's (src/migration: MigrationRoute,
 * DeadOwnerRoute). The Dispatcher hands a route the requests whose keys are all in its pool.
 */
import type { Backend } from '../backend/index.js';
import type { Request } from '../protocol/index.js';
import type { Ring } from '../routing/index.js';
import { forward } from './forward.js';
import type { Slot, SlotOwner } from './reply-slots.js';
import type { ProxyStats } from './stats.js';

export interface PoolRoute {
  /** Sends a request whose keys are all in the pool; the slot answers the client. */
  dispatch(req: Request, owner: SlotOwner): Slot;
  /** Where a plain read of `key` goes now (a multi-key get whose keys span pools). */
  readOwner(key: Buffer): Backend;
}

/** A pool with one group and no migration: each key to its server on the pool's ring. */
export class PlainRoute implements PoolRoute {
  readonly #backendFor = (key: Buffer): Backend => this.backends[this.ring.ownerOf(key)]!;

  constructor(
    /** In ring order. */
    readonly backends: readonly Backend[],
    readonly ring: Ring,
    readonly stats: ProxyStats,
  ) {}

  dispatch(req: Request, owner: SlotOwner): Slot {
    return forward(req, owner, this.stats, this.#backendFor);
  }

  readOwner(key: Buffer): Backend {
    return this.backends[this.ring.ownerOf(key)]!;
  }
}
