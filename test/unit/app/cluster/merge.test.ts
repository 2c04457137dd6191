/**
 * What the admin process of workers: N makes of its workers' answers: /metrics with each family
 * folded as it says (sum, max, first), /backends added up per backend.
 */
import { describe, expect, it } from 'vitest';
import { family, Metrics } from '../../../../src/observability/metrics.js';
import { migrationFamilies } from '../../../../src/app/metrics/migration-metrics.js';
import { proxyFamilies } from '../../../../src/app/metrics/proxy-metrics.js';
import { ProxyStats } from '../../../../src/proxy/stats.js';
import { aggregateMetrics, mergeBackends } from '../../../../src/app/cluster/merge.js';
import { migrationStatus } from '../../../support/migration-status.js';
import { backend, body, latency, pool } from '../../cli/top-samples.js';

const lines = (text: string, name: string): string[] => text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));

describe('aggregateMetrics', () => {
  it('sums what each worker counts, takes the max of what the record says, and the first of what is the same everywhere', async () => {
    const worker = async (i: number) => {
      const stats = new ProxyStats();
      stats.totalConnections = 10 + i;
      stats.getHits = 100 * (i + 1);
      const m = new Metrics({ processMetrics: false });
      const status = migrationStatus({ this_process_leads: i === 0, route: { backfilled: 1, backfillErrors: 0, raced: 0, syncErrors: 0, dirtyOverflow: 0, held: 2 } });
      m.add(...proxyFamilies(stats), ...migrationFamilies(() => [status]), family('t_first', 'same everywhere', 'gauge', () => [{ labels: {}, value: 7 + i }], 'first'));
      return m.registry.getMetricsAsJSON();
    };
    const text = await aggregateMetrics([await worker(0), await worker(1)]);
    expect(lines(text, 'memshift_client_connections_total')).toEqual(['memshift_client_connections_total 21']);
    expect(lines(text, 'memshift_requests_total').find((l) => l.includes('command="get",result="hit"'))).toBe('memshift_requests_total{command="get",result="hit"} 300');
    // The phase is 1 in each worker: still 1, not 2. One worker leads: the sum says how many do.
    const phase = lines(text, 'memshift_migration_phase');
    expect(phase.filter((l) => l.endsWith(' 1'))).toHaveLength(1);
    expect(lines(text, 'memshift_migration_leader')).toEqual(['memshift_migration_leader{pool="main",id="m1"} 1']);
    expect(lines(text, 'memshift_migration_held_total')).toEqual(['memshift_migration_held_total{pool="main",id="m1"} 4']);
    expect(lines(text, 'memshift_migration_keys').find((l) => l.includes('kind="copied"'))).toMatch(/ \d+$/);
    expect(lines(text, 't_first')).toEqual(['t_first 7']);
  });
});

describe('mergeBackends', () => {
  it('adds up each backend over the workers: counters, queues, connections, latency; the best state; any recovering', () => {
    const w0 = body(1_000, [pool('main', [['main', [backend('a:1', { requests: 5, in_flight: 1, latency: latency([0.001, 2]), server: null }), backend('b:1', { state: 'tko', reason: 'connect ECONNREFUSED' })]]])], { total_connections: 3, get_hits: 4 });
    const w1 = body(5_000, [pool('main', [['main', [backend('a:1', { requests: 7, connections_up: 0, state: 'connecting', recovering: true, latency: latency([0.001, 1], [1, 1]), server: { get_hits: 9 } }), backend('b:1', { state: 'up', requests: 2 })]]])], { total_connections: 2, get_hits: 1 });
    const m = mergeBackends([w0, w1], 42.5);
    expect(m.uptime_ms).toBe(42.5);
    expect(m.proxy).toMatchObject({ total_connections: 5, get_hits: 5 });
    const [a, b] = m.pools[0]!.groups[0]!.backends;
    expect(a).toMatchObject({ address: 'a:1', requests: 12, in_flight: 1, connections: 2, connections_up: 1, state: 'up', recovering: true, server: { get_hits: 9 } });
    expect(a!.latency.count).toBe(4);
    expect(a!.latency).toEqual({ counts: latency([0.001, 3], [1, 1]).counts, count: 4, sum_s: 0 });
    expect(b).toMatchObject({ address: 'b:1', requests: 2, state: 'up', reason: null });
  });

  it('keeps a backend or pool only one worker has (a reload that reached one first)', () => {
    const m = mergeBackends([body(0, [pool('main', [['main', [backend('a:1')]]])]), body(0, [pool('main', [['main', [backend('a:1'), backend('c:1')]]], [backend('old:1')]), pool('t', [['t', [backend('t:1')]]])])], 1);
    expect(m.pools.map((p) => p.name)).toEqual(['main', 't']);
    expect(m.pools[0]!.groups[0]!.backends.map((b) => b.address)).toEqual(['a:1', 'c:1']);
    expect(m.pools[0]!.leaving.map((b) => b.address)).toEqual(['old:1']);
  });
});
