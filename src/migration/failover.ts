/**
 * Passive migration (`failover_after`): a server that stays down that long has its arcs moved to the
 * other servers of its group (of its pool, for a pool without replica groups), by the same phase
 * machine and jobs as an operator's migration (index.ts, with failoverSpace or plainFailoverSpace
 * from space.ts): copied from a healthy replica group, or, without one, started empty.
 *
 *   every poll, while this pool runs no failover here:
 *     read the pool's record ─► a failover record ─► join it (build its space, route by its phase)
 *                           └► no record running ─► a server down ≥ failover_after (this sidecar's
 *                                                   view) ─► start one: its Migration publishes the
 *                                                   record once it holds the lease
 *
 * Only the published record moves keys: every sidecar routes by it, never by its own view of
 * health, so they switch together. The id names the group and the server, so sidecars that decide
 * at the same time start the same migration. A done failover keeps its record (the lease holder
 * re-publishes it), and a sidecar that starts later joins it in `done`: the server stays out of its
 * group's ring until the operator removes it from the config (the log says so). One failover per
 * pool: while one is on record, another dead server of the pool waits (logged).
 */
import type { Backend } from '../backend/index.js';
import type { MigrationConfig, PoolConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { isActive } from './phases.js';
import { Migration } from './index.js';
import { RecordStore, type MigrationRecord } from './record.js';
import type { FailoverSpec, MigrationSpace } from './space.js';
import { sleep } from '../backend/clock.js';


export const failoverId = (s: FailoverSpec): string => `failover-${s.group}-${s.server}`.replace(/[^A-Za-z0-9_.-]/g, '_');

export class FailoverWatch {
  /** The failover this sidecar runs or follows, once there is one. */
  migration: Migration | null = null;
  readonly #downSince = new Map<Backend, number>();
  readonly #store: RecordStore;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  #waiting: string | null = null;

  constructor(
    readonly pool: PoolConfig,
    /** The pool's backends per group, in ring order (now: a reload may change them). */
    readonly backends: () => readonly (readonly Backend[])[],
    /** What moves for a failover, and how moved keys are routed (space.ts). */
    readonly spaceFor: (spec: FailoverSpec) => MigrationSpace,
    readonly logger: Logger,
    /** Called once a failover exists here (to mark the dead server's failed-write log, route the pool). */
    readonly onMigration: (m: Migration, spec: FailoverSpec) => void,
    readonly pollMs = 500,
  ) {
    // An id no record has: every record of the pool reads as another migration's.
    this.#store = new RecordStore(pool.name, '', backends().flat());
  }

  /** Joins a failover already on record (before the listeners open), then watches. */
  async start(): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && !this.#closed) {
      const r = await this.#store.read();
      if (r.mine !== undefined) {
        if (r.other?.failover !== undefined && this.#applies(r.other.failover)) await this.#join(r.other.failover, r.other.id);
        break;
      }
      await sleep(200);
    }
    const loop = async (): Promise<void> => {
      if (this.#closed) return;
      try {
        await this.#tick();
      } catch (err) {
        this.logger.error({ pool: this.pool.name, err: (err as Error).message }, 'failover watch failed');
      }
      // Until this sidecar's failover is on record (another may be instead); then its Migration polls.
      if (!this.#closed && (this.migration === null || this.migration.record === null)) this.#timer = setTimeout(() => void loop(), this.pollMs).unref();
    };
    this.#timer = setTimeout(() => void loop(), this.pollMs).unref();
  }

  /**
   * A failover record still applies while its server is in the pool's config; once the operator
   * removed it (as the log asks), the record is history and the ring is the config's. So it is once
   * the config has a migration whose `from` leaves the server out of its group: the operator wrote
   * it knowing the server was out (bringing it back in, say), and the migration's ring rules.
   */
  #applies(spec: FailoverSpec): boolean {
    const inGroup = (groups: PoolConfig['groups']): boolean => groups.some((g) => g.name === spec.group && g.servers.some((s) => s.address === spec.server));
    const from = this.pool.migration?.from;
    return inGroup(this.pool.groups) && (from === undefined || inGroup(from));
  }

  async #tick(): Promise<void> {
    // Two sidecars that decided on different servers at once: the one whose failover is not on
    // record drops it and joins the one that is (sidecars follow the record, not their own view).
    const own = this.migration;
    if (own !== null) {
      if (own.record !== null || own.blockedBy === null) return;
      this.logger.warn({ pool: this.pool.name, id: own.id, running: own.blockedBy }, 'another failover of this pool is on record; following it instead');
      this.migration = null;
      await own.close();
    }
    const now = performance.now();
    for (const b of this.backends().flat()) {
      if (b.state === 'up') this.#downSince.delete(b);
      else if (!this.#downSince.has(b)) this.#downSince.set(b, now);
    }
    const { mine, other } = await this.#store.read();
    if (mine === undefined) return; // no server answered: ask again
    if (other?.failover !== undefined && this.#applies(other.failover)) return this.#join(other.failover, other.id);
    const down = [...this.#downSince].filter(([, t]) => now - t >= this.pool.failoverAfterMs!).sort((a, b) => a[1] - b[1])[0];
    if (down === undefined) return;
    if (other !== null && isActive(other)) return this.#wait(other, down[0]);
    const g = this.backends().findIndex((servers) => servers.includes(down[0]));
    const spec: FailoverSpec = { group: this.pool.groups[g]!.name, server: down[0].address };
    this.logger.warn({ pool: this.pool.name, group: spec.group, backend: spec.server, down_s: Math.round((now - down[1]) / 1000) }, `backend ${spec.server} down longer than failover_after: migrating its keys to the rest of group ${spec.group}`);
    await this.#join(spec, failoverId(spec));
  }

  #wait(other: MigrationRecord, b: Backend): void {
    if (this.#waiting === other.id) return;
    this.#waiting = other.id;
    this.logger.error({ pool: this.pool.name, backend: b.address, running: other.id }, `backend ${b.address} is down, but pool ${this.pool.name} has migration "${other.id}" running: its failover waits`);
  }

  async #join(spec: FailoverSpec, id: string): Promise<void> {
    if (this.#closed) return;
    const space = this.spaceFor(spec);
    const m: MigrationConfig = {
      id,
      from: this.pool.groups.map((g) => ({ name: g.name, servers: g.servers })),
      copy: 'eager',
      rateKeysPerSec: this.pool.resync.rateKeysPerSec,
      startAt: null,
      settleMs: this.pool.failoverSettleMs,
      // The old owner is gone: there is nothing to clean up on it.
      cleanup: false,
    };
    const migration = new Migration(this.pool, space, this.logger, this.pollMs, m);
    this.migration = migration;
    this.onMigration(migration, spec);
    await migration.start();
    if (this.#closed) await migration.close();
    if (migration.record?.phase === 'done') {
      this.logger.warn({ pool: this.pool.name, group: spec.group, backend: spec.server, id }, `backend ${spec.server} was failed over (${id}): it is out of group ${spec.group}'s ring; remove it from the config (or add it back with a migration)`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.migration?.close();
  }
}
