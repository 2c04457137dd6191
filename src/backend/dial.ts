/**
 * Every socket memshift opens to a memcached server is opened here: the proxy's backend
 * connections (connection.ts), the copy engine's meta and metadump connections (src/copy), and
 * `memshift sync`'s probe. Connect options and TLS (src/tls) are set in this one place; a
 * reconnect offers the server's last TLS session, to resume it.
 *
 * A server discovered by its stable DNS name (src/discovery, `names: hostname`) is configured by that
 * name: the discovery points the name at the address its last look-up gave (`pointName`), and every
 * connect goes there (TLS checks the certificate against the name: its `server_name`). So a pod back with a
 * new address is the same backend, reached at its new address on the next connect.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { BackendAuthConfig, BackendTlsConfig, ServerSpec } from '../config/types.js';
import { keepTlsSession, tlsConnectOptions } from '../tls/index.js';

/** A memcached server: TCP host/port (with its TLS and authentication settings, if any) or a unix socket path. */
export type Endpoint = { readonly host: string; readonly port: number; readonly tls?: BackendTlsConfig; readonly auth?: BackendAuthConfig } | { readonly path: string };

/** Discovered DNS names and the address each has now (pointName). */
const pointed = new Map<string, string>();

/** Connects to `name` go to `address` from now on (undefined: resolved as any host name again). */
export function pointName(name: string, address: string | undefined): void {
  if (address === undefined) pointed.delete(name);
  else pointed.set(name, address);
}

/** Where a connect to `host` goes: the address a discovered name points to, else `host` itself. */
export const dialHost = (host: string): string => pointed.get(host) ?? host;

/** A stable string for an endpoint: `host:port` or `unix:/path`. */
export function endpointId(e: Endpoint): string {
  return 'path' in e ? `unix:${e.path}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** A configured server as an endpoint (with its TLS settings). */
export function endpointOf(s: ServerSpec): Endpoint {
  return { host: s.host, port: s.port, ...(s.tls === undefined ? {} : { tls: s.tls }), ...(s.auth === undefined ? {} : { auth: s.auth }) };
}

/**
 * Opens a connection to `endpoint` (no Nagle delay: requests are small and pipelined). It is ready
 * for requests on `readyEvent(socket)`: `connect`, or `secureConnect` once TLS is established. A
 * TLS material error (a file that cannot be read) is emitted as the socket's `error`.
 */
export function dial(endpoint: Endpoint): net.Socket {
  if ('path' in endpoint) return noDelay(net.connect({ path: endpoint.path }));
  const host = dialHost(endpoint.host);
  if (endpoint.tls === undefined) return noDelay(net.connect({ host, port: endpoint.port }));
  let options: tls.ConnectionOptions;
  try {
    // A discovered server's TLS settings name its DNS name (toServerSpec), checked against the certificate.
    options = tlsConnectOptions(endpoint.tls, host, endpoint.port);
  } catch (err) {
    const failed = new net.Socket();
    process.nextTick(() => failed.destroy(err as Error));
    return failed;
  }
  const socket = tls.connect(options);
  keepTlsSession(socket, options);
  return noDelay(socket);
}

/** The event after which `socket` (from dial) takes requests. */
export function readyEvent(socket: net.Socket): 'connect' | 'secureConnect' {
  return socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect';
}

function noDelay(socket: net.Socket): net.Socket {
  socket.setNoDelay(true);
  return socket;
}
