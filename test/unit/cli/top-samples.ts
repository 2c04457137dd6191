/** Samples of GET /backends for the `memshift top` tests, built field by field. */
import { LATENCY_BUCKETS_SEC } from '../../../src/observability/histogram.js';
import type { BackendSample, BackendsBody, PoolSample } from '../../../src/app/backends-endpoint.js';
import type { TopInput } from '../../../src/cli/top-view.js';
import type { MigrationStatus } from '../../../src/migration/status.js';

/** A backend that is up with nothing counted; `over` replaces fields. */
export function backend(address: string, over: Partial<BackendSample> = {}): BackendSample {
  return {
    address,
    name: null,
    weight: 1,
    state: 'up',
    reason: null,
    recovering: false,
    out: false,
    version: '1.6.18',
    connections: 1,
    connections_up: 1,
    requests: 0,
    errors: 0,
    timeouts: 0,
    refused: 0,
    tko: 0,
    reconnects: 0,
    out_of_step: 0,
    bytes_out: 0,
    bytes_in: 0,
    in_flight: 0,
    queued_bytes: 0,
    latency: { counts: new Array<number>(LATENCY_BUCKETS_SEC.length + 1).fill(0), count: 0, sum_s: 0 },
    server: { get_hits: 0, get_misses: 0 },
    ...over,
  };
}

/** Per-bucket latency counts with `n` observations in the bucket whose upper bound is `le` seconds. */
export function latency(...at: [le: number, n: number][]): BackendSample['latency'] {
  const counts = new Array<number>(LATENCY_BUCKETS_SEC.length + 1).fill(0);
  for (const [le, n] of at) {
    const i = LATENCY_BUCKETS_SEC.indexOf(le as (typeof LATENCY_BUCKETS_SEC)[number]);
    counts[i < 0 ? LATENCY_BUCKETS_SEC.length : i]! += n;
  }
  return { counts, count: counts.reduce((a, b) => a + b, 0), sum_s: 0 };
}

export function pool(name: string, groups: [string, BackendSample[]][], leaving: BackendSample[] = []): PoolSample {
  return { name, groups: groups.map(([g, backends]) => ({ name: g, backends })), leaving };
}

export function body(uptimeMs: number, pools: PoolSample[], proxy: Partial<BackendsBody['proxy']> = {}): BackendsBody {
  return {
    memshift_version: '0.1.0',
    at_ms: Date.UTC(2026, 0, 2, 3, 4, 5) + uptimeMs,
    uptime_ms: uptimeMs,
    latency_buckets_s: LATENCY_BUCKETS_SEC,
    proxy: {
      curr_connections: 0,
      total_connections: 0,
      cmd_get: 0,
      get_hits: 0,
      get_misses: 0,
      cmd_set: 0,
      cmd_touch: 0,
      cmd_meta: 0,
      bytes_read: 0,
      bytes_written: 0,
      backend_errors: 0,
      reply_memory_bytes: 0,
      ...proxy,
    },
    pools,
  };
}

export function input(backends: BackendsBody, migrations: MigrationStatus[] = [], extra: Partial<TopInput> = {}): TopInput {
  return { admin: 'http://127.0.0.1:9121', backends, migrations, replication: { pools: [] }, ...extra };
}
