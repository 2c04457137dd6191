/** Config reload families: reloads by result, and when the running config was applied. */
import type { Metric } from 'prom-client';
import type { ReloadCounters } from '../reload.js';
import { family } from '../../observability/metrics.js';

export function reloadFamilies(r: ReloadCounters): Metric[] {
  return [
    family('memshift_config_reloads_total', 'Config reloads by result: applied, unchanged, refused (would move keys, or needs a restart), failed (invalid config).', 'counter', () =>
      (['applied', 'unchanged', 'refused', 'failed'] as const).map((result) => ({ labels: { result }, value: r[result] })),
    ),
    family('memshift_config_last_applied_timestamp_seconds', 'When the running config was applied (start or last applied reload), Unix seconds.', 'gauge', () => [{ labels: {}, value: r.lastAppliedAt }]),
  ];
}
