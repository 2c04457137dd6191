/**
 * A reload: check the new config against the running one (src/config/reload.ts), build the next
 * generation from the current one (generation.ts), and report what happened. A refused or failing
 * reload changes nothing: the running config keeps serving, and the reason is logged and counted.
 */
import type { Config } from '../config/types.js';
import { checkReload } from '../config/reload.js';
import { isActive } from '../migration/phases.js';
import type { Logger } from '../observability/logger.js';
import { startGeneration, type Generation } from './generation.js';
import type { ProxyStats } from './stats.js';

export interface ReloadOptions {
  /** Accept changes that move keys without a migration. */
  force?: boolean;
  /** What asked for it, for the log: SIGHUP, file, admin, url. */
  trigger?: string;
}

/** A config, or how to read it (a read that fails is a failed reload, counted and logged). */
export type ConfigSource = Config | (() => Config | Promise<Config>);

export interface ReloadResult {
  result: 'applied' | 'unchanged' | 'refused' | 'failed';
  changes: string[];
  errors: string[];
}

/** Reload counts for /metrics. */
export class ReloadCounters {
  applied = 0;
  unchanged = 0;
  refused = 0;
  failed = 0;
  /** Unix seconds of the last applied reload (or of the start). */
  lastAppliedAt = Date.now() / 1000;
}

const same = (a: Config, b: Config): boolean => JSON.stringify({ ...a, source: null, pools: [...a.pools] }) === JSON.stringify({ ...b, source: null, pools: [...b.pools] });

export async function reloadGeneration(
  gen: Generation,
  source: ConfigSource,
  opts: ReloadOptions,
  stats: ProxyStats,
  logger: Logger,
  counters: ReloadCounters,
): Promise<{ generation?: Generation; outcome: ReloadResult }> {
  const trigger = opts.trigger ?? 'request';
  let next: Config;
  try {
    next = typeof source === 'function' ? await source() : source;
  } catch (err) {
    counters.failed++;
    const message = (err as Error).message;
    logger.error({ trigger, err: message }, `config reload failed: the new config is invalid; the running config stays: ${message}`);
    return { outcome: { result: 'failed', changes: [], errors: [message] } };
  }
  if (same(gen.config, next)) {
    counters.unchanged++;
    logger.info({ trigger }, 'config reload: nothing changed');
    return { outcome: { result: 'unchanged', changes: [], errors: [] } };
  }
  const indexOf = (pool: string): number => [...gen.config.pools.keys()].indexOf(pool);
  const failoverOf = (pool: string) => gen.failovers.find((f) => f.pool.name === pool)?.migration ?? null;
  const running = (pool: string): string | null => {
    for (const m of [gen.migrations[indexOf(pool)], failoverOf(pool)]) if (m?.record !== null && m?.record !== undefined && isActive(m.record)) return m.id;
    return null;
  };
  const phase = (pool: string): string | null => gen.migrations[indexOf(pool)]?.record?.phase ?? null;
  const failedOver = (pool: string): boolean => failoverOf(pool)?.record !== null && failoverOf(pool)?.record !== undefined;
  const check = checkReload(gen.config, next, { running, phase, failedOver, ...(opts.force === undefined ? {} : { force: opts.force }) });
  if (check.refused.length > 0) {
    counters.refused++;
    logger.error({ trigger, refused: check.refused }, `config reload refused; the running config stays: ${check.refused.join('; ')}`);
    return { outcome: { result: 'refused', changes: check.changes, errors: check.refused } };
  }
  try {
    const generation = await startGeneration(next, stats, logger, gen);
    counters.applied++;
    counters.lastAppliedAt = Date.now() / 1000;
    logger.info({ trigger, changes: check.changes, source: next.source }, 'config reloaded');
    return { generation, outcome: { result: 'applied', changes: check.changes, errors: [] } };
  } catch (err) {
    counters.failed++;
    const message = (err as Error).message;
    logger.error({ trigger, err: message }, `config reload failed; the running config stays: ${message}`);
    return { outcome: { result: 'failed', changes: check.changes, errors: [message] } };
  }
}
