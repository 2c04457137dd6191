/**
 * Passive migration (`failover_after`): a server that stays down that long has its arcs moved to the
 * other servers of its group (of its pool, for a pool without replica groups), by the same phase
 * machine and jobs as an operator's migration (runtime.ts, with failoverSpace or plainFailoverSpace
 * from space.ts): copied from a healthy replica group, or, without one, started empty.
 *
 *   every poll, while no failover of this pool runs here:
 *     read the pool's record ─► a failover record not joined yet ─► join it (build its space, route by its phase)
 *                           ├► none (evicted everywhere), ours finished ─► publish ours again
 *                           └► no record running ─► a server in the ring down ≥ failover_after (this
 *                                                   sidecar's view) ─► start one: its Migration
 *                                                   publishes the record once it holds the lease
 *
 * Only the published record moves keys: every sidecar routes by it, never by its own view of
 * health, so they switch together. The id names the group and the server (and, after the first,
 * how many servers the pool's failovers took out), so sidecars that decide at the same time start
 * the same migration. Failovers chain, one at a time: each record lists the servers earlier ones
 * took out (`out`), its rings start from the config's less those, and a finished one releases the
 * lease for the next. A sidecar that starts later joins the newest record and builds every ring
 * from it. The servers stay out until the operator removes them from the config (the log says so).
 * A failover the operator aborted is not started again for the same server while its record stands.
 */
import type { Backend } from '../backend/index.js';
import type { MigrationConfig, PoolConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { isActive, isFinished } from './phases.js';
import { Migration } from './runtime.js';
import { RecordStore, type MigrationRecord } from './record.js';
import type { FailedServer, FailoverSpec, MigrationSpace } from './space.js';
import { sleep } from '../backend/clock.js';

export const failoverId = (s: FailoverSpec): string => {
  const n = s.out?.length ?? 0;
  return `failover-${s.group}-${s.server}${n > 0 ? `-${n + 1}` : ''}`.replace(/[^A-Za-z0-9_.-]/g, '_');
};

/** The servers out of the ring once failover record `r` has run (its own server once it is done). */
export function outAfter(r: MigrationRecord | null): FailedServer[] {
  const f = r?.failover;
  if (f === undefined) return [];
  return [...(f.out ?? []), ...(r!.phase === 'done' ? [{ group: f.group, server: f.server }] : [])];
}

export class FailoverWatch {
  /** The newest failover this sidecar runs or follows, once there is one. */
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
    /** Called once a failover exists here (to mark the failed servers' write logs, route the pool). */
    readonly onMigration: (m: Migration, spec: FailoverSpec) => void,
    readonly pollMs = 500,
    /** false: the failovers it joins never take the lease (runtime.ts, Migration.mayLead). */
    readonly mayLead = true,
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
      if (!this.#closed) this.#timer = setTimeout(() => void loop(), this.pollMs).unref();
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
    const own = this.migration;
    if (own !== null) {
      if (own.record === null) {
        // Two sidecars that decided on different servers at once: the one whose failover is not on
        // record drops it and joins the one that is (sidecars follow the record, not their own view).
        if (own.blockedBy === null) return;
        this.logger.warn({ pool: this.pool.name, id: own.id, running: own.blockedBy }, 'another failover of this pool is on record; following it instead');
        this.migration = null;
        await own.close();
      } else if (!isFinished(own.record)) return; // its Migration polls the record
    }
    const now = performance.now();
    for (const b of this.backends().flat()) {
      if (b.state === 'up') this.#downSince.delete(b);
      else if (!this.#downSince.has(b)) this.#downSince.set(b, now);
    }
    const { mine, other } = await this.#store.read();
    if (mine === undefined) return; // no server answered: ask again
    const newest = other?.failover !== undefined && this.#applies(other.failover) ? other : null;
    if (newest !== null && newest.id !== this.migration?.id) return this.#join(newest.failover!, newest.id);
    // The record was evicted from every server: a finished failover's must stay (its servers stay out).
    if (other === null && own !== null && own === this.migration && own.record !== null) return own.republish();
    const out = outAfter(newest);
    // Servers out of the ring are not failed over again; nor is one whose failover the operator aborted.
    const skip = new Set([...out.map((o) => o.server), ...(newest?.phase === 'aborted' ? [newest.failover!.server] : [])]);
    const down = [...this.#downSince].filter(([b, t]) => !skip.has(b.address) && now - t >= this.pool.failoverAfterMs!).sort((a, b) => a[1] - b[1])[0];
    if (down === undefined) return;
    if (other !== null && isActive(other)) return this.#wait(other, down[0]);
    const g = this.backends().findIndex((servers) => servers.includes(down[0]));
    const spec: FailoverSpec = { group: this.pool.groups[g]!.name, server: down[0].address, ...(out.length > 0 ? { out } : {}) };
    this.logger.warn({ pool: this.pool.name, group: spec.group, backend: spec.server, down_s: Math.round((now - down[1]) / 1000), out: out.map((o) => o.server) }, `backend ${spec.server} down longer than failover_after: migrating its keys to the rest of group ${spec.group}`);
    await this.#join(spec, failoverId(spec));
  }

  #wait(other: MigrationRecord, b: Backend): void {
    if (this.#waiting === other.id) return;
    this.#waiting = other.id;
    this.logger.error({ pool: this.pool.name, backend: b.address, running: other.id }, `backend ${b.address} is down, but pool ${this.pool.name} has migration "${other.id}" running: its failover waits`);
  }

  async #join(spec: FailoverSpec, id: string): Promise<void> {
    if (this.#closed) return;
    // The previous failover is over: the next one's space takes over its routes (and rings).
    const prev = this.migration;
    this.migration = null;
    await prev?.close();
    const space = this.spaceFor(spec);
    const m: MigrationConfig = {
      id,
      from: this.pool.groups.map((g) => ({ name: g.name, servers: g.servers })),
      copy: 'eager',
      rateKeysPerSec: this.pool.resync.rateKeysPerSec,
      // A passive migration starts by itself: nobody is there to start it.
      startAt: 'now',
      settleMs: this.pool.failoverSettleMs,
      // The old owner is gone: there is nothing to clean up on it.
      cleanup: false,
    };
    const migration = new Migration(this.pool, space, this.logger, this.pollMs, m, this.mayLead);
    this.migration = migration;
    this.onMigration(migration, spec);
    await migration.start();
    if (this.#closed) await migration.close();
    if (migration.record?.phase === 'done') {
      const gone = outAfter(migration.record).map((o) => o.server);
      this.logger.warn({ pool: this.pool.name, group: spec.group, backend: spec.server, id, out: gone }, `backend ${spec.server} was failed over (${id}): ${gone.join(', ')} ${gone.length > 1 ? 'are' : 'is'} out of the ring; remove ${gone.length > 1 ? 'them' : 'it'} from the config (or add ${gone.length > 1 ? 'them' : 'it'} back with a migration)`);
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.migration?.close();
  }
}
