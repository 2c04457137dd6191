/**
 * The proxy: its generation of pools (generation.ts), the client connections and their limit
 * (proxy/listeners.ts opens the sockets), reloads, and graceful shutdown: stop accepting, finish what is
 * in flight, then close.
 */
import net from 'node:net';
import type { Config } from '../config/types.js';
import type { Logger } from '../observability/logger.js';
import { AdminHttpError, type AdminRoutes, type AdminServer } from '../admin/index.js';
import type { Metrics } from '../observability/metrics.js';
import type { Replication } from '../replication/index.js';
import type { Dispatcher } from '../proxy/dispatcher.js';
import { ClientConnection, type ClientContext } from '../proxy/client-connection.js';
import { ProxyStats } from '../proxy/stats.js';
import { registerEndpoints, startAdmin } from './admin-endpoints.js';
import { ONE_PROCESS, type WorkerRole } from './worker-role.js';
import { type Listeners, openListeners } from '../proxy/listeners.js';
import { closeGeneration, startGeneration, switchGeneration, type Generation } from './generation.js';
import { ReloadCounters, reloadGeneration, STOPPING, stoppingOutcome, type ConfigSource, type ReloadOptions, type ReloadResult } from './reload.js';
import { DiscoveryRuntime } from '../discovery/runtime.js';
import { LoadWatch } from '../discovery/load-watch.js';
import { DISCOVERY_TRIGGER, discoveryHost, loadHost } from './discovery-host.js';

export interface ProxyServer {
  close(): Promise<void>;
  readonly addresses: string[];
  readonly stats: ProxyStats;
  readonly dispatcher: Dispatcher;
  /** Applies a new config (see reload.ts); resolves to what happened, never rejects. */
  reload(next: ConfigSource, opts?: ReloadOptions): Promise<ReloadResult>;
  /** What GET /metrics reads (undefined without an admin API). */
  readonly metrics: Metrics | undefined;
  /** The current generation's replication (a reload keeps it). */
  readonly replication: Replication;
}

/** A worker of several (app/cluster): the admin process holds the admin listener and asks the workers. */
export interface WorkerDeps {
  readonly role: WorkerRole;
  /** Where this worker's admin endpoints go (the admin process forwards requests to them). */
  readonly endpoints: AdminRoutes;
  /** The client listeners are bound (shared by the workers through node:cluster). */
  onListening(addresses: readonly string[]): void;
}

export interface ProxyDeps {
  logger: Logger;
  /**
   * Re-reads the config from where it came from (POST /reload); `peek` for a dry run, which must not
   * make the source's watch take a change as seen. Absent: POST /reload answers 409.
   */
  reloadFromSource?: (opts?: { peek?: boolean }) => Config | Promise<Config>;
  /** Set in a worker of `workers: N`; absent: one process, with its own admin listener. */
  worker?: WorkerDeps;
}

/** How long backends a reload dropped keep their connections at most, for requests in flight. */
const RETIRE_GRACE_MS = 30_000;

const TOO_MANY_CONNECTIONS = Buffer.from('ERROR Too many open connections\r\n');
const BINARY_LOG_INTERVAL_MS = 60_000;
const DRAIN_TIMEOUT_MS = 10_000;

export async function startProxy(config: Config, deps: ProxyDeps): Promise<ProxyServer> {
  const { logger, worker } = deps;
  const role = worker?.role ?? ONE_PROCESS;
  // max_connections and max_reply_memory hold for memshift as a whole: each worker takes its share.
  const share = (n: number): number => Math.ceil(n / role.workers);
  const maxConnections = (c: Config): number => share(c.limits.maxConnections);
  const stats = new ProxyStats();
  // Set once the listeners are bound and the generation is built; the admin API answers 503 before.
  let gen: Generation | undefined;
  const current = (): Generation => {
    if (gen === undefined) throw new AdminHttpError(503, 'memshift is starting: not serving yet');
    return gen;
  };
  const reloads = new ReloadCounters();
  // Set when the shutdown starts (close()).
  let closing: Promise<void> | null = null;
  // One reload at a time; each one reads the generation the previous one left.
  let reloading: Promise<unknown> = Promise.resolve();
  // The discovered pools' servers and autopilot migrations (src/discovery): every generation runs
  // `discovery.effective(fileConfig)`, the file's config with them filled in. (In a worker of
  // several, each worker runs its own, as a sidecar of its own: they follow the same records.)
  const discovery = new DiscoveryRuntime(logger);
  // autopilot.rebalance: suggest: one process measures the servers' load, worker 0 (whose answer
  // GET /discovery and the metrics it exports are, alone, with workers: N).
  const loadWatch = role.index === 0 ? new LoadWatch(logger) : undefined;
  let fileConfig = config;
  const reload = (next: ConfigSource, opts: ReloadOptions = {}): Promise<ReloadResult> => {
    // Once the shutdown started (checked again when its turn comes): its generation, migrations and
    // timers would be built after the shutdown closed the generation, and hold the process up.
    if (closing !== null) return Promise.resolve(stoppingOutcome(opts.dryRun === true));
    const run = reloading.then(async () => {
      if (closing !== null) return stoppingOutcome(opts.dryRun === true);
      let file: Config | undefined;
      // A file's config gets the discovered servers (the pools it adds are resolved first); the
      // discovery's own reloads run the current file config with its new state.
      const source = async (): Promise<Config> => {
        if (opts.trigger === DISCOVERY_TRIGGER) return discovery.effective(fileConfig);
        file = typeof next === 'function' ? await next() : next;
        await discovery.prepare(file, false);
        return discovery.effective(file);
      };
      const result = await reloadGeneration(current(), source, opts, stats, logger, reloads, (c) => listeners.prepare(c.listen), (c) => listeners.probe(c.listen));
      if (result.generation !== undefined) {
        if (file !== undefined) fileConfig = file;
        discovery.reconfigured(fileConfig);
        const prev = current();
        gen = result.generation;
        ctx.dispatcher = gen.dispatcher;
        ctx.limits = gen.config.limits;
        memory.max = share(gen.config.limits.maxReplyMemory);
        // On every listener, kept and new: onConnection refuses past the new limit; the backstop
        // stays above the clients still connected when the limit went down under them.
        listeners.setMaxConnections(Math.max(maxConnections(gen.config), clients.size));
        switchGeneration(prev, gen, RETIRE_GRACE_MS);
      }
      return result.outcome;
    });
    reloading = run.catch(() => undefined);
    return run;
  };

  // Client sockets accepted before the generation is built wait, unread, until it is.
  const waiting = new Set<net.Socket>();
  let accept = (socket: net.Socket): void => {
    if (waiting.size >= maxConnections(config)) return refuse(socket);
    waiting.add(socket);
    socket.on('error', () => socket.destroy());
    socket.once('close', () => waiting.delete(socket));
  };
  const refuse = (socket: net.Socket): void => {
    stats.rejectedConnections++;
    socket.on('error', () => socket.destroy()); // a reset while we answer must not throw
    // As memcached does: the error, then the connection closed (not left half-open for the client).
    socket.end(TOO_MANY_CONNECTIONS, () => socket.destroy());
  };

  // Every listener is bound before anything else opens: one that cannot bind ends the start with
  // MS_ERR_LISTEN, having closed the others, with no backend connected and no migration joined.
  let ready = false;
  const listenerOptions = { maxConnections: maxConnections(config), logger, stats };
  const listeners: Listeners = await openListeners(config.listen, (socket) => accept(socket), listenerOptions);
  worker?.onListening(listeners.addresses);
  let admin: AdminServer | undefined;
  let metrics: Metrics | undefined;
  try {
    if (worker !== undefined) metrics = registerEndpoints(worker.endpoints, { gen: current, stats, logger, reload, source: undefined, discovery, loadWatch });
    // Ready (GET /readyz) once the generation serves, and no longer once draining starts.
    else if (config.admin) ({ server: admin, metrics } = await startAdmin(config, { gen: current, stats, logger, reloads, reload, source: deps.reloadFromSource, ready: () => ready, discovery, loadWatch }));
    await discovery.prepare(config, true);
    gen = await startGeneration(discovery.effective(config), stats, logger, undefined, { role });
    // An autopilot migration on record wins over this sidecar's DNS answer: built again before serving.
    if (await discovery.adopt(discoveryHost(() => gen!, reload))) {
      const next = await startGeneration(discovery.effective(config), stats, logger, gen, { role });
      switchGeneration(gen, next, RETIRE_GRACE_MS);
      gen = next;
    }
    discovery.start(discoveryHost(current, reload), config);
    loadWatch?.start(loadHost(current));
  } catch (err) {
    discovery.close();
    loadWatch?.close();
    if (gen !== undefined) await closeGeneration(gen);
    listeners.destroyAll();
    await Promise.all([listeners.close(), admin?.close()]);
    throw err;
  }
  const clients = new Set<ClientConnection>();
  const memory = stats.replyMemory;
  memory.max = share(config.limits.maxReplyMemory);
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
    if (clients.size >= maxConnections(current().config)) return refuse(socket);
    stats.currConnections++;
    stats.totalConnections++;
    clients.add(new ClientConnection(socket, ctx));
  };
  accept = onConnection;
  for (const socket of waiting) if (!socket.destroyed) onConnection(socket);
  waiting.clear();
  ready = true;
  logger.info({ listen: listeners.addresses, pools: [...config.pools.keys()] }, 'memshift listening');

  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      // The admin API keeps answering GETs (readyz: not ready, metrics) until the end, but no more
      // POST: a reload or a migration action now would build what the shutdown no longer closes.
      admin?.refuseMutations(STOPPING);
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
      discovery.close();
      loadWatch?.close();
      await closeGeneration(current());
      await admin?.close();
      worker?.endpoints.close();
      logger.info('shutdown complete');
    })();
    return closing;
  };

  return {
    close,
    get addresses() {
      return [...listeners.addresses];
    },
    stats,
    reload,
    metrics,
    get dispatcher() {
      return current().dispatcher;
    },
    get replication() {
      return current().replication;
    },
  };
}
