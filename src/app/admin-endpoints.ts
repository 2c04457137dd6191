/**
 * The admin HTTP listener's endpoints: /healthz (built in), /readyz,
 * /replication, /config (in the YAML's names, config/render.ts), /metrics, /backends (backends-endpoint.ts),
 * POST /reload (?force, ?dry_run), the migration's (src/migration/admin.ts), and the discovery's:
 * GET /discovery and POST /migration/drain.
 * Each request reads the current generation (a reload replaces it). The token: admin.token, else admin.token_file, else
 * MEMSHIFT_ADMIN_TOKEN; without one, mutating endpoints answer 403.
 */
import { AdminServer, registerReadyz, type AdminEndpoints } from '../admin/index.js';
import { stringify as stringifyYaml } from 'yaml';
import { parseConfig, secretFile } from '../config/index.js';
import { renderConfig } from '../config/render.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { ProxyStats } from '../proxy/stats.js';
import { Metrics } from '../observability/metrics.js';
import { registerBackends } from './backends-endpoint.js';
import { historyReader, registerMigration, type HistorySources } from '../migration/admin.js';
import { backendItems } from '../migration/history-store.js';
import { processHistory } from '../migration/history.js';
import { AdminHttpError } from '../admin/index.js';
import { migrationsOf, type Generation } from './generation.js';
import type { ConfigSource, ReloadCounters, ReloadOptions, ReloadResult } from './reload.js';
import { reloadFamilies } from './metrics/reload-metrics.js';
import { backendFamilies } from './metrics/backend-metrics.js';
import { proxyFamilies } from './metrics/proxy-metrics.js';
import { tlsFamilies } from './metrics/tls-metrics.js';
import { replicationFamilies } from './metrics/replication-metrics.js';
import { migrationFamilies } from './metrics/migration-metrics.js';
import { DrainError, type DiscoveryRuntime } from '../discovery/runtime.js';
import { discoveryFamilies, loadFamilies } from './metrics/discovery-metrics.js';
import type { LoadWatch } from '../discovery/load-watch.js';

export const ADMIN_TOKEN_ENV = 'MEMSHIFT_ADMIN_TOKEN';

/** admin.token, else admin.token_file (re-read when it changes), else MEMSHIFT_ADMIN_TOKEN. */
export function adminToken(config: Config, logger: Logger): string | undefined | (() => string | undefined) {
  const a = config.admin!;
  if (a.token !== undefined) return a.token;
  if (a.tokenFile !== undefined) return secretFile(a.tokenFile, (err) => logger.error({ err: err.message }, `admin token_file ${a.tokenFile!} changed but cannot be read: the token read before stays`));
  return process.env[ADMIN_TOKEN_ENV];
}

export interface EndpointDeps {
  /** The current generation; throws AdminHttpError 503 while memshift is starting. */
  gen: () => Generation;
  stats: ProxyStats;
  logger: Logger;
  /** Reload counts for /metrics; absent in a worker of several (the admin process counts them). */
  reloads?: ReloadCounters;
  reload: (next: ConfigSource, opts: ReloadOptions) => Promise<ReloadResult>;
  source: ((opts?: { peek?: boolean }) => Config | Promise<Config>) | undefined;
  /** The discovered pools (GET /discovery, POST /migration/drain, the memshift_discovery_* metrics). */
  discovery?: DiscoveryRuntime;
  /** Their load, with autopilot.rebalance: suggest (GET /discovery's rebalance, its metrics); worker 0's only. */
  loadWatch?: LoadWatch;
}

export async function startAdmin(
  config: Config,
  deps: EndpointDeps & {
    /** True once every listener is open, false again while draining (GET /readyz). */
    ready: () => boolean;
  },
): Promise<{ server: AdminServer; metrics: Metrics }> {
  const a = config.admin!;
  const admin = await AdminServer.start({ host: a.host, port: a.port, token: adminToken(config, deps.logger), logger: deps.logger, tls: a.tls });
  registerReadyz(admin, deps.ready);
  const metrics = registerEndpoints(admin, deps);
  deps.logger.info({ admin: admin.address }, 'admin listening');
  return { server: admin, metrics };
}

/** Every endpoint but /healthz and /readyz; returns what /metrics reads (a worker of several is asked for it). */
export function registerEndpoints(admin: AdminEndpoints, deps: EndpointDeps): Metrics {
  const { gen, stats, reloads, reload, source, discovery, loadWatch } = deps;
  admin.get('/replication', () => ({ status: 200, body: gen().replication.status() }));
  registerBackends(admin, gen, stats);
  const history: HistorySources = () => {
    const g = gen();
    return [...g.config.pools.keys()].map((pool, p) => {
      const servers = new Set([...(g.backends.byGroup[p] ?? []).flat(), ...(g.backends.byMigration[p] ?? []).flat()]);
      return { pool, servers: [...servers].map(backendItems) };
    });
  };
  const loadHistory = historyReader(history);
  registerMigration(admin, () => migrationsOf(gen()), loadHistory);
  // The history after a restart, for its metrics: read once the backends had time to connect.
  setTimeout(() => void loadHistory().catch(() => undefined), 2_000).unref();
  if (discovery !== undefined) registerDiscovery(admin, discovery, loadWatch);
  const metrics = new Metrics();
  metrics.add(
    ...proxyFamilies(stats, () => gen().backends.all.reduce((n, b) => n + b.connections.reduce((m, c) => m + c.counters.tlsErrors, 0), 0)),
    ...backendFamilies(() => gen().backends),
    ...tlsFamilies(() => gen().config),
    ...replicationFamilies(() => gen()),
    ...migrationFamilies(
      () => migrationsOf(gen()).map((m) => m.status()),
      () => migrationsOf(gen()).map((m) => ({ pool: m.pool.name, id: m.id, holds: m.route.holds })),
      () => processHistory.latestPerPool(),
    ),
    ...(reloads === undefined ? [] : reloadFamilies(reloads)),
    ...(discovery === undefined ? [] : discoveryFamilies(() => discovery.snapshot())),
    ...loadFamilies(() => loadWatch?.snapshot() ?? []),
  );
  admin.get('/metrics', async () => ({ status: 200, body: await metrics.text(), contentType: metrics.contentType }));
  // The running config in memshift.yml's own names, the token redacted; ?format=yaml as a YAML file.
  admin.getGuarded('/config', (req) => {
    const rendered = renderConfig(gen().config);
    if (req.query.get('format') === 'yaml') return { status: 200, body: stringifyYaml(rendered), contentType: 'application/yaml; charset=utf-8' };
    return { status: 200, body: rendered };
  });
  // Re-reads the config from its file (or URL) and applies it; ?force=true accepts key-moving changes.
  // ?dry_run=true answers the same without changing anything, for the config source or for a config
  // sent in the body ({"config": "<YAML text>", "source": "<its name>"}: memshift check --against).
  admin.post('/reload', async (req) => {
    const flag = (name: string): boolean => req.query.get(name) === 'true' || req.query.get(name) === '1';
    const dryRun = flag('dry_run');
    const sent = configSent(req.body, dryRun);
    if (sent === undefined && source === undefined) throw new AdminHttpError(409, 'this memshift has no config source to reload from');
    const from = sent ?? (() => source!({ peek: dryRun }));
    const out = await reload(from, { force: flag('force'), dryRun, trigger: 'admin' });
    const status = out.result === 'refused' ? 409 : out.result === 'failed' ? 422 : 200;
    return { status, body: out };
  });
  return metrics;
}

/** The config a dry run was sent in the body (parsed when the reload runs), or undefined without a body. */
export function configSent(body: unknown, dryRun: boolean): (() => Config) | undefined {
  if (body === undefined) return undefined;
  if (!dryRun) throw new AdminHttpError(400, 'POST /reload reads the config from its source; a config in the body is for ?dry_run=true only');
  const { config, source } = (body ?? {}) as { config?: unknown; source?: unknown };
  if (typeof config !== 'string') throw new AdminHttpError(400, 'the body must be {"config": "<YAML text>", "source": "<its name>"}');
  const name = typeof source === 'string' && source !== '' ? source : '<sent config>';
  return () => parseConfig(config, name);
}

/**
 * GET /discovery: each DNS watch (its stable and candidate sets, failures, flapping, counters),
 * each pool's autopilot (its migration, the set waiting, the drained servers, refusals) and, with
 * `rebalance: suggest`, each group's load (src/discovery/load-watch.ts: per server, the imbalance and
 * the weights proposed); token off loopback, as /backends (it shows addresses). POST /migration/drain {"host": ..., "pool": ...}:
 * a migration that takes the host out of a discovered pool's ring (404: no such pool or server;
 * 409: a migration of the pool is not over).
 */
function registerDiscovery(admin: AdminEndpoints, discovery: DiscoveryRuntime, loadWatch: LoadWatch | undefined): void {
  admin.getGuarded('/discovery', () => ({ status: 200, body: { ...discovery.snapshot(), rebalance: loadWatch?.snapshot() ?? [] } }));
  admin.post('/migration/drain', async (req) => {
    const { host, pool } = (req.body ?? {}) as { host?: unknown; pool?: unknown };
    if (typeof host !== 'string' || host === '') throw new AdminHttpError(400, 'the body must be {"host": "<ring name, DNS name, address or IP>"} (and "pool" when several pools discover)');
    try {
      return { status: 200, body: await discovery.drain(host, typeof pool === 'string' ? pool : undefined) };
    } catch (err) {
      if (err instanceof DrainError) throw new AdminHttpError(err.reason === 'unknown' ? 404 : 409, err.message);
      throw err;
    }
  });
}
