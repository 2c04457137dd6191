/**
 * The client-facing listeners (TCP and unix sockets), the connection limit, and
 * graceful shutdown: stop accepting, finish what is in flight, then close.
 */
import net from 'node:net';
import fs from 'node:fs';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { BackendPool } from '../backend/index.js';
import { MemshiftError } from '../errors.js';
import { Router } from '../routing/index.js';
import { Dispatcher } from './dispatcher.js';
import { ClientConnection, type ClientContext } from './client-connection.js';
import { ProxyStats } from './stats.js';
import { Replication } from '../replication/index.js';
import { startAdmin } from './admin-endpoints.js';
import { Migration, MigrationRoute, activeSpace, type FailoverSpec } from '../migration/index.js';
import { FailoverWatch } from '../migration/failover.js';
import type { PoolConfig } from '../config/types.js';

export interface ProxyServer {
  close(): Promise<void>;
  readonly addresses: string[];
  readonly stats: ProxyStats;
  readonly dispatcher: Dispatcher;
}

const TOO_MANY_CONNECTIONS = Buffer.from('ERROR Too many open connections\r\n');
const BINARY_LOG_INTERVAL_MS = 60_000;
const DRAIN_TIMEOUT_MS = 10_000;

export async function startProxy(config: Config, deps: { logger: Logger }): Promise<ProxyServer> {
  const { logger } = deps;
  const stats = new ProxyStats();
  const pools = new Router(config).pools;
  const backends = new BackendPool(config, pools, logger);
  const dispatcher = new Dispatcher(config, backends, stats);
  const replication = new Replication(config, dispatcher.router, backends, stats, logger);
  dispatcher.useReplication(replication.byPool);
  const migrations = startMigrations(pools, dispatcher, backends, stats, logger);
  const failovers = watchFailovers(pools, replication, migrations, logger);
  dispatcher.migrationRunning = () => migrations.some((m) => m?.running === true);
  // Join a running migration (or failover) in its phase before taking clients.
  await Promise.all([...migrations.map((m) => m?.start()), ...failovers.map((f) => f.start())]);
  const admin = config.admin ? await startAdmin(config, dispatcher, replication, backends, stats, logger, migrations) : undefined;
  const clients = new Set<ClientConnection>();
  let lastBinaryLog = 0;

  const ctx: ClientContext = {
    dispatcher,
    limits: config.limits,
    stats,
    onBinaryProtocol() {
      stats.binaryRejected++;
      const t = Date.now();
      if (t - lastBinaryLog >= BINARY_LOG_INTERVAL_MS) {
        lastBinaryLog = t;
        logger.warn(
          { rejected: stats.binaryRejected },
          'binary protocol is not supported: memshift speaks the text and meta protocols; connection closed',
        );
      }
    },
    onClosed(client) {
      if (clients.delete(client)) stats.currConnections--;
    },
  };

  const onConnection = (socket: net.Socket): void => {
    if (clients.size >= config.limits.maxConnections) {
      stats.rejectedConnections++;
      socket.on('error', () => socket.destroy()); // a reset while we answer must not throw
      socket.end(TOO_MANY_CONNECTIONS);
      return;
    }
    stats.currConnections++;
    stats.totalConnections++;
    clients.add(new ClientConnection(socket, ctx));
  };

  const servers: net.Server[] = [];
  const addresses: string[] = [];
  try {
    for (const l of config.listen) {
      const server = net.createServer({ noDelay: true }, onConnection);
      server.maxConnections = config.limits.maxConnections + 64;
      if (l.kind === 'unix') {
        removeStaleSocket(l.path);
        await listen(server, { path: l.path });
        if (l.mode !== undefined) fs.chmodSync(l.path, l.mode);
        addresses.push(`unix:${l.path}`);
      } else {
        await listen(server, { host: l.host, port: l.port });
        const a = server.address() as net.AddressInfo;
        addresses.push(`${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`);
      }
      // Past listen(), an accept error (e.g. EMFILE) is logged; it must never end the process.
      server.on('error', (err) => logger.error({ err: err.message }, 'listener error'));
      servers.push(server);
    }
  } catch (err) {
    for (const s of servers) s.close();
    backends.close();
    await admin?.close();
    throw new MemshiftError('MS_ERR_LISTEN', `cannot listen: ${(err as Error).message}`);
  }
  logger.info({ listen: addresses, pools: pools.map((p) => p.name) }, 'memshift listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info({ clients: clients.size }, 'shutting down: no new connections, draining in-flight requests');
      // server.close() stops accepting at once but calls back only when every connection is gone.
      const closed = Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
      for (const c of clients) c.drainAndClose();
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      while (clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const c of clients) c.destroy();
      await closed;
      await Promise.all([...migrations.map((m) => m?.close()), ...failovers.map((f) => f.close())]);
      backends.close();
      await replication.close();
      await admin?.close();
      logger.info('shutdown complete');
    })();
    return closing;
  };

  return { close, addresses, stats, dispatcher };
}

/** A Migration per pool with a `migration:` block (undefined for the others), wired into the dispatcher. */
function startMigrations(pools: readonly PoolConfig[], dispatcher: Dispatcher, backends: BackendPool, stats: ProxyStats, logger: Logger): (Migration | undefined)[] {
  const routes: (MigrationRoute | undefined)[] = [];
  const migrations = pools.map((pool, p) => {
    if (pool.migration === undefined) return undefined;
    if (pool.groups.length > 1) {
      throw new MemshiftError('MS_ERR_CONFIG', `pool "${pool.name}": migrating a pool with replica groups is not supported yet; migrate each group as its own pool, or rebuild groups with memshift sync`);
    }
    const space = activeSpace(pool, p, dispatcher.router, backends, dispatcher, stats);
    routes[p] = space.route;
    return new Migration(pool, space, logger);
  });
  if (migrations.some((m) => m !== undefined)) dispatcher.useMigration(routes);
  return migrations;
}

/**
 * A FailoverWatch per pool with replica groups and `failover_after` (passive migration); the
 * failover's Migration takes the pool's place in `migrations` once there is one.
 */
function watchFailovers(pools: readonly PoolConfig[], replication: Replication, migrations: (Migration | undefined)[], logger: Logger): FailoverWatch[] {
  return pools.flatMap((pool, p) => {
    if (pool.failoverAfterMs === undefined) return [];
    const groups = replication.byPool[p];
    if (groups === undefined) {
      logger.warn({ pool: pool.name }, `pool "${pool.name}": failover_after needs replica groups (a dead server's keys are copied from a healthy group); it is ignored on a pool without them`);
      return [];
    }
    const onMigration = (m: Migration, spec: FailoverSpec): void => {
      migrations[p] = m;
      replication.markResync(p, spec.server, `failed over (${m.id})`);
    };
    return [new FailoverWatch(pool, groups, logger, onMigration)];
  });
}

function listen(server: net.Server, opts: net.ListenOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** A unix socket file left by a previous run that nothing listens on any more. */
function removeStaleSocket(path: string): void {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // absent: nothing to do
  }
}
