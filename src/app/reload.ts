/**
 * A reload: check the new config against the running one (src/config/reload.ts), build the next
 * generation from the current one (generation.ts), and report what happened. A refused or failing
 * reload changes nothing: the running config keeps serving, and the reason is logged and counted.
 * A dry run answers what the reload would do (its checks, the generation's preflight, and a bind
 * of each listener it adds, closed at once) and stops there: nothing is built, connected or counted.
 * It cannot foresee what only the build meets (a file changed in between, a backend's answers).
 */
import type { Config } from '../config/types.js';
import { checkReload, type ReloadContext } from '../config/reload.js';
import { isUnfinished } from '../migration/phases.js';
import type { Logger } from '../observability/logger.js';
import { preflight, startGeneration, type Generation } from './generation.js';
import type { ProxyStats } from '../proxy/stats.js';

export interface ReloadOptions {
  /** Accept changes that move keys without a migration. */
  force?: boolean;
  /** What asked for it, for the log: SIGHUP, file, admin, url. */
  trigger?: string;
  /** Only answer what the reload would do. */
  dryRun?: boolean;
  /**
   * Asked once the next generation is built, with the changes it applies, before it serves: false
   * undoes it (a reload every worker of `workers: N` must apply, which another could not).
   */
  confirm?: (changes: readonly string[]) => Promise<boolean>;
}

/** A config, or how to read it (a read that fails is a failed reload, counted and logged). */
export type ConfigSource = Config | (() => Config | Promise<Config>);

/** The answer of a reload (and of POST /reload): JSON, in snake_case. */
export interface ReloadResult {
  /** `would_apply`: a dry run that found nothing in the way. */
  result: 'applied' | 'would_apply' | 'unchanged' | 'refused' | 'failed';
  dry_run: boolean;
  /** What applies (or applied). */
  changes: string[];
  /** Why it does not apply: every refusal, or why the config could not be read or used. */
  errors: string[];
  /** The refusals force would accept (keys move without a migration). */
  needs_force: string[];
  /** The refusals only a restart applies. */
  needs_restart: string[];
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

/** The same config, whatever its source and the order of its pools and routes. */
const same = (a: Config, b: Config): boolean => JSON.stringify(comparable(a)) === JSON.stringify(comparable(b));
const byName = (x: string, y: string): number => (x < y ? -1 : x > y ? 1 : 0);
const comparable = (c: Config): unknown => ({
  ...c,
  source: null,
  pools: [...c.pools].sort(([x], [y]) => byName(x, y)),
  routes: [...c.routes].sort((x, y) => byName(x.prefix, y.prefix)),
});

export const reloadOutcome = (result: ReloadResult['result'], dryRun: boolean, fields: Partial<Omit<ReloadResult, 'result' | 'dry_run'>> = {}): ReloadResult => ({
  result,
  dry_run: dryRun,
  changes: [],
  errors: [],
  needs_force: [],
  needs_restart: [],
  ...fields,
});

/** Why a reload asked for once the shutdown started is not applied (nor dry-run): its generation would outlive the process's end. */
export const STOPPING = 'memshift is stopping';

/** The answer of a reload asked for once the shutdown started: refused, nothing read, counted or built. */
export const stoppingOutcome = (dryRun: boolean): ReloadResult => reloadOutcome('refused', dryRun, { errors: [`${STOPPING}: the reload is not applied`] });

/** What a reload opens before it builds the generation (the listeners it adds), kept or undone after. */
export interface Prepared {
  commit(): void;
  abort(): void;
}

export async function reloadGeneration(
  gen: Generation,
  source: ConfigSource,
  opts: ReloadOptions,
  stats: ProxyStats,
  logger: Logger,
  counters: ReloadCounters,
  /** Opens what the new config adds outside the generation (listeners); a rejection refuses the reload. */
  prepare?: (next: Config) => Promise<Prepared>,
  /** For a dry run: would `prepare` open it? (Binds and closes at once); a rejection refuses as prepare's does. */
  probe?: (next: Config) => Promise<void>,
): Promise<{ generation?: Generation; outcome: ReloadResult }> {
  const trigger = opts.trigger ?? 'request';
  const dry = opts.dryRun === true;
  // A dry run is logged once, counted nowhere.
  const done = (out: ReloadResult, level: 'info' | 'error', message: string, fields: Record<string, unknown> = {}): { outcome: ReloadResult } => {
    if (dry) logger.info({ trigger, result: out.result, changes: out.changes, errors: out.errors }, 'config reload dry run: nothing changed');
    else {
      counters[out.result as 'unchanged' | 'refused' | 'failed']++;
      logger[level]({ trigger, ...fields }, message);
    }
    return { outcome: out };
  };
  let next: Config;
  try {
    next = typeof source === 'function' ? await source() : source;
  } catch (err) {
    const message = (err as Error).message;
    return done(reloadOutcome('failed', dry, { errors: [message] }), 'error', `config reload failed: the new config is invalid; the running config stays: ${message}`, { err: message });
  }
  if (same(gen.config, next)) return done(reloadOutcome('unchanged', dry), 'info', 'config reload: nothing changed');
  const check = checkReload(gen.config, next, { ...runningState(gen), ...(opts.force === undefined ? {} : { force: opts.force }) });
  if (check.refused.length > 0) {
    const out = reloadOutcome('refused', dry, { changes: check.changes, errors: check.refused, needs_force: check.needsForce, needs_restart: check.needsRestart });
    return done(out, 'error', `config reload refused; the running config stays: ${check.refused.join('; ')}`, { refused: check.refused });
  }
  /** A listener the new config adds cannot bind: refused (by a dry run too). */
  const cannotListen = (err: unknown): { outcome: ReloadResult } => {
    const message = `${(err as Error).message}: the running listeners stay`;
    return done(reloadOutcome('refused', dry, { changes: check.changes, errors: [message] }), 'error', `config reload refused; the running config stays: ${message}`, { refused: [message] });
  };
  try {
    if (dry) {
      // What the reload reads or binds before it builds: the pools' TLS files (preflight), the
      // listeners it adds (bound and closed at once). The password files were read by the parse.
      preflight(next);
      try {
        await probe?.(next);
      } catch (err) {
        return cannotListen(err);
      }
      return done(reloadOutcome('would_apply', dry, { changes: check.changes }), 'info', '');
    }
    let prepared: Prepared | undefined;
    try {
      prepared = await prepare?.(next);
    } catch (err) {
      return cannotListen(err);
    }
    let generation: Generation;
    try {
      const confirm = opts.confirm;
      generation = await startGeneration(next, stats, logger, gen, confirm === undefined ? {} : { confirm: () => confirm(check.changes) });
    } catch (err) {
      prepared?.abort();
      throw err;
    }
    prepared?.commit();
    counters.applied++;
    counters.lastAppliedAt = Date.now() / 1000;
    logger.info({ trigger, changes: check.changes, source: next.source }, 'config reloaded');
    return { generation, outcome: reloadOutcome('applied', dry, { changes: check.changes }) };
  } catch (err) {
    const message = (err as Error).message;
    return done(reloadOutcome('failed', dry, { changes: check.changes, errors: [message] }), 'error', `config reload failed; the running config stays: ${message}`, { err: message });
  }
}

/**
 * What checkReload needs to know of the running generation's migrations and failovers, by pool name
 * (a route's, by prefix). Running: started and not finished (a rollback whose cleanup is not done runs).
 */
function runningState(gen: Generation): Pick<ReloadContext, 'running' | 'phase' | 'failedOver' | 'routeRunning' | 'routePhase'> {
  const indexOf = (pool: string): number => [...gen.config.pools.keys()].indexOf(pool);
  const failoverOf = (pool: string) => gen.failovers.find((f) => f.pool.name === pool)?.migration ?? null;
  const running = (pool: string): string | null => {
    for (const m of [gen.migrations[indexOf(pool)], failoverOf(pool)]) if (m?.record !== null && m?.record !== undefined && isUnfinished(m.record)) return m.id;
    return null;
  };
  const phase = (pool: string): string | null => gen.migrations[indexOf(pool)]?.record?.phase ?? null;
  const failedOver = (pool: string): boolean => failoverOf(pool)?.record !== null && failoverOf(pool)?.record !== undefined;
  const routeMigration = (prefix: string) => gen.routeMigrations[gen.config.routes.findIndex((r) => r.prefix === prefix)]?.record ?? null;
  const routeRunning = (prefix: string): string | null => {
    const r = routeMigration(prefix);
    return r !== null && isUnfinished(r) ? r.id : null;
  };
  const routePhase = (prefix: string): string | null => routeMigration(prefix)?.phase ?? null;
  return { running, phase, failedOver, routeRunning, routePhase };
}
