/**
 * The admin API of `workers: N`, in the primary: the one admin listener. It checks the token and
 * reads the body (admin/server.ts) as one process does, then asks the workers:
 *
 *   GET  /healthz, /readyz                  the primary: ready while every worker serves
 *   GET  /metrics                           every worker's families folded (merge.ts), and the
 *                                           primary's own (reloads, workers, restarts, its process)
 *   GET  /backends                          every worker's sample, added up per backend (merge.ts)
 *   GET  /config, /replication, /migration, /migration/history, /discovery
 *                                           worker 0 (the config and the records are the same in
 *                                           every worker; worker 0 owns the logs and leads)
 *   POST /migration/{start,pause,resume,abort,probe,drain}
 *                                           worker 0; the record carries it to the others
 *   POST /reload                            every worker, all or none (primary.ts)
 *
 * While worker 0 is forked again, what only it answers is 503.
 */
import { AdminHttpError, AdminServer, registerReadyz, type AdminHandler, type AdminRequest } from '../../admin/index.js';
import type { Config } from '../../config/types.js';
import type { Logger } from '../../observability/logger.js';
import { family, Metrics } from '../../observability/metrics.js';
import { adminToken, configSent } from '../admin-endpoints.js';
import type { BackendsBody } from '../backends-endpoint.js';
import { reloadFamilies } from '../metrics/reload-metrics.js';
import type { ConfigSource, ReloadCounters, ReloadOptions, ReloadResult } from '../reload.js';
import { CallError, type Caller } from './calls.js';
import { aggregateMetrics, mergeBackends } from './merge.js';
import { forwardedRequest } from './messages.js';

/** How long a forwarded admin request waits for a worker (a history read, a migration action). */
const ADMIN_CALL_MS = 30_000;
/** How long /metrics waits for each worker's families. */
const METRICS_CALL_MS = 5_000;

export interface PrimaryAdminDeps {
  logger: Logger;
  reloads: ReloadCounters;
  /** The workers that serve now, worker 0 first (none while starting). */
  serving(): readonly { index: number; caller: Caller }[];
  /** Every worker serves (GET /readyz), and no shutdown started. */
  ready(): boolean;
  /** Worker 0 has served once: before, the endpoints answer 503 "starting", as one process does. */
  started(): boolean;
  /** Workers configured, workers serving, and worker restarts so far (for /metrics). */
  counts(): { workers: number; serving: number; restarts: number };
  reload(next: ConfigSource, opts: ReloadOptions): Promise<ReloadResult>;
  source: ((opts?: { peek?: boolean }) => Config | Promise<Config>) | undefined;
}

const FORWARDED_GETS = ['/config', '/replication', '/migration', '/migration/history', '/discovery'] as const;
const GUARDED = new Set(['/config', '/migration/history', '/backends', '/discovery']);
const FORWARDED_POSTS = ['/migration/start', '/migration/pause', '/migration/resume', '/migration/abort', '/migration/probe', '/migration/drain'] as const;

/** Every endpoint of a worker's the primary answers (a test checks that a worker registers no other). */
export const WORKER_ENDPOINTS: readonly string[] = [...FORWARDED_GETS.map((p) => `GET ${p}`), 'GET /backends', 'GET /metrics', ...FORWARDED_POSTS.map((p) => `POST ${p}`), 'POST /reload'];

export async function startPrimaryAdmin(config: Config, deps: PrimaryAdminDeps): Promise<AdminServer> {
  const a = config.admin!;
  const { logger } = deps;
  const admin = await AdminServer.start({ host: a.host, port: a.port, token: adminToken(config, logger), logger, tls: a.tls });
  registerReadyz(admin, deps.ready);
  const serving = (): readonly { index: number; caller: Caller }[] => {
    if (!deps.started()) throw new AdminHttpError(503, 'memshift is starting: not serving yet');
    return deps.serving();
  };
  const asked = async <T>(p: Promise<T>): Promise<T> => {
    try {
      return await p;
    } catch (err) {
      if (err instanceof CallError) throw new AdminHttpError(err.status, err.message);
      throw err;
    }
  };
  /** Worker 0's answer. */
  const owner: AdminHandler = async (req) => {
    const w = serving()[0];
    if (w === undefined || w.index !== 0) throw new AdminHttpError(503, 'worker 0 is being forked again: try again in a moment');
    return asked(w.caller.call('admin', forwardedRequest(req), ADMIN_CALL_MS));
  };
  for (const path of FORWARDED_GETS) (GUARDED.has(path) ? admin.getGuarded : admin.get).call(admin, path, owner);
  for (const path of FORWARDED_POSTS) admin.post(path, owner);

  admin.getGuarded('/backends', async (req: AdminRequest) => {
    const answers = await asked(Promise.all(serving().map((w) => w.caller.call('admin', forwardedRequest(req), ADMIN_CALL_MS))));
    const bad = answers.find((x) => x.status !== 200);
    if (bad !== undefined) return bad;
    return { status: 200, body: mergeBackends(answers.map((x) => x.body as BackendsBody), performance.now()) };
  });

  const own = new Metrics();
  own.add(
    ...reloadFamilies(deps.reloads),
    family('memshift_workers', 'Worker processes configured (workers:).', 'gauge', () => [{ labels: {}, value: deps.counts().workers }], 'first'),
    family('memshift_workers_serving', 'Worker processes serving now (one that died is forked again).', 'gauge', () => [{ labels: {}, value: deps.counts().serving }], 'first'),
    family('memshift_worker_restarts_total', 'Worker processes forked again after they ended unasked.', 'counter', () => [{ labels: {}, value: deps.counts().restarts }], 'first'),
  );
  admin.get('/metrics', async () => {
    const workers = await asked(Promise.all(serving().map((w) => w.caller.call('metrics', {}, METRICS_CALL_MS))));
    const body = await aggregateMetrics([await own.registry.getMetricsAsJSON(), ...workers]);
    return { status: 200, body, contentType: own.contentType };
  });

  // As one process's (admin-endpoints.ts): the source's config, or a dry run of one sent in the body.
  admin.post('/reload', async (req) => {
    const flag = (name: string): boolean => req.query.get(name) === 'true' || req.query.get(name) === '1';
    const dryRun = flag('dry_run');
    const sent = configSent(req.body, dryRun);
    if (sent === undefined && deps.source === undefined) throw new AdminHttpError(409, 'this memshift has no config source to reload from');
    serving();
    const from = sent ?? (() => deps.source!({ peek: dryRun }));
    const out = await deps.reload(from, { force: flag('force'), dryRun, trigger: 'admin' });
    const status = out.result === 'refused' ? 409 : out.result === 'failed' ? 422 : 200;
    return { status, body: out };
  });
  logger.info({ admin: admin.address }, 'admin listening');
  return admin;
}
