/**
 * The client-facing listeners: TCP, TCP with TLS (a `listen` entry's `tls`) and unix sockets. Every
 * accepted socket is tracked until it closes, counted or not (refused past max_connections, or
 * still in its TLS handshake), so that a shutdown can end all of them: `server.close()` only calls
 * back once every socket is gone, and a refused client that never closes its side would hold it.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import type { ListenSpec } from '../config/types.js';
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
}

export interface ListenerOptions {
  readonly maxConnections: number;
  readonly logger: Logger;
  readonly stats: ProxyStats;
}

const HANDSHAKE_LOG_INTERVAL_MS = 60_000;

/** Opens every listener of `listen`; a client socket (TLS ones once their handshake is done) goes to `onSocket`. */
export async function openListeners(listen: readonly ListenSpec[], onSocket: (socket: net.Socket) => void, opts: ListenerOptions): Promise<Listeners> {
  const { logger, stats } = opts;
  const sockets = new Set<net.Socket>();
  const servers: net.Server[] = [];
  const stops: (() => void)[] = [];
  const addresses: string[] = [];
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
  try {
    for (const l of listen) {
      let server: net.Server;
      if (l.kind === 'tcp' && l.tls !== undefined) {
        const secure = tls.createServer({ ...listenerServerOptions(l.tls), noDelay: true }, onSocket);
        secure.on('tlsClientError', onTlsClientError);
        stops.push(
          rotateListenerTls(
            secure,
            l.tls,
            (err) => logger.error({ listen: l.raw, err: err.message }, 'listener TLS files changed but cannot be used: new connections keep the certificate read before'),
            () => logger.info({ listen: l.raw }, 'listener TLS files changed: new connections use them'),
          ),
        );
        server = secure;
      } else {
        server = net.createServer({ noDelay: true }, onSocket);
      }
      server.on('connection', track);
      server.maxConnections = opts.maxConnections + 64;
      servers.push(server);
      addresses.push(await bind(server, l));
      // Past listen(), an accept error (e.g. EMFILE) is logged; it must never end the process.
      server.on('error', (err) => logger.error({ err: err.message }, 'listener error'));
    }
  } catch (err) {
    for (const stop of stops) stop();
    for (const s of servers) s.close();
    throw err;
  }
  return {
    addresses,
    close: () => {
      for (const stop of stops) stop();
      return Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r())))).then(() => undefined);
    },
    destroyAll: () => {
      for (const s of sockets) s.destroy();
    },
  };
}

async function bind(server: net.Server, l: ListenSpec): Promise<string> {
  if (l.kind === 'unix') {
    removeStaleSocket(l.path);
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

/** A unix socket file left by a previous run that nothing listens on any more. */
function removeStaleSocket(path: string): void {
  try {
    if (fs.statSync(path).isSocket()) fs.unlinkSync(path);
  } catch {
    // absent: nothing to do
  }
}
