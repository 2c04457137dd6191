/**
 * `memshift top`'s numbers, from two samples of the admin API (pure: no I/O). A rate is the
 * difference of a counter between the samples over the time between them (the server's monotonic
 * `uptime_ms`); a counter that went down (a reload made the backend anew, `stats reset`) counts from
 * 0. Latency percentiles come from the difference of the histograms, so they describe the interval,
 * not the process's life. The hit ratio is the server's own get_hits / (get_hits + get_misses) over
 * the interval (memshift does not count hits per backend); the proxy line's is memshift's.
 * Without a previous sample every rate is null (shown "-").
 */
import type { BackendSample, BackendsBody } from '../app/backends-endpoint.js';
import type { MigrationStatus } from '../migration/status.js';
import type { Replication } from '../replication/index.js';
import type { SyncStatus } from '../replication/recovery.js';
import { bucketQuantile } from '../observability/histogram.js';

/** What GET /replication answers. */
export type ReplicationBody = ReturnType<Replication['status']>;

export interface BackendRow {
  address: string;
  name: string | null;
  state: string;
  reason: string | null;
  recovering: boolean;
  out: boolean;
  ops_per_s: number | null;
  /** The server's hits over its gets in the interval; null without gets (or without its stats). */
  hit_ratio: number | null;
  p50_ms: number | null;
  p99_ms: number | null;
  /** Requests that failed or were refused, per second. */
  errors_per_s: number | null;
  in_flight: number;
  queued_bytes: number;
  /** Counters since start, and what the interval added (null without a previous sample). */
  totals: Totals;
  delta: Totals | null;
}

export interface Totals {
  requests: number;
  errors: number;
  refused: number;
  get_hits: number | null;
  get_misses: number | null;
}

export interface GroupView {
  name: string;
  backends: BackendRow[];
}

export interface PoolView {
  name: string;
  ops_per_s: number | null;
  hit_ratio: number | null;
  errors_per_s: number | null;
  groups: GroupView[];
  /** A migration's old servers that the ring no longer has. */
  leaving: BackendRow[];
}

export interface SyncView {
  pool: string;
  group: string;
  address: string;
  sync: SyncStatus;
}

export interface TopView {
  admin: string;
  memshift_version: string;
  at_ms: number;
  /** Seconds between the two samples; null for the first. */
  interval_s: number | null;
  proxy: {
    curr_connections: number;
    gets_per_s: number | null;
    sets_per_s: number | null;
    /** memshift's get hits over its gets in the interval. */
    hit_ratio: number | null;
    get_hits: number;
    get_misses: number;
    backend_errors_per_s: number | null;
  };
  pools: PoolView[];
  /** Every pool's migration that has a phase (as GET /migration shows them). */
  migrations: MigrationStatus[];
  /** Replica rebuilds running or followed now. */
  syncs: SyncView[];
}

export interface TopInput {
  admin: string;
  backends: BackendsBody;
  /** GET /migration's `pools` (or the single status). */
  migrations: readonly MigrationStatus[];
  replication: ReplicationBody | null;
  /** Only this pool, when given. */
  pool?: string | undefined;
}

/** cur − prev as a count: null without prev; cur itself when the counter went down (it started over). */
export function counterDelta(prev: number | null | undefined, cur: number | null | undefined): number | null {
  if (prev === null || prev === undefined || cur === null || cur === undefined) return null;
  return cur >= prev ? cur - prev : cur;
}

const perSecond = (d: number | null, seconds: number | null): number | null => (d === null || seconds === null || !(seconds > 0) ? null : d / seconds);
const ratio = (hits: number | null, misses: number | null): number | null => (hits === null || misses === null || hits + misses === 0 ? null : hits / (hits + misses));

function totals(b: BackendSample): Totals {
  return { requests: b.requests, errors: b.errors, refused: b.refused, get_hits: b.server?.get_hits ?? null, get_misses: b.server?.get_misses ?? null };
}

/** The latency histogram of the interval: per-bucket differences (all of cur when any went down). */
function latencyDelta(prev: BackendSample | undefined, cur: BackendSample): number[] | null {
  if (prev === undefined) return null;
  const a = prev.latency.counts;
  const b = cur.latency.counts;
  if (a.length !== b.length) return null;
  const d = b.map((n, i) => n - a[i]!);
  return d.some((n) => n < 0) ? [...b] : d;
}

function row(prev: BackendSample | undefined, cur: BackendSample, seconds: number | null, bounds: readonly number[]): BackendRow {
  const t = totals(cur);
  const p = prev === undefined ? null : totals(prev);
  const delta: Totals | null =
    p === null
      ? null
      : {
          requests: counterDelta(p.requests, t.requests)!,
          errors: counterDelta(p.errors, t.errors)!,
          refused: counterDelta(p.refused, t.refused)!,
          get_hits: counterDelta(p.get_hits, t.get_hits),
          get_misses: counterDelta(p.get_misses, t.get_misses),
        };
  const lat = latencyDelta(prev, cur);
  const ms = (q: number): number | null => {
    const s = lat === null ? null : bucketQuantile(q, bounds, lat);
    return s === null ? null : s * 1000;
  };
  return {
    address: cur.address,
    name: cur.name,
    state: cur.state,
    reason: cur.reason,
    recovering: cur.recovering,
    out: cur.out,
    ops_per_s: perSecond(delta?.requests ?? null, seconds),
    hit_ratio: delta === null ? null : ratio(delta.get_hits, delta.get_misses),
    p50_ms: ms(0.5),
    p99_ms: ms(0.99),
    errors_per_s: perSecond(delta === null ? null : delta.errors + delta.refused, seconds),
    in_flight: cur.in_flight,
    queued_bytes: cur.queued_bytes,
    totals: t,
    delta,
  };
}

const sumOf = (rows: readonly BackendRow[], f: (r: BackendRow) => number | null): number | null => {
  let n: number | null = null;
  for (const r of rows) {
    const v = f(r);
    if (v !== null) n = (n ?? 0) + v;
  }
  return n;
};

/** The view of `cur`, with rates against `prev` when there is one. */
export function topView(prev: TopInput | null, cur: TopInput): TopView {
  const b = cur.backends;
  const pb = prev?.backends;
  const seconds = pb === undefined ? null : (b.uptime_ms - pb.uptime_ms) / 1000;
  // A previous sample of another process (the sidecar restarted) gives no rates.
  const usable = pb !== undefined && seconds !== null && seconds > 0 ? pb : undefined;
  const before = new Map<string, BackendSample>();
  for (const pool of usable?.pools ?? []) {
    for (const s of [...pool.groups.flatMap((g) => g.backends), ...pool.leaving]) before.set(`${pool.name}\n${s.address}`, s);
  }
  const dt = usable === undefined ? null : seconds;
  const pools = b.pools
    .filter((pool) => cur.pool === undefined || pool.name === cur.pool)
    .map((pool): PoolView => {
      const mk = (s: BackendSample): BackendRow => row(before.get(`${pool.name}\n${s.address}`), s, dt, b.latency_buckets_s);
      const groups = pool.groups.map((g) => ({ name: g.name, backends: g.backends.map(mk) }));
      const leaving = pool.leaving.map(mk);
      // A backend that two groups list is counted once.
      const unique = [...new Map([...groups.flatMap((g) => g.backends), ...leaving].map((r) => [r.address, r])).values()];
      return {
        name: pool.name,
        ops_per_s: sumOf(unique, (r) => r.ops_per_s),
        hit_ratio: ratio(sumOf(unique, (r) => r.delta?.get_hits ?? null), sumOf(unique, (r) => r.delta?.get_misses ?? null)),
        errors_per_s: sumOf(unique, (r) => r.errors_per_s),
        groups,
        leaving,
      };
    });
  const px = b.proxy;
  const pp = usable?.proxy;
  const d = (f: (p: BackendsBody['proxy']) => number): number | null => (pp === undefined ? null : counterDelta(f(pp), f(px)));
  const syncs: SyncView[] = [];
  for (const pool of cur.replication?.pools ?? []) {
    if (cur.pool !== undefined && pool.name !== cur.pool) continue;
    for (const g of pool.groups) {
      for (const s of g.backends) {
        if (s.sync !== null && (s.sync.state === 'running' || s.sync.state === 'following')) syncs.push({ pool: pool.name, group: g.name, address: s.address, sync: s.sync });
      }
    }
  }
  return {
    admin: cur.admin,
    memshift_version: b.memshift_version,
    at_ms: b.at_ms,
    interval_s: dt,
    proxy: {
      curr_connections: px.curr_connections,
      gets_per_s: perSecond(d((p) => p.cmd_get), dt),
      sets_per_s: perSecond(d((p) => p.cmd_set), dt),
      hit_ratio: ratio(d((p) => p.get_hits), d((p) => p.get_misses)),
      get_hits: px.get_hits,
      get_misses: px.get_misses,
      backend_errors_per_s: perSecond(d((p) => p.backend_errors), dt),
    },
    pools,
    migrations: cur.migrations.filter((m) => m.phase !== null && (cur.pool === undefined || m.pool === cur.pool)),
    syncs,
  };
}
