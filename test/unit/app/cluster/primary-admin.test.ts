/**
 * The admin process of workers: N answers every endpoint a worker registers (by asking worker 0,
 * every worker, or itself): an endpoint added to one process's admin API and not to the primary's
 * fails here.
 */
import { describe, expect, it } from 'vitest';
import { AdminHttpError, AdminRoutes } from '../../../../src/admin/index.js';
import { createLogger } from '../../../../src/observability/logger.js';
import { ProxyStats } from '../../../../src/proxy/stats.js';
import { registerEndpoints } from '../../../../src/app/admin-endpoints.js';
import { WORKER_ENDPOINTS } from '../../../../src/app/cluster/primary-admin.js';
import { reloadOutcome } from '../../../../src/app/reload.js';
import { DiscoveryRuntime } from '../../../../src/discovery/runtime.js';

describe('the primary admin API', () => {
  it('serves every endpoint a worker has', async () => {
    const logger = createLogger({ level: 'silent' });
    const routes = new AdminRoutes(logger);
    registerEndpoints(routes, {
      gen: () => {
        throw new AdminHttpError(503, 'starting');
      },
      stats: new ProxyStats(),
      logger,
      reload: () => Promise.resolve(reloadOutcome('unchanged', false)),
      source: undefined,
      // Every process has one (app/server.ts): GET /discovery, POST /migration/drain.
      discovery: new DiscoveryRuntime(logger),
    });
    const registered = routes.paths().flatMap((r) => r.methods.map((m) => `${m} ${r.path}`));
    expect(registered.sort()).toEqual([...WORKER_ENDPOINTS].sort());
    expect(await routes.answer({ method: 'GET', path: '/migration', query: new URLSearchParams(), body: undefined })).toEqual({ status: 503, body: { error: 'starting' } });
    expect(await routes.answer({ method: 'PUT', path: '/migration', query: new URLSearchParams(), body: undefined })).toEqual({ status: 405, body: { error: 'method PUT not allowed on /migration' } });
    routes.close();
  });
});
