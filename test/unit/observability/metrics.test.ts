import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { LatencyHistogram } from '../../../src/observability/histogram.js';
import { Metrics, family, histogramSamples } from '../../../src/observability/metrics.js';
import { proxyFamilies } from '../../../src/app/metrics/proxy-metrics.js';
import { backendFamilies } from '../../../src/app/metrics/backend-metrics.js';
import { replicationFamilies } from '../../../src/app/metrics/replication-metrics.js';
import { reloadFamilies } from '../../../src/app/metrics/reload-metrics.js';
import { ReloadCounters } from '../../../src/app/reload.js';
import { migrationFamilies } from '../../../src/app/metrics/migration-metrics.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import type { BackendPool } from '../../../src/backend/index.js';
import type { Replication } from '../../../src/replication/index.js';

describe('LatencyHistogram', () => {
  it('counts each observation in the first bucket whose bound it does not exceed', () => {
    const h = new LatencyHistogram();
    for (const ms of [0.05, 0.1, 0.3, 2, 2000]) h.observe(ms);
    const samples = histogramSamples('x', { backend: 'b' }, h);
    const bucket = (le: string): number => samples.find((s) => s.metricName === 'x_bucket' && s.labels.le === le)!.value;
    expect(bucket('0.0001')).toBe(2); // 0.05 ms and exactly 0.1 ms
    expect(bucket('0.0005')).toBe(3);
    expect(bucket('0.0025')).toBe(4);
    expect(bucket('1')).toBe(4);
    expect(bucket('+Inf')).toBe(5);
    expect(samples.find((s) => s.metricName === 'x_count')!.value).toBe(5);
    expect(samples.find((s) => s.metricName === 'x_sum')!.value).toBeCloseTo(2.00245, 6);
  });

  it('merges', () => {
    const a = new LatencyHistogram();
    const b = new LatencyHistogram();
    a.observe(1);
    b.observe(1);
    b.observe(50);
    a.merge(b);
    expect(a.count).toBe(3);
    expect([...a.counts].reduce((x, y) => x + y)).toBe(3);
  });
});

describe('Metrics', () => {
  it('publishes outside values in the Prometheus text format at scrape time', async () => {
    let n = 1;
    const m = new Metrics({ processMetrics: false });
    m.add(family('memshift_test_total', 'A test counter.', 'counter', () => [{ labels: { backend: '10.0.0.1:11211' }, value: n }]));
    expect(await m.text()).toBe('# HELP memshift_test_total A test counter.\n# TYPE memshift_test_total counter\nmemshift_test_total{backend="10.0.0.1:11211"} 1\n');
    n = 7;
    expect(await m.text()).toContain('memshift_test_total{backend="10.0.0.1:11211"} 7');
  });

  it('every family memshift publishes is in the metrics table of docs/operations.md', () => {
    const m = new Metrics({ processMetrics: false });
    const replication = { pools: () => [] } as unknown as Replication;
    const backends = { all: [] } as unknown as BackendPool;
    m.add(
      ...proxyFamilies(new ProxyStats()),
      ...backendFamilies(() => backends),
      ...replicationFamilies(() => ({ replication })),
      ...migrationFamilies(() => []),
      ...reloadFamilies(new ReloadCounters()),
    );
    const names = m.registry.getMetricsAsArray().map((f) => f.name);
    expect(names.length).toBeGreaterThan(30);
    const readme = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
    expect(names.filter((name) => !readme.includes(`\`${name}\``))).toEqual([]);
    for (const name of names) expect(name).toMatch(/^memshift_[a-z_]+$/);
  });
});
