/**
 * The discovery's families (`memshift_discovery_*`), from the plain numbers each DNS watch and each
 * pool's autopilot keep (src/discovery: watch.ts counters, runtime.ts AutopilotCounters), read at
 * scrape time. Each watch is labelled by pool, group (a plain pool's one group has the pool's name)
 * and the DNS name it resolves. With `workers: N` every worker watches the names and decides alike,
 * so the admin process folds each family to its largest value (`max`), not a sum over the workers.
 *
 * The load families (`autopilot.rebalance: suggest`, src/discovery/load-watch.ts) come from worker 0
 * alone, which measures the load; the other workers export none, so the fold is worker 0's value.
 */
import type { Metric } from 'prom-client';
import type { DiscoveryRuntime } from '../../discovery/runtime.js';
import type { LoadReport } from '../../discovery/load-watch.js';
import type { DiscoveryCounters, DiscoverySnapshot } from '../../discovery/watch.js';
import { family, type Sample } from '../../observability/metrics.js';

type Snapshot = ReturnType<DiscoveryRuntime['snapshot']>;

const watchLabels = (w: DiscoverySnapshot): Record<string, string> => ({ pool: w.pool, group: w.group, dns: w.dns });

export function discoveryFamilies(snapshot: () => Snapshot, now: () => number = Date.now): Metric[] {
  const perWatch = (value: (w: DiscoverySnapshot) => number) => (): Sample[] => snapshot().watches.map((w) => ({ labels: watchLabels(w), value: value(w) }));
  const counter = (name: string, help: string, key: keyof DiscoveryCounters): Metric => family(name, help, 'counter', perWatch((w) => w.counters[key]), 'max');
  return [
    counter('memshift_discovery_resolves_total', 'DNS look-ups of a discovered group, good or failed.', 'resolves'),
    counter('memshift_discovery_failures_total', 'DNS look-ups that gave no usable set (an error, no answer, zero records, an ambiguous answer); the last good set is kept.', 'failures'),
    counter('memshift_discovery_empty_answers_total', 'DNS answers with zero records (also in memshift_discovery_failures_total); the ring is never emptied.', 'emptyAnswers'),
    counter('memshift_discovery_changes_total', 'Changes of the stable set of servers (seen unchanged for min_stable); addresses alone are not a change.', 'changes'),
    counter('memshift_discovery_flaps_total', 'Times the DNS answer started to flap (went back to an earlier set too often); the stable set is held meanwhile.', 'flaps'),
    family('memshift_discovery_flapping', '1 while the DNS answer flaps and the stable set is held, else 0.', 'gauge', perWatch((w) => (w.flapping ? 1 : 0)), 'max'),
    family('memshift_discovery_failing', 'DNS look-ups failed in a row (0 after a good answer).', 'gauge', perWatch((w) => w.failing), 'max'),
    family('memshift_discovery_last_success_age_seconds', 'Seconds since the last good DNS answer.', 'gauge', perWatch((w) => (w.counters.lastSuccessMs === 0 ? 0 : Math.max(0, now() - w.counters.lastSuccessMs) / 1000)), 'max'),
    family('memshift_discovery_servers', 'Servers in the stable set DNS gives.', 'gauge', perWatch((w) => w.stable?.length ?? 0), 'max'),
    family('memshift_discovery_pending_seconds', 'How long a DNS answer that differs from the stable set has been seen unchanged (it becomes stable at min_stable); 0 when none waits.', 'gauge', perWatch((w) => (w.pendingForMs ?? 0) / 1000), 'max'),
    family('memshift_discovery_refusals_total', "Changes of the servers the autopilot did not migrate, by reason: share (above max_moved_share), empty (every server drained), groups (a server added to a replica group, taken at a restart).", 'counter', () =>
      snapshot().pools.flatMap((p) => (['share', 'empty', 'groups'] as const).map((reason) => ({ labels: { pool: p.pool, reason }, value: p.counters.refusals[reason] }))),
      'max',
    ),
    family('memshift_discovery_migrations_total', 'Autopilot migrations (and drains) this sidecar started (another sidecar may start the same one; every sidecar follows it).', 'counter', () =>
      snapshot().pools.map((p) => ({ labels: { pool: p.pool }, value: p.counters.migrations })),
      'max',
    ),
  ];
}

/**
 * Each discovered group's load, as of its last round: each server's part of it, and the weight the
 * reweight proposes; the group's imbalance (max/mean − 1 of the loads). A figure that is unknown (the
 * first round, a server without stats, a migration not over) has no sample.
 */
export function loadFamilies(reports: () => readonly LoadReport[]): Metric[] {
  const perServer = (value: (s: LoadReport['servers'][number]) => number | null) => (): Sample[] =>
    reports().flatMap((r) => r.servers.flatMap((s) => {
      const v = value(s);
      return v === null ? [] : [{ labels: { pool: r.pool, group: r.group, server: s.address }, value: v }];
    }));
  return [
    family('memshift_discovery_load_share', "A server's part of its group's load (the mean of its share of the bytes and of the gets + sets per second), from 0 to 1; an even group has 1/n each.", 'gauge', perServer((s) => s.load), 'max'),
    family('memshift_discovery_suggested_weight', 'The weight memshift plan --rebalance would propose for the server, to even the load out (its weight now when it keeps it).', 'gauge', perServer((s) => s.suggestedWeight), 'max'),
    family('memshift_discovery_imbalance', "How far a group's load is from even: max/mean - 1 of its servers' loads (0: even; 0.5: a server carries 1.5x its fair share).", 'gauge', () =>
      reports().flatMap((r) => (r.imbalance === null ? [] : [{ labels: { pool: r.pool, group: r.group }, value: r.imbalance }])),
      'max',
    ),
    family('memshift_discovery_load_sampled_timestamp_seconds', "When a group's load was last measured (Unix seconds).", 'gauge', () =>
      reports().flatMap((r) => (r.sampledAt === null ? [] : [{ labels: { pool: r.pool, group: r.group }, value: r.sampledAt / 1000 }])),
      'max',
    ),
  ];
}
