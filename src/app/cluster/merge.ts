/**
 * What the admin process of `workers: N` makes of the workers' answers, so that memshift reads as
 * one process: GET /metrics folds every worker's families (each family says how: sum, max or
 * first; observability/metrics.ts), GET /backends adds up each backend's counters and queues over
 * the workers. Pure: the inputs are what the workers answered.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { BackendSample, BackendsBody, PoolSample } from '../backends-endpoint.js';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

/** The Prometheus text of every registry's metrics, each family folded by its aggregator. */
export function aggregateMetrics(registries: readonly unknown[][]): Promise<string> {
  return AggregatorRegistry.aggregate(registries as MetricsJson[]).metrics();
}

/** The best state first: a backend is as up as the best of its connections, over every worker too. */
const STATE_ORDER = ['up', 'connecting', 'tko', 'closed'];

const COUNTED = ['connections', 'connections_up', 'requests', 'errors', 'timeouts', 'refused', 'tko', 'reconnects', 'out_of_step', 'bytes_out', 'bytes_in', 'in_flight', 'queued_bytes'] as const satisfies readonly (keyof BackendSample)[];

function addBackend(into: BackendSample, b: BackendSample): BackendSample {
  const out: BackendSample = { ...into, latency: { counts: into.latency.counts.map((n, i) => n + (b.latency.counts[i] ?? 0)), count: into.latency.count + b.latency.count, sum_s: into.latency.sum_s + b.latency.sum_s } };
  for (const k of COUNTED) out[k] = into[k] + b[k];
  if (STATE_ORDER.indexOf(b.state) < STATE_ORDER.indexOf(into.state)) Object.assign(out, { state: b.state, reason: b.reason });
  out.recovering ||= b.recovering;
  out.out ||= b.out;
  out.server ??= b.server;
  out.version ??= b.version;
  return out;
}

/** `list` with each backend of `more` added to the one of the same address (one `more` has and `list` not: appended). */
function addBackends(list: readonly BackendSample[], more: readonly BackendSample[]): BackendSample[] {
  const out = [...list];
  for (const b of more) {
    const i = out.findIndex((x) => x.address === b.address);
    if (i < 0) out.push(b);
    else out[i] = addBackend(out[i]!, b);
  }
  return out;
}

function addPools(pools: readonly PoolSample[], more: readonly PoolSample[]): PoolSample[] {
  const out = [...pools];
  for (const p of more) {
    const i = out.findIndex((x) => x.name === p.name);
    if (i < 0) {
      out.push(p);
      continue;
    }
    const into = out[i]!;
    const groups = [...into.groups];
    for (const g of p.groups) {
      const j = groups.findIndex((x) => x.name === g.name);
      if (j < 0) groups.push(g);
      else groups[j] = { name: g.name, backends: addBackends(groups[j]!.backends, g.backends) };
    }
    out[i] = { name: into.name, groups, leaving: addBackends(into.leaving, p.leaving) };
  }
  return out;
}

/**
 * One GET /backends body from every worker's (worker 0's first): counters, connections, queues and
 * latency buckets summed per backend, its state the best any worker has (with that worker's reason),
 * recovering or out when any worker says so, the server's own `stats` from the first worker that has
 * them. `uptimeMs` is the admin process's monotonic clock: rates divide by its difference.
 */
export function mergeBackends(bodies: readonly BackendsBody[], uptimeMs: number): BackendsBody {
  const [first, ...rest] = bodies;
  if (first === undefined) throw new Error('no worker answered');
  let merged: BackendsBody = { ...first, uptime_ms: Math.round(uptimeMs * 1000) / 1000 };
  for (const b of rest) {
    const proxy = { ...merged.proxy };
    for (const k of Object.keys(proxy) as (keyof BackendsBody['proxy'])[]) proxy[k] += b.proxy[k];
    merged = { ...merged, proxy, pools: addPools(merged.pools, b.pools) };
  }
  return merged;
}
