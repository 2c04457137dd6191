/**
 * The client-facing listeners: TCP, TCP with TLS (a `listen` entry's `tls`) and unix sockets. Every
 * accepted socket is tracked until it closes, counted or not (refused past max_connections, or
 * still in its TLS handshake), so that a shutdown can end all of them: `server.close()` only calls
 * back once every socket is gone, and a refused client that never closes its side would hold it.
 *
 * Opening is all or nothing: when one listener cannot bind, those already bound are closed and the
 * error names the listener (MS_ERR_LISTEN). A reload opens the listeners the new config adds the same
 * way (`prepare`) before anything else changes, and closes those it drops only once it is applied;
 * the clients connected through a dropped listener stay.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import type { ListenSpec } from '../config/types.js';
import { listenKeys } from '../config/listen.js';
import { MemshiftError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { listenerServerOptions, rotateListenerTls } from '../tls/index.js';
import type { ProxyStats } from './stats.js';

export interface Listeners {
  /** Where each listener is bound (`host:port`, `[v6]:port` or `unix:/path`), in config order. */
  readonly addresses: string[];
  /** Stops accepting; resolves once every accepted socket has closed (see `destroyAll`). */
  close(): Promise<void>;
  /** Ends every socket still open (refused, in a TLS handshake, or a client past the drain). */
  destroyAll(): void;
  /**
   * Binds the listeners of `next` that are not open (rejects with MS_ERR_LISTEN, having closed
   * what it bound, when one cannot bind). `commit` then closes those `next` drops; `abort` closes
   * the new ones. Either leaves `addresses` in the order of the listen list that holds.
   */
  prepare(next: readonly ListenSpec[]): Promise<ListenerChange>;
  /**
   * For a dry run: would `prepare(next)` bind? Each listener of `next` that is not open is bound
   * and closed at once (a client that connects meanwhile is dropped, never served); a unix socket
   * path is looked at, not taken: a live socket or another file there fails, a stale socket passes
   * when its directory is writable (prepare would remove it). Rejects as prepare does; leaves nothing.
   */
  probe(next: readonly ListenSpec[]): Promise<void>;
  /**
   * Sets every listener's backstop (and that of those opened later) from `clients`: the clients
   * that may be connected (max_connections, or more when a reload lowered it under the clients
   * still connected) plus BACKSTOP_SLACK.
   */
  setMaxConnections(clients: number): void;
}

export interface ListenerChange {
  commit(): void;
  abort(): void;
}

export interface ListenerOptions {
  /** max_connections: each listener's backstop is set from it (see `setMaxConnections`). */
  readonly maxConnections: number;
  readonly logger: Logger;
  readonly stats: ProxyStats;
}

interface Open {
  readonly spec: ListenSpec;
  readonly server: net.Server;
  readonly address: string;
  /** Stops the TLS file watch, once. */
  readonly stop: () => void;
  /** Set by the first close: resolves once the listener's last socket is gone. */
  closed?: Promise<void>;
}

const HANDSHAKE_LOG_INTERVAL_MS = 60_000;
/**
 * Room past max_connections on each listener's server.maxConnections, a backstop only: a client
 * over the limit is accepted and refused with memcached's "ERROR Too many open connections"
 * (app/server.ts); Node destroys, without a word, only what comes past the backstop (a flood of TLS
 * handshakes, refused sockets not yet gone).
 */
export const BACKSTOP_SLACK = 64;

/** Opens every listener of `listen`; a client socket (TLS ones once their handshake is done) goes to `onSocket`. */
export async function openListeners(listen: readonly ListenSpec[], onSocket: (socket: net.Socket) => void, opts: ListenerOptions): Promise<Listeners> {
  const { logger, stats } = opts;
  let maxConnections = opts.maxConnections;
  const sockets = new Set<net.Socket>();
  const track = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  let lastHandshakeLog = 0;
  const onTlsClientError = (err: Error, socket: tls.TLSSocket): void => {
    stats.sslHandshakeErrors++;
    const t = Date.now();
    if (t - lastHandshakeLog < HANDSHAKE_LOG_INTERVAL_MS) return;
    lastHandshakeLog = t;
    logger.warn({ err: err.message, client: socket.remoteAddress, failed: stats.sslHandshakeErrors }, 'TLS handshake with a client failed: connection closed');
  };

  const openOne = async (l: ListenSpec): Promise<Open> => {
    let server: net.Server;
    let stop = (): void => undefined;
    if (l.kind === 'tcp' && l.tls !== undefined) {
      const secure = tls.createServer({ ...listenerServerOptions(l.tls), noDelay: true }, onSocket);
      secure.on('tlsClientError', onTlsClientError);
      stop = rotateListenerTls(
        secure,
        l.tls,
        (err) => logger.error({ listen: l.raw, err: err.message }, 'listener TLS files changed but cannot be used: new connections keep the certificate read before'),
        () => logger.info({ listen: l.raw }, 'listener TLS files changed: new connections use them'),
      );
      server = secure;
    } else {
      server = net.createServer({ noDelay: true }, onSocket);
    }
    server.on('connection', track);
    server.maxConnections = maxConnections + BACKSTOP_SLACK;
    try {
      const address = await bind(server, l);
      // Past listen(), an accept error (e.g. EMFILE) is logged; it must never end the process.
      server.on('error', (err) => logger.error({ listen: address, err: err.message }, 'listener error'));
      return { spec: l, server, address, stop };
    } catch (err) {
      stop();
      server.close();
      throw listenError(l, err);
    }
  };
  /** Opens each of `specs` in order; when one fails, closes those it opened and rethrows. */
  const openAll = async (specs: readonly ListenSpec[]): Promise<Open[]> => {
    const opened: Open[] = [];
    try {
      for (const l of specs) opened.push(await openOne(l));
      return opened;
    } catch (err) {
      for (const o of opened) void closeOne(o);
      throw err;
    }
  };
  const closeOne = (o: Open): Promise<void> => {
    o.stop();
    o.closed ??= new Promise<void>((resolve) => o.server.close(() => resolve()));
    return o.closed;
  };

  let current = await openAll(listen);
  /** Listeners a reload closed: their sockets may still be open, and a shutdown waits for them too. */
  const dropped: Open[] = [];
  const addresses: string[] = current.map((o) => o.address);
  /** The listeners of `next` that are not open. */
  const notOpen = (next: readonly ListenSpec[]): ListenSpec[] => {
    const open = new Set(listenKeys(current.map((o) => o.spec)));
    const nextKeys = listenKeys(next);
    return next.filter((_, i) => !open.has(nextKeys[i]!));
  };
  const setCurrent = (next: Open[]): void => {
    current = next;
    addresses.splice(0, addresses.length, ...next.map((o) => o.address));
  };

  return {
    addresses,
    close: () => Promise.all([...current, ...dropped].map(closeOne)).then(() => undefined),
    destroyAll: () => {
      for (const s of sockets) s.destroy();
    },
    async probe(next) {
      for (const l of notOpen(next)) await probeOne(l);
    },
    setMaxConnections(clients) {
      maxConnections = clients;
      for (const o of current) o.server.maxConnections = clients + BACKSTOP_SLACK;
    },
    async prepare(next) {
      const keys = listenKeys(current.map((o) => o.spec));
      const nextKeys = listenKeys(next);
      const byKey = new Map(current.map((o, i) => [keys[i]!, o]));
      const adds = notOpen(next);
      const added = await openAll(adds);
      const addedBySpec = new Map(adds.map((spec, i) => [spec, added[i]!]));
      const kept = new Set(nextKeys);
      const drops = current.filter((_, i) => !kept.has(keys[i]!));
      return {
        commit: () => {
          for (const o of drops) {
            dropped.push(o);
            void closeOne(o);
          }
          setCurrent(next.map((spec, i) => addedBySpec.get(spec) ?? byKey.get(nextKeys[i]!)!));
        },
        abort: () => {
          for (const o of added) void closeOne(o);
        },
      };
    },
  };
}

function listenError(l: ListenSpec, err: unknown): MemshiftError {
  const where = l.kind === 'unix' ? `unix:${l.path}` : l.raw;
  return new MemshiftError('MS_ERR_LISTEN', `cannot listen on ${where}: ${(err as Error).message}`, { cause: err });
}

/** Would `l` bind? A TCP address is bound and closed at once; a unix path is looked at (see Listeners.probe). */
async function probeOne(l: ListenSpec): Promise<void> {
  try {
    if (l.kind === 'unix') {
      const state = await socketFile(l.path);
      if (state === 'live' || state === 'other') throw Object.assign(new Error(`listen EADDRINUSE: address already in use ${l.path}`), { code: 'EADDRINUSE' });
      if (state === 'stale') return fs.accessSync(path.dirname(l.path), fs.constants.W_OK);
    }
    const server = net.createServer((socket) => socket.destroy());
    await listen(server, l.kind === 'unix' ? { path: l.path } : { host: l.host, port: l.port });
    await new Promise((resolve) => server.close(resolve));
  } catch (err) {
    throw listenError(l, err);
  }
}

async function bind(server: net.Server, l: ListenSpec): Promise<string> {
  if (l.kind === 'unix') {
    await removeStaleSocket(l.path);
    await listen(server, { path: l.path });
    if (l.mode !== undefined) fs.chmodSync(l.path, l.mode);
    return `unix:${l.path}`;
  }
  await listen(server, { host: l.host, port: l.port });
  const a = server.address() as net.AddressInfo;
  return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
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

/**
 * A unix socket file left by a previous run that nothing listens on any more is removed; one a live
 * process listens on (it accepts a connection) is left, so that the bind fails (EADDRINUSE) instead
 * of taking the path from it. Anything else at the path (a file, a directory) is left to fail too.
 */
async function removeStaleSocket(file: string): Promise<void> {
  if ((await socketFile(file)) !== 'stale') return;
  try {
    fs.unlinkSync(file);
  } catch {
    // gone meanwhile, or not ours to remove: listen says why
  }
}

/** What is at a unix socket path: nothing (or unreadable: listen says why), a socket a process listens on, a stale one, another file. */
async function socketFile(file: string): Promise<'absent' | 'live' | 'stale' | 'other'> {
  let socket: boolean;
  try {
    socket = fs.statSync(file).isSocket();
  } catch {
    return 'absent';
  }
  if (!socket) return 'other';
  const live = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path: file });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => resolve(err.code !== 'ECONNREFUSED' && err.code !== 'ENOENT'));
  });
  return live ? 'live' : 'stale';
}
