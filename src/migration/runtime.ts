/**
 * One pool's migration in this process: it reads the shared record every `pollMs`, routes by the
 * record's phase (route.ts), and, while it holds the lease, drives the phase machine (phases.ts)
 * and runs the background jobs (jobs.ts). Every sidecar runs the same code; exactly one of them
 * holds the lease at a time, and another takes over when it dies (the lease lapses).
 *
 *   every poll:  read record ─► adopt a higher seq ─► route.mode = routeMode(phase) ─► view confirmed
 *   leader:      renew lease ─► start (when due) ─► tick (settle) ─► the phase's job ─► publish
 *
 * Both run every `pollMs` (at most `settle`/4), on their own timers: a slow lease server does not
 * delay the reads. A view not confirmed for a little under `settle` holds moved keys (phase-view.ts).
 */
import { hostname } from 'node:os';
import type { DiscoveredMove, MigrationConfig, MigrationSettings, PoolConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { LeaderJobs } from './leader-jobs.js';
import { leaderIntervalMs } from './estimate.js';
import { processHistory, resultLine, resultOf, withSwitch, type MigrationKind, type MigrationResult } from './history.js';
import { appendHistory, backendItems } from './history-store.js';
import { PhaseError, initialState, isActive, isFinished, next, routeMode, type Phase, type PhaseEvent } from './phases.js';
import { PhaseView } from './phase-view.js';
import { Lease, RecordStore, emptyCounts, maxCounts, type MigrationRecord } from './record.js';
import { recordName, type MigrationSpace, type MoveRoute } from './space.js';
import { statusOf, type MigrationStatus } from './status.js';
import { sleep } from '../backend/clock.js';

const INSTANCE = `${hostname()}:${process.pid}`;
/**
 * Migrations made in this process so far: each takes the lease under its own holder name, so one a
 * reload replaced (same id, same process) can neither renew nor delete the lease its successor holds.
 */
let made = 0;
/** Test hook: shifts this process's clock (MEMSHIFT_CLOCK_SKEW_MS) to show skew does not matter. */
const SKEW = Number(process.env.MEMSHIFT_CLOCK_SKEW_MS ?? 0) || 0;
const now = (): number => Date.now() + SKEW;
/**
 * How long a read before a publish waits for slow servers (the usual read gives up sooner): what is
 * published replaces the record everywhere, so it must start from the latest counts.
 */
const WRITER_READ_MS = 5_000;

export class Migration {
  readonly route: MoveRoute;
  record: MigrationRecord | null = null;
  readonly #store: RecordStore;
  readonly #lease: Lease;
  #job: { phase: Phase; abort: AbortController; ended: Promise<unknown> } | null = null;
  #lastPublish = 0;
  readonly #timers: NodeJS.Timeout[] = [];
  #closed = false;
  /** How often the record is read and the leader works: `pollMs`, or `settle`/4 when shorter (50 ms at least). */
  readonly #every: number;
  readonly #view: PhaseView;
  /** How long a read waits for the record servers (a hung one must not outlast the view). */
  readonly #readWait: number;

  /**
   * `m` is the pool's `migration:` block, a route's (then `pool` is the route's pool), or one a
   * failover made up (failover.ts); `space` says what moves, where the copy reads from and how
   * moved keys are routed (space.ts).
   */
  constructor(
    readonly pool: PoolConfig,
    readonly space: MigrationSpace,
    readonly logger: Logger,
    readonly pollMs = 500,
    m: MigrationSettings = pool.migration!,
    /**
     * false: this process never takes the lease; it follows the record (routes by its phase) and
     * runs no job. A worker other than worker 0 of `workers: N` (app/cluster): worker 0 leads for
     * the process group, so a migration has one copier per sidecar at most, as with one process.
     */
    readonly mayLead = true,
  ) {
    this.#m = m;
    this.route = space.route;
    this.#every = leaderIntervalMs(pollMs, m.settleMs);
    // A view is good for `settle` less one read interval (the overlap covers requests in flight).
    const valid = m.settleMs > 0 ? Math.max(m.settleMs - this.#every, m.settleMs / 2) : 0;
    this.#readWait = valid > 0 ? valid / 2 : Infinity;
    this.#view = new PhaseView(this.route, valid, (age) =>
      logger.warn({ pool: pool.name, id: m.id, ageMs: Math.round(age) }, 'migration record not read for too long: requests for moved keys wait until it is'),
    );
    const name = recordName(pool.name, space.prefixMove);
    this.#store = new RecordStore(name, m.id, space.recordServers);
    made++;
    this.#lease = new Lease(name, space.leaseServer, `${INSTANCE}:${m.id}${made > 1 ? `#${made}` : ''}`);
    this.#jobs = new LeaderJobs({
      pool,
      space,
      logger,
      config: m,
      every: this.#every,
      record: () => this.record!,
      count: (change) => {
        this.record = { ...this.record!, counts: change(this.record!.counts) };
      },
      progress: (p) => {
        this.record = { ...this.record!, progress: p };
      },
      apply: (e) => this.apply(e),
      publish: (r) => this.#publish(r),
    });
  }

  readonly #jobs: LeaderJobs;

  readonly #m: MigrationSettings;

  /** The rings of an autopilot migration (its block's), kept in its record. */
  get #discovered(): DiscoveredMove | undefined {
    return 'discovered' in this.#m ? (this.#m as MigrationConfig).discovered : undefined;
  }

  get id(): string {
    return this.#m.id;
  }

  /** The migration block it runs (a reload keeps the migration while its block stays the same). */
  get config(): MigrationSettings {
    return this.#m;
  }

  /** Reads the record once (before the listeners open), then polls. */
  async start(): Promise<void> {
    // Join in the right phase: wait (up to 10 s) until some server has answered whether a record exists.
    const deadline = Date.now() + 10_000;
    while (!(await Promise.race([this.#poll(), sleep(3_000).then(() => false)])) && Date.now() < deadline) await sleep(200);
    if (!this.#answered) {
      this.logger.error({ pool: this.pool.name, id: this.#m.id }, 'no server answered for the migration record; requests for moved keys wait until one does');
      this.#view.unconfirmed();
    }
    this.#repeat(async () => {
      await this.#poll();
      // A cutover normally ends after `settle`; held requests do not wait forever.
      this.route.expireHeld(2 * this.#m.settleMs + 10_000);
    });
    this.#repeat(() => this.#lead());
  }

  /** Runs `work` every interval, each run after the previous one ended, until close. */
  #repeat(work: () => Promise<void>): void {
    const slot = this.#timers.length;
    const loop = async (): Promise<void> => {
      if (this.#closed) return;
      await work().catch((err: unknown) => this.logger.error({ pool: this.pool.name, err: (err as Error).message }, 'migration loop failed'));
      if (!this.#closed) this.#timers[slot] = setTimeout(() => void loop(), this.#every);
    };
    this.#timers.push(setTimeout(() => void loop(), this.#every));
  }

  get running(): boolean {
    return this.record !== null && isActive(this.record);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const t of this.#timers) clearTimeout(t);
    this.#view.close();
    const job = this.#job;
    job?.abort.abort();
    // Its batches in flight still count as they end: wait for them (2 s at most), so the publish
    // below carries every count this sidecar has shown.
    if (job !== null) await Promise.race([job.ended, sleep(2_000)]);
    // Stopped mid-migration (memshift stopping, or a reload that dropped it): say which, and where it was.
    const r = this.record;
    if (r !== null && isActive(r)) {
      const leads = this.#lease.held;
      this.logger.warn(
        { pool: this.pool.name, id: r.id, kind: this.kind, phase: r.phase, paused: r.paused, leader: leads },
        `leaving migration ${r.id} of pool ${this.pool.name} in phase ${r.phase}${r.paused ? ' (paused)' : ''}: it goes on in the other sidecars${leads ? '; this sidecar led it, another takes over its lease' : ''}`,
      );
    }
    // A leader that stops publishes what it counted since its last publish, so the next leader (or
    // this sidecar started again) goes on from there: counts never go back.
    if (this.#lease.fresh() && this.record !== null && isActive(this.record)) await this.#publish({ ...this.record, seq: this.record.seq + 1 }).catch(() => {});
    // Only while it is still this instance's (a successor's, under another holder name, stays).
    await this.#lease.release().catch(() => {});
    // Requests it holds fail now rather than wait for a poll that will not come; its retries stop.
    this.route.close();
  }

  /** performance.now() when this process first saw the current phase (the record's `since`). */
  #seenAt = 0;

  /**
   * `sentAt`: performance.now() when the read that returned `r` was sent (or this process published
   * it). The leader published a phase before any read of it was sent, and switches `settle` after
   * it began to publish; a sidecar whose view is current read its phase less than `settle` ago. So
   * `settle` after this sidecar's first read of cutover was sent, no sidecar with a current view is
   * still in verify, running read-modify-writes on the old owner: they run on the new one from then
   * (PhasedRoute.rmwFrom), instead of waiting for the next phase's record to be read.
   */
  #adopt(r: MigrationRecord, sentAt: number): void {
    const before = this.record?.phase;
    const wasReady = this.record !== null && isFinished(this.record);
    if (this.record === null || this.record.since !== r.since || this.record.phase !== r.phase) this.#seenAt = performance.now();
    // This process's counts may be ahead of the record's (the leader counts before it publishes).
    // So may its progress, when it runs the job.
    this.record = this.record === null ? r : { ...r, counts: maxCounts(r.counts, this.record.counts), progress: this.#job === null ? r.progress : this.record.progress };
    if (r.phase === 'cutover' && before !== 'cutover') this.route.rmwFrom = sentAt + this.#m.settleMs;
    this.route.mode = routeMode(r);
    // The result is kept (and logged, with the phase switch when it is one) once, when it is known.
    const result = !wasReady && isFinished(this.record) ? this.result(this.record) : null;
    const kept = result !== null && processHistory.finished(result);
    const fields = { pool: this.pool.name, id: r.id, kind: this.kind, ...(kept ? { result } : {}) };
    if (before !== r.phase) this.logger.info({ ...fields, from: before ?? null, to: r.phase, seq: r.seq }, `migration ${r.id}: ${r.phase}${kept ? `: ${resultLine(result)}` : ''}`);
    else if (kept) this.logger.info(fields, `migration ${r.id}: ${r.phase} (rolled back): ${resultLine(result)}`);
  }

  /** What the history calls this migration: a route's, a failover's, or an operator's (of a pool's servers). */
  get kind(): MigrationKind {
    return this.space.prefixMove !== undefined ? 'route' : this.space.failover === undefined ? 'planned' : 'passive';
  }

  /** The result of the finished record `r` (history.ts). */
  result(r: MigrationRecord): MigrationResult {
    const name = (group: string | undefined, address: string): string => (group === undefined ? address : `${group}/${address}`);
    const parts = this.space.parts;
    return resultOf(
      r,
      this.kind,
      parts.flatMap((p) => p.arcs.oldServers.map((s) => name(p.group, s.address))),
      parts.flatMap((p) => p.arcs.newServers.map((s) => name(p.group, s.address))),
    );
  }

  /** The phase this process routes by was current at `at` (performance.now()); a finished migration needs no guard. */
  #confirm(at: number): void {
    const r = this.record;
    this.#view.confirmed(at, r === null || r.phase === 'planned' || isActive(r));
  }

  /** Some server has answered a record read (with or without a record). */
  #answered = false;

  /** Reads the record; true when some server answered. */
  async #poll(waitMs = this.#readWait): Promise<boolean> {
    const sentAt = performance.now();
    const { mine: r, other } = await this.#store.read(waitMs);
    if (r !== undefined) this.#answered = true;
    if (r && (this.record === null || r.seq > this.record.seq)) this.#adopt(r, sentAt);
    // An older record may still carry larger counts (a new leader published before it read the last ones).
    else if (r && this.record !== null) this.record = { ...this.record, counts: maxCounts(this.record.counts, r.counts) };
    // A record of ours (any seq) confirms the phase; so does no record while none was ever seen.
    if (r !== undefined && (r !== null || this.record === null)) this.#confirm(sentAt);
    const blocking = other !== null && isActive(other) && this.record === null ? other.id : null;
    if (blocking !== this.blockedBy && blocking !== null) {
      this.logger.error({ pool: this.pool.name, id: this.#m.id, running: blocking }, `pool ${this.pool.name} already has migration "${blocking}" running; "${this.#m.id}" waits until it ends`);
    }
    this.blockedBy = blocking;
    return r !== undefined;
  }

  /** The id of another migration of this pool that is running (this one does not start meanwhile). */
  blockedBy: string | null = null;

  /** Applies an event to the record and publishes it (any sidecar may: pause, resume, abort, start). */
  async apply(event: PhaseEvent): Promise<MigrationRecord> {
    await this.#poll(WRITER_READ_MS);
    if (this.blockedBy !== null) throw new PhaseError(`pool ${this.pool.name} already has migration "${this.blockedBy}" running`);
    const base = this.record ?? this.#fresh();
    let changed = next(base, event, now(), this.#m.settleMs);
    // An operator's action must not lose to the leader's concurrent re-publish of seq + 1.
    if (changed !== base && event.type !== 'copied' && event.type !== 'verified' && event.type !== 'cleaned') changed = { ...changed, seq: base.seq + 1_000 };
    if (changed !== base) await this.#publish(changed);
    return this.record!;
  }

  #fresh(): MigrationRecord {
    const failover = this.space.failover === undefined ? {} : { failover: this.space.failover };
    const route = this.space.prefixMove === undefined ? {} : { route: this.space.prefixMove };
    const discovered = this.#discovered === undefined ? {} : { discovered: this.#discovered };
    return { ...initialState(this.#m.id, this.#m.copy, this.#m.cleanup, now()), pool: this.pool.name, counts: emptyCounts(), verify: null, leader: null, updatedAt: now(), ...failover, ...route, ...discovered };
  }

  async #publish(r: MigrationRecord): Promise<void> {
    // Made from a record older than the one this process has now (a poll adopted an operator's action meanwhile).
    if (this.record !== null && r.seq < this.record.seq) return;
    const before = this.record;
    const counts = maxCounts(before === null ? r.counts : maxCounts(r.counts, before.counts), { backfilled: this.route.counters.backfilled });
    const rec = withSwitch(before, { ...r, counts, updatedAt: now() }, now());
    const at = performance.now();
    this.#adopt(rec, at);
    this.#confirm(at);
    this.#lastPublish = Date.now();
    const stored = await this.#store.publish(rec);
    if (stored === 0) this.logger.warn({ pool: this.pool.name, id: rec.id }, 'migration record not stored on any server');
    // Whoever publishes the end keeps the result in the pool's history (history.ts), with what this
    // process knows that the servers may have lost.
    if (isFinished(rec) && (before === null || !isFinished(before))) {
      const kept = await appendHistory(this.space.recordServers.map(backendItems), this.pool.name, [this.result(rec), ...processHistory.list(this.pool.name)]);
      if (kept === 0) this.logger.warn({ pool: this.pool.name, id: rec.id }, 'migration result not stored in the history on any server (this sidecar keeps it)');
    }
  }

  /** Publishes the record this process has again (a finished failover's, evicted from every server). */
  republish(): Promise<void> {
    return this.record === null ? Promise.resolve() : this.#publish({ ...this.record, seq: this.record.seq + 1 });
  }

  async #lead(): Promise<void> {
    if (!this.mayLead) return;
    // A finished failover or autopilot migration needs no leader: the pool's next one takes the lease
    // (failover.ts; src/discovery), whichever sidecar sees the next change first.
    const passes = this.space.failover !== undefined || this.#discovered !== undefined;
    if (passes && this.record !== null && isFinished(this.record)) return this.#lease.held ? this.#lease.release() : undefined;
    if (!(await this.#lease.acquire())) {
      if (this.#job !== null) {
        if (!this.#job.abort.signal.aborted) this.logger.warn({ pool: this.pool.name, id: this.#m.id, phase: this.#job.phase }, 'migration lease held by another sidecar: the background job stops');
        this.#job.abort.abort();
        this.#job = null;
      }
      return;
    }
    let r = this.record;
    if (r === null) {
      if (this.blockedBy !== null) return;
      // An autopilot migration is on record from the start, planned: every sidecar follows its rings
      // (one that started later too), and the operator starts it from any of them.
      if (!this.#due()) return this.#discovered === undefined ? undefined : this.#publish({ ...this.#fresh(), leader: this.#lease.holder });
      r = next(this.#fresh(), { type: 'start' }, now(), this.#m.settleMs);
      await this.#publish({ ...r, leader: this.#lease.holder });
      return;
    }
    if (r.leader !== this.#lease.holder) {
      // Taking over: read the record once more first, for the counts the last leader published as it let go.
      await this.#poll(WRITER_READ_MS);
      r = this.record!;
      await this.#publish({ ...r, leader: this.#lease.holder, seq: r.seq + 1 });
    }
    if (r.phase === 'planned' && !r.paused && this.#due()) return this.apply({ type: 'start' }).then(() => {});
    // `settle` also on this process's own monotonic clock, from when it first saw this record: a
    // leader whose clock runs ahead of the one that wrote `since` must not cut the overlap short.
    if (performance.now() - this.#seenAt >= this.#m.settleMs) {
      const ticked = next(this.record!, { type: 'tick' }, now(), this.#m.settleMs);
      if (ticked !== this.record) await this.#publish(ticked);
    }
    this.#ensureJob();
    // Every few seconds (a cache may evict the record); every second while a job runs, for every sidecar's progress bar.
    if (Date.now() - this.#lastPublish > (this.#job === null ? 3_000 : 1_000)) await this.#publish({ ...this.record!, seq: this.record!.seq + 1 });
  }

  /**
   * The leader starts the migration by itself: `start: now`, or its `start:` time has come. A block
   * without `start:` waits for an operator's `migrate start` (apply({type: 'start'}), any sidecar).
   */
  #due(): boolean {
    const at = this.#m.startAt;
    return at === 'now' || (typeof at === 'number' && now() >= at);
  }

  /** Starts the job of the current phase when none runs; stops one that no longer fits. */
  #ensureJob(): void {
    const r = this.record!;
    // Cleanup (and a rollback's cleanup) waits `settle` into its phase: until every sidecar is in it,
    // some may still sync writes to the servers it is emptying.
    const settled = now() - r.since >= this.#m.settleMs;
    const lazyReconcile = r.phase === 'dual_write' && r.copy === 'lazy' && settled;
    const want: Phase | null = r.paused
      ? null
      : r.phase === 'copy' || r.phase === 'verify' || (r.phase === 'cleanup' && settled) || lazyReconcile || (r.phase === 'aborted' && r.rolledBack && r.times.cleanupEnd === null && settled)
        ? r.phase
        : null;
    if (this.#job !== null) {
      const fits = !r.paused && (want === this.#job.phase || (this.#job.phase === 'copy' && (r.phase === 'dual_read' || r.phase === 'verify')));
      if (fits) return;
      this.#job.abort.abort();
      this.#job = null;
    }
    if (want === null) return;
    const abort = new AbortController();
    const job = { phase: want, abort, ended: Promise.resolve() as Promise<unknown> };
    this.#job = job;
    const done = (): void => {
      if (this.#job !== job) return;
      this.#job = null;
      this.record = { ...this.record!, progress: null };
    };
    // The fence: a leader that stood still past its lease's TTL may have lost it without knowing (its
    // next acquire would say so); no step of its job writes once the lease is not surely held.
    const fence = (): boolean => {
      if (this.#lease.fresh()) return true;
      if (!abort.signal.aborted) this.logger.warn({ pool: this.pool.name, id: this.#m.id, phase: want }, 'migration lease not surely held: the background job stops before its next write');
      abort.abort();
      return false;
    };
    const jobs = this.#jobs;
    const run =
      want === 'cleanup'
        ? jobs.cleanup(abort.signal, fence, 'old', now)
        : want === 'aborted'
          ? jobs.cleanup(abort.signal, fence, 'new', now)
          : want === 'dual_write'
            ? jobs.reconcile(abort.signal, fence)
            : jobs.copyVerify(want === 'copy', abort.signal, fence);
    job.ended = run.catch(() => undefined);
    void run
      .catch(async (err: unknown) => {
        this.logger.error({ pool: this.pool.name, phase: want, err: (err as Error).message }, 'migration job failed; retrying');
        await sleep(1_000);
      })
      .finally(done);
  }

  status(): MigrationStatus {
    return statusOf({
      pool: this.pool.name,
      id: this.#m.id,
      record: this.record,
      leads: this.#lease.held,
      blockedBy: this.blockedBy,
      startAt: this.#m.startAt,
      now: now(),
      space: this.space,
      route: this.route.counters,
    });
  }
}
