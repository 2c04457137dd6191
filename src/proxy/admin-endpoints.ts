/**
 * The admin HTTP listener's endpoints: /healthz (built in), /readyz,
 * /replication, /config and /metrics. Reload and the migration endpoints
 * come with those features. The token: admin.token, else admin.token_file, else
 * MEMSHIFT_ADMIN_TOKEN; without one, mutating endpoints answer 403.
 */
import { readFileSync } from 'node:fs';
import { AdminServer, registerReadyz } from '../admin/index.js';
import type { BackendPool } from '../backend/index.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import type { Replication } from '../replication/index.js';
import type { Dispatcher } from './dispatcher.js';
import type { ProxyStats } from './stats.js';
import { Metrics } from '../observability/metrics.js';
import { registerMigration } from '../migration/admin.js';
import type { Migration } from '../migration/index.js';
import { backendFamilies } from '../observability/backend-metrics.js';
import { proxyFamilies } from '../observability/proxy-metrics.js';
import { replicationFamilies } from '../observability/replication-metrics.js';
import { migrationFamilies } from '../observability/migration-metrics.js';

export const ADMIN_TOKEN_ENV = 'MEMSHIFT_ADMIN_TOKEN';

function adminToken(config: Config): string | undefined {
  const a = config.admin!;
  if (a.token !== undefined) return a.token;
  if (a.tokenFile !== undefined) return readFileSync(a.tokenFile, 'utf8').trim();
  return process.env[ADMIN_TOKEN_ENV];
}

export async function startAdmin(
  config: Config,
  dispatcher: Dispatcher,
  replication: Replication,
  backends: BackendPool,
  stats: ProxyStats,
  logger: Logger,
  migrations: readonly (Migration | undefined)[] = [],
): Promise<AdminServer> {
  const a = config.admin!;
  const admin = await AdminServer.start({ host: a.host, port: a.port, token: adminToken(config), logger });
  registerReadyz(admin, () => true);
  admin.get('/replication', () => ({ status: 200, body: replication.status(dispatcher.router, backends) }));
  const migrating = (): Migration[] => migrations.filter((m): m is Migration => m !== undefined);
  registerMigration(admin, migrating);
  const metrics = new Metrics();
  metrics.add(
    ...proxyFamilies(stats),
    ...backendFamilies(backends),
    ...replicationFamilies(replication, dispatcher.router, backends),
    ...migrationFamilies(() => migrating().map((m) => m.status())),
  );
  admin.get('/metrics', async () => ({ status: 200, body: await metrics.text(), contentType: metrics.contentType }));
  admin.get('/config', () => ({
    status: 200,
    body: { ...config, pools: Object.fromEntries(config.pools), admin: { ...a, token: a.token === undefined ? undefined : '<redacted>' } },
  }));
  logger.info({ admin: admin.address }, 'admin listening');
  return admin;
}
