/**
 * The load watch of `autopilot.rebalance: suggest` (issue 16): how the load of a discovered pool is
 * spread over its servers, and the weights `memshift plan --rebalance` would propose to even it out.
 *
 *   every interval (the pool's discovery interval, default 10 s), per pool, one round:
 *     one `stats` to each server, on connections of its own (migration/server-stats.ts; never the
 *     clients' data path) ─► its load: items and bytes now, gets and sets per second since the
 *     round before (migration/rebalance.ts loadFromStats) ─► per replica group: each server's share
 *     of the load, the imbalance (max/mean − 1), the reweight proposal, and what one more server
 *     would leave (a discovered pool's servers all have weight 1: scaling out is how it acts)
 *
 * Bounded: a round waits for the one before it (a server has STATS_TIMEOUT_MS to answer), and the
 * proposal is searched a ring at a time, yielding to the event loop in between (reweightSteps). It
 * is searched again only when the servers or their weights changed, or a server's share of the load
 * moved by more than a tenth of the fair share (1/n) since: the suggestion does not follow noise.
 *
 * While a migration of the pool is not over (planned included) the load is not measured: the ring
 * changes under it and the copy's traffic counts as load. The rates start again after it.
 */
import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { PoolConfig, ServerSpec } from '../config/types.js';
import { DISCOVERY_DEFAULTS } from '../config/discovery-schema.js';
import type { Logger } from '../observability/logger.js';
import { addServer, imbalance, loadFromStats, loadRows, reweightSteps, type RebalanceProposal, type ServerLoad, type ServerLoadRow } from '../migration/rebalance.js';
import { StatsReader, type StatsAnswer } from '../migration/server-stats.js';

/** What the watch reads of the sidecar. */
export interface LoadHost {
  /** The pools that serve now, with their discovered servers filled in. */
  pools(): Iterable<PoolConfig>;
  /** The id of the pool's migration while it is not over (planned included); null when none is. */
  migrating(pool: string): string | null;
}

/** Where the stats come from (a StatsReader; tests give their own). */
export type StatsSource = Pick<StatsReader, 'read' | 'close'>;

export interface LoadServer extends ServerLoadRow {
  /** The weight the reweight proposes (its weight now when it keeps it); null without one. */
  readonly suggestedWeight: number | null;
  /** Why the server gave no stats in the last round; null when it did. */
  readonly error: string | null;
}

/** A proposal as GET /discovery shows it (without the moved arcs, one per pair of servers). */
export type LoadProposal = Omit<RebalanceProposal, 'moves' | 'loads'> & { readonly imbalance: number | null };

/** One group's load, as of its last round. */
export interface LoadReport {
  readonly pool: string;
  readonly group: string;
  readonly intervalMs: number;
  /** Unix ms of the round the figures come from; null before the first. */
  readonly sampledAt: number | null;
  /** Seconds the rates are measured over (since the round before); null without rates. */
  readonly seconds: number | null;
  readonly servers: readonly LoadServer[];
  /** max/mean − 1 of the servers' loads (0: even); null while a load is unknown. */
  readonly imbalance: number | null;
  /** New weights that even the load out, with the share of the keys they move and the imbalance they leave. */
  readonly reweight: LoadProposal | null;
  /** One more server (NEW:11211 on the ring: a new pod's own name moves other arcs, about as many). */
  readonly add: LoadProposal | null;
  /** Why there are no figures: measuring (the first round), a server without stats, a migration. */
  readonly note: string | null;
}

/** How long a server may take to connect and answer `stats`. */
export const STATS_TIMEOUT_MS = 2_000;
/** The longest the watch waits before it looks for a pool whose round is due. */
const TICK_MS = 1_000;
/** A proposal is searched again when a server's load share moved more than this part of the fair share (1/n). */
const RESEARCH_OF_FAIR_SHARE = 0.1;

interface Sample {
  readonly stats: ReadonlyMap<string, string>;
  /** performance.now() when it came. */
  readonly at: number;
}

interface PoolState {
  nextAt: number;
  readonly last: Map<string, Sample>;
  /** Each group's proposal, and the servers and loads it was searched for. */
  readonly searched: Map<string, { key: string; loads: readonly number[]; reweight: RebalanceProposal; add: RebalanceProposal }>;
  reports: LoadReport[];
  /** Servers whose stats fail now (logged when they start and when they stop). */
  readonly failing: Set<string>;
}

const serversKey = (servers: readonly ServerSpec[]): string => servers.map((s) => s.raw).join(',');

export class LoadWatch {
  readonly #pools = new Map<string, PoolState>();
  readonly #stats: StatsSource;
  /** performance.now(), unless a test gives its own. */
  readonly #clock: () => number;
  #host: LoadHost | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    readonly logger: Logger,
    opts: { stats?: StatsSource; clock?: () => number } = {},
  ) {
    this.#stats = opts.stats ?? new StatsReader(STATS_TIMEOUT_MS);
    this.#clock = opts.clock ?? (() => performance.now());
  }

  /** Starts the rounds: each pool with `rebalance: suggest` at once, then every interval. */
  start(host: LoadHost): void {
    this.attach(host);
    const run = (): void =>
      void this.tick()
        .catch((err: unknown) => this.logger.error({ err: (err as Error).message }, 'discovery: load watch round failed'))
        .finally(() => {
          if (!this.#closed) this.#timer = setTimeout(run, this.#untilDue()).unref();
        });
    run();
  }

  /** Until the next round is due, at most TICK_MS (a pool a reload adds is seen within it). */
  #untilDue(): number {
    const due = Math.min(...[...this.#pools.values()].map((p) => p.nextAt - this.#clock()));
    return Math.max(10, Math.min(TICK_MS, due));
  }

  /** Reads `host` from now on (start: and runs the rounds; a test runs them with tick). */
  attach(host: LoadHost): void {
    this.#host = host;
  }

  /** Runs the rounds that are due (every pool's with `force`); the pools that no longer suggest are forgotten. */
  async tick(force = false): Promise<void> {
    const host = this.#host;
    if (host === undefined) return;
    const pools = [...host.pools()].filter((p) => p.autopilot?.rebalance === 'suggest');
    for (const name of this.#pools.keys()) if (!pools.some((p) => p.name === name)) this.#pools.delete(name);
    for (const pool of pools) {
      if (this.#closed) return;
      let state = this.#pools.get(pool.name);
      if (state === undefined) {
        state = { nextAt: 0, last: new Map(), searched: new Map(), reports: [], failing: new Set() };
        this.#pools.set(pool.name, state);
      }
      if (!force && this.#clock() < state.nextAt) continue;
      state.nextAt = this.#clock() + intervalOf(pool);
      await this.#round(pool, state, host.migrating(pool.name));
    }
    this.#stats.close(new Set(pools.flatMap((p) => p.groups.flatMap((g) => g.servers.map((s) => s.address)))));
  }

  async #round(pool: PoolConfig, state: PoolState, migrating: string | null): Promise<void> {
    if (migrating !== null) {
      state.last.clear();
      state.reports = pool.groups.map((g) => emptyReport(pool, g.name, g.servers, Date.now(), `migration ${migrating} is not over: the load is measured again after it`));
      return;
    }
    const servers = pool.groups.flatMap((g) => g.servers);
    const answers = await this.#stats.read(servers);
    const at = this.#clock();
    const sampledAt = Date.now();
    const loads = new Map<string, ServerLoad | null>();
    const errors = new Map<string, string>();
    let seconds: number | null = null;
    for (const s of servers) {
      const answer: StatsAnswer = answers.get(s.address) ?? { error: 'no answer' };
      const before = state.last.get(s.address);
      if ('error' in answer) {
        errors.set(s.address, answer.error);
        state.last.delete(s.address);
        loads.set(s.address, null);
        continue;
      }
      state.last.set(s.address, { stats: answer.stats, at });
      if (before === undefined) {
        loads.set(s.address, null);
        continue;
      }
      seconds = (at - before.at) / 1000;
      const load = loadFromStats(before.stats, answer.stats, seconds);
      if (load === null) errors.set(s.address, 'its stats have no curr_items or bytes');
      loads.set(s.address, load);
    }
    for (const address of state.last.keys()) if (!servers.some((s) => s.address === address)) state.last.delete(address);
    this.#logFailures(pool.name, state, errors);
    const reports: LoadReport[] = [];
    for (const g of pool.groups) {
      const { rows, loads: shares, reweight, add } = await this.#group(pool, g.name, g.servers, loads, state);
      const missing = g.servers.filter((s) => loads.get(s.address) === null);
      const failed = missing.filter((s) => errors.has(s.address)).map((s) => s.address);
      const note = failed.length > 0 ? `no stats from ${failed.join(', ')}` : missing.length > 0 ? 'measuring: the rates need a second round' : shares === null ? 'idle: the servers hold no items and serve no gets or sets' : null;
      reports.push({
        pool: pool.name,
        group: g.name,
        intervalMs: intervalOf(pool),
        sampledAt,
        seconds: shares === null ? null : seconds,
        servers: rows.map((row, i) => ({ ...row, suggestedWeight: reweight === null ? null : (reweight.changes.find((c) => c.address === row.address)?.to ?? g.servers[i]!.weight), error: errors.get(row.address) ?? null })),
        imbalance: shares === null ? null : imbalance(shares),
        reweight: shown(reweight),
        add: shown(add),
        note,
      });
    }
    state.reports = reports;
  }

  /** The group's rows and reweight proposal, searched again only when its servers or their load moved enough (see above). */
  async #group(pool: PoolConfig, group: string, servers: readonly ServerSpec[], measured: ReadonlyMap<string, ServerLoad | null>, state: PoolState): Promise<{ rows: ServerLoadRow[]; loads: number[] | null; reweight: RebalanceProposal | null; add: RebalanceProposal | null }> {
    const { rows, loads } = loadRows(servers, pool, measured);
    if (loads === null) return { rows, loads, reweight: null, add: null };
    const key = serversKey(servers);
    const before = state.searched.get(group);
    if (before !== undefined && before.key === key && loads.every((l, i) => Math.abs(l - (before.loads[i] ?? 0)) <= RESEARCH_OF_FAIR_SHARE / servers.length)) {
      return { rows, loads, reweight: before.reweight, add: before.add };
    }
    const steps = reweightSteps(pool, servers, loads);
    let r = steps.next();
    while (r.done !== true) {
      await yieldToEventLoop();
      r = steps.next();
    }
    await yieldToEventLoop();
    const searched = { key, loads, reweight: r.value, add: addServer(pool, servers, loads) };
    state.searched.set(group, searched);
    return { rows, loads, reweight: searched.reweight, add: searched.add };
  }

  #logFailures(pool: string, state: PoolState, errors: ReadonlyMap<string, string>): void {
    for (const [address, error] of errors) {
      if (state.failing.has(address)) continue;
      state.failing.add(address);
      this.logger.warn({ pool, server: address, err: error }, `pool ${pool}: no stats from ${address} (${error}); its load is unknown until it answers`);
    }
    for (const address of state.failing) {
      if (errors.has(address)) continue;
      state.failing.delete(address);
      this.logger.info({ pool, server: address }, `pool ${pool}: ${address} answers stats again`);
    }
  }

  /** Every group's last report, pool by pool. */
  snapshot(): LoadReport[] {
    return [...this.#pools.values()].flatMap((p) => p.reports);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#stats.close();
  }
}

/** The pool's discovery interval (its groups' shortest). */
function intervalOf(pool: PoolConfig): number {
  const intervals = pool.groups.flatMap((g) => (g.discovery === undefined ? [] : [g.discovery.intervalMs]));
  return intervals.length === 0 ? DISCOVERY_DEFAULTS.intervalMs : Math.min(...intervals);
}

/** A group's report without figures (`note` says why). */
function emptyReport(pool: PoolConfig, group: string, servers: readonly ServerSpec[], sampledAt: number, note: string): LoadReport {
  const rows = loadRows(servers, pool, new Map()).rows.map((row) => ({ ...row, suggestedWeight: null, error: null }));
  return { pool: pool.name, group, intervalMs: intervalOf(pool), sampledAt, seconds: null, servers: rows, imbalance: null, reweight: null, add: null, note };
}

/** A proposal without its arcs and predicted loads, with the imbalance it leaves. */
function shown(p: RebalanceProposal | null): LoadProposal | null {
  if (p === null) return null;
  return { kind: p.kind, servers: p.servers, changes: p.changes, movedShare: p.movedShare, loadRatio: p.loadRatio, imbalance: p.loadRatio === null ? null : Math.max(0, p.loadRatio - 1) };
}
