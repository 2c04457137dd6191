/**
 * GET /metrics: a prom-client registry whose families are computed at scrape time from the plain
 * counters the data path keeps (ProxyStats, BackendConnection.counters, typed-array histograms,
 * the replication's logs and recoveries). Nothing on the hot path calls prom-client.
 *
 * A family is `{name, help, type, get()}`: prom-client's registry formats whatever `get()` returns,
 * so counters kept elsewhere are published as they are (no reset-and-inc dance).
 */
import { Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import type { LatencyHistogram } from './histogram.js';

export type Labels = Record<string, string>;
export interface Sample {
  labels: Labels;
  value: number;
  metricName?: string;
}
export type FamilyType = 'counter' | 'gauge' | 'histogram';

/**
 * How the admin process of several workers (`workers: N`, app/cluster) folds one family's samples
 * of every worker into one, label set by label set (prom-client's AggregatorRegistry.aggregate):
 * `sum` for what each worker counts or holds on its own (requests, connections, bytes, latency
 * buckets), `max` for what every worker knows alike or flags (a migration's phase and counts, a
 * backend being up), `first` for a value that is the same everywhere (the first worker's).
 */
export type Aggregator = 'sum' | 'max' | 'first';

/** One metric family published from outside values. */
export function family(name: string, help: string, type: FamilyType, samples: () => Sample[], aggregator: Aggregator = 'sum'): Metric {
  const metric = {
    name,
    help,
    type,
    aggregator,
    get: () => Promise.resolve({ name, help, type, values: samples(), aggregator }),
  };
  return metric as unknown as Metric;
}

/** The samples of a histogram (cumulative buckets, sum, count) under `name`, with `labels`. */
export function histogramSamples(name: string, labels: Labels, h: LatencyHistogram): Sample[] {
  const out: Sample[] = [];
  let cumulative = 0;
  h.bucketsSec.forEach((le, i) => {
    cumulative += h.counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: String(le) }, value: cumulative });
  });
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sumSec });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
  return out;
}

export class Metrics {
  readonly registry = new Registry();

  constructor(opts: { processMetrics?: boolean } = {}) {
    if (opts.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'memshift_' });
  }

  add(...families: Metric[]): void {
    for (const f of families) this.registry.registerMetric(f);
  }

  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
