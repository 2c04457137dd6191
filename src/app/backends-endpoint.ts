/**
 * `GET /backends`: one JSON sample of every backend, by pool and replica group, for `memshift top`
 * and scripts. It reads the counters memshift keeps anyway (the connections' counters and latency
 * histograms, the proxy's memcached-style stats): nothing is added on the request path. Rates need
 * two samples: subtract, and divide by the difference of `uptime_ms` (a monotonic clock).
 *
 * Hits and misses are the one thing memshift does not count per backend, so each backend that is up
 * is asked for its own `stats` (get_hits, get_misses, curr_items, evictions ...) on a connection of
 * the sampler's own (copy/meta-client.ts), never the proxy's: client requests do not queue behind
 * it and its request is in none of the backend's counters. At most once per STATS_MAX_AGE_MS
 * however many clients poll, waiting STATS_WAIT_MS at most (`server: null` when it did not answer).
 * Those connections close after STATS_IDLE_MS without a sample, when their backend leaves the
 * config, and with the admin API.
 */
import type { AdminEndpoints } from '../admin/index.js';
import { endpointOf, type Backend, type BackendConnection } from '../backend/index.js';
import { MetaClient } from '../copy/meta-client.js';
import type { ServerSpec } from '../config/types.js';
import { LATENCY_BUCKETS_SEC, LatencyHistogram } from '../observability/histogram.js';
import { MEMSHIFT_VERSION } from '../version.js';
import type { Generation } from './generation.js';
import type { ProxyStats } from '../proxy/stats.js';

/** A backend's `stats` answer is reused this long. */
export const STATS_MAX_AGE_MS = 500;
/** How long a sample waits for the backends' `stats`. */
export const STATS_WAIT_MS = 1_000;
/** The sampler's connections close after this long without a sample. */
export const STATS_IDLE_MS = 30_000;

/** The memcached `stats` fields a sample carries (numbers; absent from an older server: omitted). */
export const SERVER_STATS = ['uptime', 'curr_connections', 'cmd_get', 'cmd_set', 'get_hits', 'get_misses', 'curr_items', 'bytes', 'limit_maxbytes', 'evictions'] as const;
export type ServerStats = Partial<Record<(typeof SERVER_STATS)[number], number>>;

export interface BackendSample {
  address: string;
  /** The server's node name in the config, if it has one. */
  name: string | null;
  weight: number;
  /** up, connecting, tko or closed (the best of its connections). */
  state: string;
  /** Why it is not up; null when up. */
  reason: string | null;
  /** Out of the read order while replica recovery replays its log or rebuilds it. */
  recovering: boolean;
  /** A failover took it out of its group's ring. */
  out: boolean;
  version: string | null;
  connections: number;
  connections_up: number;
  /** Counters since the backend's connections were made (a reload that keeps the backend keeps them). */
  requests: number;
  errors: number;
  timeouts: number;
  refused: number;
  tko: number;
  reconnects: number;
  out_of_step: number;
  bytes_out: number;
  bytes_in: number;
  /** Requests sent and not answered yet, and request bytes not written yet (the queue depth). */
  in_flight: number;
  queued_bytes: number;
  /** Observations per bucket of `latency_buckets_s` (not cumulative; the last is +Inf), their count and sum. */
  latency: { counts: number[]; count: number; sum_s: number };
  /** The server's own `stats` (every client's traffic, not only this sidecar's); null when it did not answer. */
  server: ServerStats | null;
}

export interface GroupSample {
  name: string;
  backends: BackendSample[];
}

export interface PoolSample {
  name: string;
  /** Its replica groups, the primary first (a plain pool is one group named after it). */
  groups: GroupSample[];
  /** A migration's old servers that the ring no longer has. */
  leaving: BackendSample[];
}

export interface BackendsBody {
  memshift_version: string;
  /** When the sample was taken, ms since the epoch. */
  at_ms: number;
  /** The process's monotonic clock at the sample, in ms: rates divide by its difference. */
  uptime_ms: number;
  /** Upper bounds in seconds of every backend's latency buckets. */
  latency_buckets_s: readonly number[];
  /** memshift's own counters, as `stats` shows them (every pool together). */
  proxy: {
    curr_connections: number;
    total_connections: number;
    cmd_get: number;
    get_hits: number;
    get_misses: number;
    cmd_set: number;
    cmd_touch: number;
    cmd_meta: number;
    bytes_read: number;
    bytes_written: number;
    backend_errors: number;
    reply_memory_bytes: number;
  };
  pools: PoolSample[];
}

/** A backend's `stats` connection and its last answer. */
interface StatsClient {
  client: MetaClient;
  last?: { at: number; stats: Promise<ServerStats | null> };
}

const sum = (conns: readonly BackendConnection[], f: (c: BackendConnection) => number): number => conns.reduce((n, c) => n + f(c), 0);

/** The fields of SERVER_STATS from a `stats` answer. */
export function serverStats(stats: ReadonlyMap<string, string>): ServerStats {
  const out: ServerStats = {};
  for (const k of SERVER_STATS) {
    const v = Number(stats.get(k));
    if (stats.has(k) && Number.isFinite(v)) out[k] = v;
  }
  return out;
}

export class BackendSampler {
  readonly #clients = new Map<Backend, StatsClient>();
  #idle: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    private readonly gen: () => Generation,
    private readonly stats: ProxyStats,
    private readonly now: () => number = () => performance.now(),
  ) {}

  async sample(): Promise<BackendsBody> {
    const g = this.gen();
    const pools = g.dispatcher.router.pools;
    // Each backend's server spec (the ring's, else a migration's old servers'), for its endpoint.
    const specs = new Map<Backend, ServerSpec>();
    pools.forEach((pool, p) => {
      pool.groups.forEach((group, gi) => group.servers.forEach((spec, si) => specs.set(g.backends.byGroup[p]![gi]![si]!, spec)));
      pool.migration?.from.forEach((group, gi) => group.servers.forEach((spec, si) => {
        const b = g.backends.byMigration[p]?.[gi]?.[si];
        if (b !== undefined && !specs.has(b)) specs.set(b, spec);
      }));
    });
    this.#forget(specs);
    const answers = await Promise.all([...specs].map(([b, spec]) => this.#serverStats(b, spec)));
    const server = new Map([...specs.keys()].map((b, i) => [b, answers[i] ?? null]));
    const s = this.stats;
    return {
      memshift_version: MEMSHIFT_VERSION,
      at_ms: Date.now(),
      uptime_ms: Math.round(this.now() * 1000) / 1000,
      latency_buckets_s: LATENCY_BUCKETS_SEC,
      proxy: {
        curr_connections: s.currConnections,
        total_connections: s.totalConnections,
        cmd_get: s.cmdGet,
        get_hits: s.getHits,
        get_misses: s.getMisses,
        cmd_set: s.cmdSet,
        cmd_touch: s.cmdTouch,
        cmd_meta: s.cmdMeta,
        bytes_read: s.bytesRead,
        bytes_written: s.bytesWritten,
        backend_errors: s.backendErrors,
        reply_memory_bytes: s.replyMemory.used,
      },
      pools: pools.map((pool, p) => {
        const groups = g.replication.groupsOf(pool.name);
        const one = (b: Backend): BackendSample => this.#backend(b, specs.get(b), server.get(b) ?? null, groups?.held.has(b) ?? false, groups?.isOut(b) ?? false);
        const ring = g.backends.byGroup[p] ?? [];
        const inRing = new Set(ring.flat());
        const leaving = new Set((g.backends.byMigration[p] ?? []).flat().filter((b) => !inRing.has(b)));
        return {
          name: pool.name,
          groups: pool.groups.map((group, gi) => ({ name: group.name, backends: ring[gi]!.map(one) })),
          leaving: [...leaving].map(one),
        };
      }),
    };
  }

  /** Closes the `stats` connections for good (samples go on without `server`). */
  close(): void {
    this.#closed = true;
    this.#closeClients();
  }

  #closeClients(): void {
    clearTimeout(this.#idle);
    for (const c of this.#clients.values()) c.client.close();
    this.#clients.clear();
  }

  #backend(b: Backend, spec: ServerSpec | undefined, server: ServerStats | null, recovering: boolean, out: boolean): BackendSample {
    const conns = b.connections;
    const latency = new LatencyHistogram();
    for (const c of conns) latency.merge(c.latency);
    const n = (f: (c: BackendConnection) => number): number => sum(conns, f);
    return {
      address: b.address,
      name: spec?.name ?? null,
      weight: spec?.weight ?? 1,
      state: b.state,
      reason: b.reason,
      recovering,
      out,
      version: b.version,
      connections: conns.length,
      connections_up: conns.filter((c) => c.state === 'up').length,
      requests: n((c) => c.counters.requests),
      errors: n((c) => c.counters.errors),
      timeouts: n((c) => c.counters.timeouts),
      refused: n((c) => c.counters.refused),
      tko: n((c) => c.counters.tko),
      reconnects: n((c) => c.counters.reconnects),
      out_of_step: n((c) => c.counters.outOfStep),
      bytes_out: n((c) => c.counters.bytesOut),
      bytes_in: n((c) => c.counters.bytesIn),
      in_flight: n((c) => c.inFlight),
      queued_bytes: n((c) => c.queuedBytes),
      latency: { counts: [...latency.counts], count: latency.count, sum_s: latency.sumSec },
      server,
    };
  }

  /** Closes the connections of backends the config no longer has; all of them after STATS_IDLE_MS without a sample. */
  #forget(current: ReadonlyMap<Backend, ServerSpec>): void {
    for (const [b, c] of this.#clients) {
      if (current.has(b)) continue;
      c.client.close();
      this.#clients.delete(b);
    }
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.#closeClients(), STATS_IDLE_MS);
    this.#idle.unref();
  }

  /** The backend's `stats` (fresh, or at most STATS_MAX_AGE_MS old); null when it is not up or did not answer in time. */
  #serverStats(b: Backend, spec: ServerSpec): Promise<ServerStats | null> {
    if (b.state !== 'up' || this.#closed) return Promise.resolve(null);
    let c = this.#clients.get(b);
    if (c === undefined) this.#clients.set(b, (c = { client: new MetaClient(endpointOf(spec), { timeoutMs: STATS_WAIT_MS, connectTimeoutMs: STATS_WAIT_MS }) }));
    const t = this.now();
    if (c.last !== undefined && t - c.last.at < STATS_MAX_AGE_MS) return c.last.stats;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), STATS_WAIT_MS);
      timer.unref();
    });
    const asked = c.client.stats().then(serverStats, () => null);
    const stats = Promise.race([asked, late]).finally(() => clearTimeout(timer));
    c.last = { at: t, stats };
    return stats;
  }
}

/** Registers `GET /backends`; it shows backend addresses, so it needs the token on a non-loopback listener (as /config). */
export function registerBackends(admin: AdminEndpoints, gen: () => Generation, stats: ProxyStats): void {
  const sampler = new BackendSampler(gen, stats);
  admin.getGuarded('/backends', async () => ({ status: 200, body: await sampler.sample() }));
  admin.onClose(() => sampler.close());
}
