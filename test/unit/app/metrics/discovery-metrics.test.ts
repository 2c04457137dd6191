import { describe, expect, it } from 'vitest';
import { Metrics } from '../../../../src/observability/metrics.js';
import { discoveryFamilies } from '../../../../src/app/metrics/discovery-metrics.js';
import type { DiscoveryRuntime } from '../../../../src/discovery/runtime.js';

type Snapshot = ReturnType<DiscoveryRuntime['snapshot']>;

const server = (i: number) => ({ host: `10.0.0.${i}`, port: 11211, address: `10.0.0.${i}:11211`, dnsName: `mc-${i}.mc.test`, name: `mc-${i}.mc.test` });

const snapshot: Snapshot = {
  watches: [
    {
      pool: 'main',
      group: 'main',
      dns: 'mc.test',
      stable: [server(0), server(1), server(2)],
      candidate: [server(0), server(1)],
      pendingForMs: 1_500,
      flapping: true,
      failing: 2,
      lastError: 'A mc.test: ETIMEOUT',
      counters: { resolves: 40, failures: 5, emptyAnswers: 1, changes: 3, flaps: 1, lastSuccessMs: 990_000 },
    },
  ],
  pools: [{ pool: 'main', move: 'auto-main-0badcafe', pending: null, drained: [], counters: { migrations: 2, refusals: { share: 1, empty: 0, groups: 0 } }, share: 0.25 }],
};

describe('discoveryFamilies', () => {
  it('publishes each watch by pool, group and DNS name, and each pool’s refusals by reason', async () => {
    const m = new Metrics({ processMetrics: false });
    m.add(...discoveryFamilies(() => snapshot, () => 1_000_000));
    const lines = (await m.text()).split('\n').filter((l) => l.startsWith('memshift_discovery_'));
    const labels = 'pool="main",group="main",dns="mc.test"';
    expect(lines).toEqual(
      expect.arrayContaining([
        `memshift_discovery_resolves_total{${labels}} 40`,
        `memshift_discovery_failures_total{${labels}} 5`,
        `memshift_discovery_empty_answers_total{${labels}} 1`,
        `memshift_discovery_changes_total{${labels}} 3`,
        `memshift_discovery_flaps_total{${labels}} 1`,
        `memshift_discovery_flapping{${labels}} 1`,
        `memshift_discovery_failing{${labels}} 2`,
        `memshift_discovery_last_success_age_seconds{${labels}} 10`,
        `memshift_discovery_servers{${labels}} 3`,
        `memshift_discovery_pending_seconds{${labels}} 1.5`,
        'memshift_discovery_refusals_total{pool="main",reason="share"} 1',
        'memshift_discovery_refusals_total{pool="main",reason="groups"} 0',
        'memshift_discovery_migrations_total{pool="main"} 2',
      ]),
    );
  });
});
