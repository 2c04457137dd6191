/** Per-backend families: state, connections, requests, errors, TKO transitions, bytes, latency. */
import type { Metric } from 'prom-client';
import type { BackendPool } from '../../backend/index.js';
import type { BackendConnection } from '../../backend/connection.js';
import { family, histogramSamples, type Sample } from '../../observability/metrics.js';
import { LatencyHistogram } from '../../observability/histogram.js';

type CounterName = keyof BackendConnection['counters'];

const STATES = ['up', 'connecting', 'tko', 'closed'] as const;

/** `pool` gives the current backends at scrape time (a reload replaces them). */
export function backendFamilies(pool: () => BackendPool): Metric[] {
  const backends = { get all() {
    return pool().all;
  } };
  const sum = (name: CounterName, help: string, metric: string): Metric =>
    family(metric, help, 'counter', () =>
      backends.all.map((b) => ({ labels: { backend: b.address }, value: b.connections.reduce((n, c) => n + c.counters[name], 0) })),
    );
  return [
    family('memshift_backend_up', 'Whether the backend has a connection up (1) or not (0).', 'gauge', () =>
      backends.all.map((b) => ({ labels: { backend: b.address }, value: b.state === 'up' ? 1 : 0 })),
      'max',
    ),
    family('memshift_backend_state', 'The backend state: 1 for the current one of up, connecting, tko, closed.', 'gauge', () =>
      backends.all.flatMap((b) => STATES.map((s) => ({ labels: { backend: b.address, state: s }, value: b.state === s ? 1 : 0 }))),
      'max',
    ),
    family('memshift_backend_connections', 'Connections to the backend, by state.', 'gauge', () =>
      backends.all.flatMap((b) => STATES.map((s) => ({ labels: { backend: b.address, state: s }, value: b.connections.filter((c) => c.state === s).length }))),
    ),
    sum('requests', 'Requests sent to the backend.', 'memshift_backend_requests_total'),
    sum('errors', 'Requests that failed at the backend (timeout, close, refusal in flight).', 'memshift_backend_errors_total'),
    sum('timeouts', 'Request timeouts (each resets the connection).', 'memshift_backend_timeouts_total'),
    sum('refused', 'Requests refused without sending (backend TKO or its queue full).', 'memshift_backend_refused_total'),
    sum('tko', 'Transitions into TKO (marked down).', 'memshift_backend_tko_total'),
    sum('reconnects', 'Connection resets and reconnects.', 'memshift_backend_reconnects_total'),
    sum('outOfStep', 'Replies that did not match the request (the connection was reset).', 'memshift_backend_out_of_step_total'),
    sum('bytesOut', 'Bytes sent to the backend.', 'memshift_backend_sent_bytes_total'),
    sum('bytesIn', 'Bytes received from the backend.', 'memshift_backend_received_bytes_total'),
    sum('tlsNudges', 'mn sent to wake a TLS memcached that left pipelined requests unanswered in its TLS buffer (memcached 1.6 waits for the socket).', 'memshift_backend_tls_nudges_total'),
    sum('tlsResumed', 'TLS connections that resumed the session of the one before (an abbreviated handshake).', 'memshift_backend_tls_resumed_total'),
    family('memshift_backend_request_duration_seconds', 'Backend request latency, from queueing to the reply.', 'histogram', () =>
      backends.all.flatMap((b): Sample[] => {
        const h = new LatencyHistogram();
        for (const c of b.connections) h.merge(c.latency);
        return histogramSamples('memshift_backend_request_duration_seconds', { backend: b.address }, h);
      }),
    ),
  ];
}
