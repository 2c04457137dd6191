/** Client-side families from ProxyStats: connections, bytes, commands and their results. */
import type { Metric } from 'prom-client';
import type { ProxyStats } from '../../proxy/stats.js';
import { family, type Sample } from '../../observability/metrics.js';

/** `backendTlsErrors`: TLS connects to servers that failed (a certificate refused), summed over the backends. */
export function proxyFamilies(stats: ProxyStats, backendTlsErrors: () => number = () => 0): Metric[] {
  const one = (value: () => number) => (): Sample[] => [{ labels: {}, value: value() }];
  return [
    family('memshift_client_connections', 'Client connections open now.', 'gauge', one(() => stats.currConnections)),
    family('memshift_client_connections_total', 'Client connections accepted since start.', 'counter', one(() => stats.totalConnections)),
    family('memshift_client_connections_rejected_total', 'Client connections closed at once: max_connections reached.', 'counter', one(() => stats.rejectedConnections)),
    family('memshift_client_received_bytes_total', 'Bytes read from clients.', 'counter', one(() => stats.bytesRead)),
    family('memshift_client_sent_bytes_total', 'Bytes written to clients.', 'counter', one(() => stats.bytesWritten)),
    family('memshift_client_pauses_total', 'Times a client was paused for backpressure (its requests held until replies go out).', 'counter', one(() => stats.clientPauses)),
    family('memshift_reply_memory_bytes', 'Reply bytes held for all clients: replies queued, requests in flight at their largest possible reply.', 'gauge', one(() => stats.replyMemory.used)),
    family('memshift_reply_memory_limit_bytes', 'limits.max_reply_memory: past it, clients wait for replies to be written out.', 'gauge', one(() => stats.replyMemory.max)),
    family('memshift_reply_memory_waits_total', 'Times a client was paused because max_reply_memory was reached.', 'counter', one(() => stats.replyMemory.waits)),
    family('memshift_requests_total', 'Client requests by command and result (memcached stats names).', 'counter', () => {
      const s = stats;
      const r = (command: string, result: string, value: number): Sample => ({ labels: { command, result }, value });
      return [
        r('get', 'hit', s.getHits),
        r('get', 'miss', s.getMisses),
        r('get', 'error', s.getErrors),
        r('set', 'all', s.cmdSet),
        r('delete', 'hit', s.deleteHits),
        r('delete', 'miss', s.deleteMisses),
        r('incr', 'hit', s.incrHits),
        r('incr', 'miss', s.incrMisses),
        r('decr', 'hit', s.decrHits),
        r('decr', 'miss', s.decrMisses),
        r('cas', 'hit', s.casHits),
        r('cas', 'miss', s.casMisses),
        r('cas', 'badval', s.casBadval),
        r('touch', 'hit', s.touchHits),
        r('touch', 'miss', s.touchMisses),
        r('flush_all', 'all', s.cmdFlush),
        r('meta', 'all', s.cmdMeta),
      ];
    }),
    family('memshift_errors_total', 'Errors by kind: backend (SERVER_ERROR for a backend failure), client_error (CLIENT_ERROR for bad input), unknown_command (ERROR), too_large_or_local (another SERVER_ERROR memshift gave itself), protocol_close (a connection closed where memcached closes it), binary_protocol, connection_rejected, tls (a TLS connect to a server that failed: its certificate refused, or ours), tls_handshake (a client whose TLS handshake failed).', 'counter', () => [
      { labels: { kind: 'backend' }, value: stats.backendErrors },
      { labels: { kind: 'client_error' }, value: stats.clientErrors },
      { labels: { kind: 'unknown_command' }, value: stats.unknownCommands },
      { labels: { kind: 'too_large_or_local' }, value: stats.localServerErrors },
      { labels: { kind: 'protocol_close' }, value: stats.protocolCloses },
      { labels: { kind: 'binary_protocol' }, value: stats.binaryRejected },
      { labels: { kind: 'connection_rejected' }, value: stats.rejectedConnections },
      { labels: { kind: 'tls' }, value: backendTlsErrors() },
      { labels: { kind: 'tls_handshake' }, value: stats.sslHandshakeErrors },
    ]),
    family('memshift_backend_error_replies_total', 'SERVER_ERROR replies memshift gave clients for backend failures.', 'counter', one(() => stats.backendErrors)),
    family('memshift_binary_protocol_rejected_total', 'Connections that spoke the binary protocol (closed).', 'counter', one(() => stats.binaryRejected)),
  ];
}
