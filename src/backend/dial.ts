/**
 * Every socket memshift opens to a memcached server is opened here: the proxy's backend
 * connections (connection.ts), the copy engine's meta and metadump connections (src/copy), and
 * `memshift sync`'s probe. Connect options (and, later, TLS) are set in this one place.
 */
import net from 'node:net';

/** A memcached server: TCP host/port or a unix socket path (the harness's and net.connect's shape). */
export type Endpoint = { readonly host: string; readonly port: number } | { readonly path: string };

/** A stable string for an endpoint: `host:port` or `unix:/path`. */
export function endpointId(e: Endpoint): string {
  return 'path' in e ? `unix:${e.path}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** Opens a connection to `endpoint` (no Nagle delay: requests are small and pipelined). */
export function dial(endpoint: Endpoint): net.Socket {
  const socket = 'path' in endpoint ? net.connect({ path: endpoint.path }) : net.connect({ host: endpoint.host, port: endpoint.port });
  socket.setNoDelay(true);
  return socket;
}
