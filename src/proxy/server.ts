/**
 * The proxy: its generation of pools (generation.ts), the client connections and their limit
 * (listeners.ts opens the sockets), reloads, and graceful shutdown: stop accepting, finish what is
 * in flight, then close.
 */
import net from 'node:net';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { MemshiftError } from '../errors.js';
import type { Dispatcher } from './dispatcher.js';
import { ClientConnection, type ClientContext } from './client-connection.js';
import { ProxyStats } from './stats.js';
import { startAdmin } from './admin-endpoints.js';
import { type Listeners, openListeners } from './listeners.js';
import { closeGeneration, startGeneration, switchGeneration } from './generation.js';
import { ReloadCounters, reloadGeneration, type ConfigSource, type ReloadOptions, type ReloadResult } from './reload.js';

export interface ProxyServer {
  close(): Promise<void>;
  readonly addresses: string[];
  readonly stats: ProxyStats;
  readonly dispatcher: Dispatcher;
  /** Applies a new config (see reload.ts); resolves to what happened, never rejects. */
  reload(next: ConfigSource, opts?: ReloadOptions): Promise<ReloadResult>;
}

export interface ProxyDeps {
  logger: Logger;
  /**
   * Re-reads the config from where it came from (POST /reload); `peek` for a dry run, which must not
   * make the source's watch take a change as seen. Absent: POST /reload answers 409.
   */
  reloadFromSource?: (opts?: { peek?: boolean }) => Config | Promise<Config>;
}

/** How long backends a reload dropped keep their connections at most, for requests in flight. */
const RETIRE_GRACE_MS = 30_000;

const TOO_MANY_CONNECTIONS = Buffer.from('ERROR Too many open connections\r\n');
const BINARY_LOG_INTERVAL_MS = 60_000;
const DRAIN_TIMEOUT_MS = 10_000;

export async function startProxy(config: Config, deps: ProxyDeps): Promise<ProxyServer> {
  const { logger } = deps;
  const stats = new ProxyStats();
  let gen = await startGeneration(config, stats, logger);
  const reloads = new ReloadCounters();
  // One reload at a time; each one reads the generation the previous one left.
  let reloading: Promise<unknown> = Promise.resolve();
  const reload = (next: ConfigSource, opts: ReloadOptions = {}): Promise<ReloadResult> => {
    const run = reloading.then(async () => {
      const result = await reloadGeneration(gen, next, opts, stats, logger, reloads);
      if (result.generation !== undefined) {
        const prev = gen;
        gen = result.generation;
        ctx.dispatcher = gen.dispatcher;
        ctx.limits = gen.config.limits;
        memory.max = gen.config.limits.maxReplyMemory;
        switchGeneration(prev, gen, RETIRE_GRACE_MS);
      }
      return result.outcome;
    });
    reloading = run.catch(() => undefined);
    return run;
  };
  // Ready (GET /readyz) once every listener is open, and no longer once draining starts.
  let ready = false;
  const admin = config.admin ? await startAdmin(() => gen, stats, logger, reloads, reload, deps.reloadFromSource, () => ready) : undefined;
  const clients = new Set<ClientConnection>();
  const memory = stats.replyMemory;
  memory.max = config.limits.maxReplyMemory;
  let lastBinaryLog = 0;

  const ctx: ClientContext = {
    dispatcher: gen.dispatcher,
    limits: config.limits,
    stats,
    memory,
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
    if (clients.size >= gen.config.limits.maxConnections) {
      stats.rejectedConnections++;
      socket.on('error', () => socket.destroy()); // a reset while we answer must not throw
      // As memcached does: the error, then the connection closed (not left half-open for the client).
      socket.end(TOO_MANY_CONNECTIONS, () => socket.destroy());
      return;
    }
    stats.currConnections++;
    stats.totalConnections++;
    clients.add(new ClientConnection(socket, ctx));
  };

  let listeners: Listeners;
  try {
    listeners = await openListeners(config.listen, onConnection, { maxConnections: config.limits.maxConnections, logger, stats });
  } catch (err) {
    await closeGeneration(gen);
    await admin?.close();
    throw new MemshiftError('MS_ERR_LISTEN', `cannot listen: ${(err as Error).message}`);
  }
  const { addresses } = listeners;
  ready = true;
  logger.info({ listen: addresses, pools: [...config.pools.keys()] }, 'memshift listening');

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      logger.info({ clients: clients.size }, 'shutting down: no new connections, draining in-flight requests');
      // Stops accepting at once, but resolves only when every accepted socket is gone.
      const closed = listeners.close();
      for (const c of clients) c.drainAndClose();
      const deadline = Date.now() + DRAIN_TIMEOUT_MS;
      while (clients.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      for (const c of clients) c.destroy();
      // Refused connections whose client never closed, TLS handshakes under way.
      listeners.destroyAll();
      await closed;
      await reloading;
      await closeGeneration(gen);
      await admin?.close();
      logger.info('shutdown complete');
    })();
    return closing;
  };

  return {
    close,
    addresses,
    stats,
    reload,
    get dispatcher() {
      return gen.dispatcher;
    },
  };
}
