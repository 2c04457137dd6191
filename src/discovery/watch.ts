/**
 * DiscoveryWatch: one pool's (or replica group's) DNS name, resolved again and again.
 *
 *   start() ─► resolve ─► watchNext (watch-state.ts) ─► log state changes, count, tell listeners
 *                 ▲                                              │
 *                 └──── timer: nextResolveInMs (interval, TTL, min_stable, floor) ◄──┘
 *
 * It owns one node:dns Resolver (the `resolver:` of the block, else the system's) and one timer
 * (unref'd: a watch never keeps the process alive). Listeners hear only changes of what the pool
 * should run (`initial`, `stable`, `addresses`); everything else is in `snapshot()` and the counters,
 * which are plain numbers for `src/observability` to read in collect() (`memshift_discovery_*`).
 */
import type { Resolver } from 'node:dns/promises';
import type { DiscoveryConfig } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { createResolver, DiscoveryError, type DiscoveredServer, resolveServers } from './resolve.js';
import { initialWatchState, nextResolveInMs, type WatchEvent, type WatchInput, watchNext, type WatchSettings, watchSettings, type WatchState } from './watch-state.js';

/** Counters for metrics: totals since the watch started, and the last good answer's wall-clock time. */
export interface DiscoveryCounters {
  resolves: number;
  failures: number;
  /** Failures that were an answer with zero records (also in `failures`). */
  emptyAnswers: number;
  /** Changes of the stable set's members (not of addresses alone). */
  changes: number;
  /** Times the set started flapping. */
  flaps: number;
  /** Unix ms of the last good answer; 0 before one. */
  lastSuccessMs: number;
}

/** What a listener hears: the set the pool should run now, and why it changed. */
export type DiscoveryChange =
  | { readonly type: 'initial'; readonly servers: readonly DiscoveredServer[] }
  | { readonly type: 'stable'; readonly from: readonly DiscoveredServer[]; readonly to: readonly DiscoveredServer[] }
  | { readonly type: 'addresses'; readonly servers: readonly DiscoveredServer[] };

export interface DiscoverySnapshot {
  readonly pool: string;
  readonly group: string;
  readonly dns: string;
  readonly stable: readonly DiscoveredServer[] | null;
  readonly candidate: readonly DiscoveredServer[] | null;
  /** How long the candidate, which differs from the stable set, has been seen unchanged (ms); null when it is the stable set. */
  readonly pendingForMs: number | null;
  readonly flapping: boolean;
  readonly failing: number;
  readonly lastError: string | null;
  readonly counters: Readonly<DiscoveryCounters>;
}

export interface DiscoveryWatchOptions {
  readonly pool: string;
  /** The replica group; a plain pool's one group has the pool's name (the default). */
  readonly group?: string;
  readonly discovery: DiscoveryConfig;
  /** The pool's autopilot `min_stable`. */
  readonly minStableMs: number;
  /** The set the pool runs now (e.g. from its migration record); absent: the first good answer is stable at once. */
  readonly initial?: readonly DiscoveredServer[];
  /** Overrides of the floor and the flap window (tests); interval and min_stable come from the config. */
  readonly settings?: Partial<Pick<WatchSettings, 'floorMs' | 'flapReturns' | 'flapWindowMs'>>;
  /** Per DNS query attempt, default 2000 ms; `tries` default 2. */
  readonly timeoutMs?: number;
  readonly tries?: number;
  readonly log?: Logger;
  /** Monotonic ms; default performance.now. */
  readonly now?: () => number;
}

export class DiscoveryWatch {
  readonly pool: string;
  readonly group: string;
  readonly settings: WatchSettings;
  readonly counters: DiscoveryCounters = { resolves: 0, failures: 0, emptyAnswers: 0, changes: 0, flaps: 0, lastSuccessMs: 0 };
  readonly #discovery: DiscoveryConfig;
  readonly #resolver: Resolver;
  readonly #log: Logger | undefined;
  readonly #now: () => number;
  readonly #listeners = new Set<(change: DiscoveryChange) => void>();
  #state: WatchState;
  #timer: NodeJS.Timeout | undefined;
  #running = false;
  /** Bumped by stop(): an answer to a look-up from before is dropped. */
  #generation = 0;
  /** The failure last logged, so an outage is logged when it starts and when its reason changes. */
  #lastLogged: string | undefined;
  /** The look-up in flight, so resolveNow() and the timer never overlap. */
  #inFlight: Promise<void> | undefined;

  constructor(opts: DiscoveryWatchOptions) {
    this.pool = opts.pool;
    this.group = opts.group ?? opts.pool;
    this.#discovery = opts.discovery;
    this.settings = watchSettings({ intervalMs: opts.discovery.intervalMs, minStableMs: opts.minStableMs, ...opts.settings });
    this.#resolver = createResolver({
      ...(opts.discovery.resolver === undefined ? {} : { resolver: opts.discovery.resolver }),
      ...(opts.timeoutMs === undefined ? {} : { timeoutMs: opts.timeoutMs }),
      ...(opts.tries === undefined ? {} : { tries: opts.tries }),
    });
    this.#log = opts.log?.child({ pool: this.pool, group: this.group, dns: opts.discovery.dns });
    this.#now = opts.now ?? (() => performance.now());
    this.#state = initialWatchState(opts.initial);
  }

  /** Resolves at once, then on its own schedule until stop(). */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.resolveNow();
  }

  stop(): void {
    this.#running = false;
    this.#generation++;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#resolver.cancel();
  }

  /** Hears every change of the set the pool should run; returns the unsubscribe. */
  onChange(listener: (change: DiscoveryChange) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  get stable(): readonly DiscoveredServer[] | undefined {
    return this.#state.stable?.servers;
  }

  /** Resolves now (waiting for a look-up already running instead of starting a second one). */
  resolveNow(): Promise<void> {
    this.#inFlight ??= this.#resolveOnce().finally(() => {
      this.#inFlight = undefined;
      this.#schedule();
    });
    return this.#inFlight;
  }

  snapshot(): DiscoverySnapshot {
    const s = this.#state;
    return {
      pool: this.pool,
      group: this.group,
      dns: this.#discovery.dns,
      stable: s.stable?.servers ?? null,
      candidate: s.candidate?.servers ?? null,
      pendingForMs: s.candidate !== undefined && s.stable !== undefined && s.candidate.ring !== s.stable.ring ? this.#now() - s.candidateSince : null,
      flapping: s.flapping,
      failing: s.failing,
      lastError: s.lastError ?? null,
      counters: { ...this.counters },
    };
  }

  async #resolveOnce(): Promise<void> {
    const generation = this.#generation;
    let input: WatchInput;
    let empty = false;
    try {
      const r = await resolveServers(this.#discovery, this.#resolver);
      input = { type: 'resolved', servers: r.servers, ttlSeconds: r.ttlSeconds };
    } catch (err) {
      empty = err instanceof DiscoveryError && err.reason === 'empty';
      input = { type: 'failed', error: err instanceof Error ? err.message : String(err) };
    }
    if (generation !== this.#generation) return;
    this.counters.resolves++;
    if (empty) this.counters.emptyAnswers++;
    const { state, events } = watchNext(this.#state, input, this.#now(), this.settings);
    this.#state = state;
    if (input.type === 'resolved') this.counters.lastSuccessMs = Date.now();
    for (const e of events) this.#apply(e);
  }

  #apply(e: WatchEvent): void {
    const log = this.#log;
    const names = (list: readonly DiscoveredServer[]): string[] => list.map((s) => (s.name === undefined ? s.address : `${s.name}=${s.address}`));
    switch (e.type) {
      case 'failure':
        this.counters.failures++;
        // Logged when it starts and when its reason changes, not every interval.
        if (e.first || e.error !== this.#lastLogged) log?.warn({ error: e.error, kept: this.#state.stable?.servers.length ?? 0 }, 'discovery: DNS look-up failed; the last good servers are kept');
        this.#lastLogged = e.error;
        return;
      case 'recovered':
        this.#lastLogged = undefined;
        log?.info({ failures: e.failures }, 'discovery: DNS answers again');
        return;
      case 'candidate':
        log?.info({ servers: names(e.servers), stable_in_ms: e.stableInMs }, 'discovery: the DNS answer changed; waiting for min_stable');
        return;
      case 'withdrawn':
        log?.info('discovery: the DNS answer is the stable set again; the change that waited is dropped');
        return;
      case 'flapping':
        this.counters.flaps++;
        log?.warn({ returns: e.returns, window_ms: this.settings.flapWindowMs }, 'discovery: the DNS answer flaps; the stable set is held');
        return;
      case 'steady':
        log?.info('discovery: the DNS answer stopped flapping');
        return;
      case 'initial':
        log?.info({ servers: names(e.servers) }, 'discovery: servers found');
        this.#emit(e);
        return;
      case 'stable':
        this.counters.changes++;
        log?.info({ from: names(e.from), to: names(e.to) }, 'discovery: the servers changed');
        this.#emit(e);
        return;
      case 'addresses':
        log?.info({ servers: names(e.servers) }, 'discovery: servers have new addresses');
        this.#emit(e);
        return;
    }
  }

  #emit(change: DiscoveryChange): void {
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (err) {
        this.#log?.error({ err }, 'discovery: a listener failed');
      }
    }
  }

  #schedule(): void {
    if (!this.#running) return;
    clearTimeout(this.#timer);
    const delay = nextResolveInMs(this.#state, this.#now(), this.settings);
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.resolveNow();
    }, delay);
    this.#timer.unref();
  }
}
