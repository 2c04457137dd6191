/**
 * A real Prometheus scrapes memshift's admin listener (issue 7): Debian's prometheus on a free
 * loopback port with a temp TSDB and a 1 s scrape interval, pointed at GET /metrics of a memshift
 * over 3 memcached. After client traffic and a scrape, Prometheus's query API must hold the
 * per-backend latency histogram (one `backend` label per memcached) and the request counters with
 * the counts the traffic produced. Prometheus is a harness process: `stopAll` ends it, on failure too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, keysOnServer, memshiftConfig, startMemcached, startMemshift, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import { startPrometheus, type PromSample, type PrometheusHandle } from '../support/prometheus.js';

afterAll(stopAll);

// The varying part first: fnv1a keys that differ only in their last bytes land close together on the ring.
const KEYS = Array.from({ length: 60 }, (_, i) => `${i}:prom`);

let backends: ServerHandle[] = [];
let prom: PrometheusHandle;
let adminPort = 0;

/** The value of the one sample whose labels include `labels`. */
function valueOf(samples: readonly PromSample[], labels: Record<string, string>): number | undefined {
  const hit = samples.find((s) => Object.entries(labels).every(([k, v]) => s.metric[k] === v));
  return hit === undefined ? undefined : Number(hit.value[1]);
}

beforeAll(async () => {
  backends = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  adminPort = await freePort();
  const proxy = await startMemshift(memshiftConfig({ pools: { main: { servers: backends } }, admin: { listen: `127.0.0.1:${adminPort}` } }));

  // Traffic to every backend: 60 sets, a 60-key multi-get (60 hits), 10 misses, 5 deletes.
  const c = await TextClient.connect(proxy.port);
  try {
    for (const k of KEYS) expect(await c.request(`set ${k} 0 0 1\r\nx`)).toBe('STORED\r\n');
    const reply = await c.request(`get ${KEYS.join(' ')}`);
    expect(reply.match(/^VALUE /gm)?.length).toBe(KEYS.length);
    for (let i = 0; i < 10; i++) expect(await c.request(`get prom:missing:${i}`)).toBe('END\r\n');
    for (const k of KEYS.slice(0, 5)) expect(await c.request(`delete ${k}`)).toBe('DELETED\r\n');
    // Two kinds of bad input, counted in memshift_errors_total.
    expect(await c.request('bogus')).toBe('ERROR\r\n');
    expect(await c.request(`get ${'k'.repeat(251)}`)).toBe('CLIENT_ERROR bad command line format\r\n');
  } finally {
    await c.close();
  }
  const held = await Promise.all(backends.map((b) => keysOnServer(b.port, KEYS)));
  expect(held.map((h) => h.size).every((n) => n > 0), `keys per backend ${held.map((h) => h.size).join('/')}`).toBe(true);

  prom = await startPrometheus({ targets: [`127.0.0.1:${adminPort}`], scrapeIntervalSeconds: 1 });
  await prom.waitForTarget(30_000);
});

describe('Prometheus scraping memshift /metrics', () => {
  it('has a latency histogram per backend', async () => {
    const addresses = backends.map((b) => b.address).sort();
    const buckets = await prom.waitForQuery('memshift_backend_request_duration_seconds_bucket{job="memshift"}', (s) => s.length > 0);
    expect([...new Set(buckets.map((s) => s.metric['backend']))].sort()).toEqual(addresses);
    // Each backend has the full bucket ladder up to +Inf, and every request it answered is in +Inf.
    for (const address of addresses) {
      const mine = buckets.filter((s) => s.metric['backend'] === address);
      expect(mine.length, `buckets of ${address}`).toBeGreaterThan(1);
      expect(valueOf(mine, { le: '+Inf' }), `+Inf bucket of ${address}`).toBeGreaterThan(0);
    }
    // Every request memshift sent a backend (its own `version` at connect too) is in its histogram:
    // the traffic is over, so nothing is in flight.
    const counts = await prom.query('memshift_backend_request_duration_seconds_count{job="memshift"}');
    expect(counts.map((s) => s.metric['backend']).sort()).toEqual(addresses);
    const sent = await prom.query('memshift_backend_requests_total{job="memshift"}');
    for (const address of addresses) {
      const requests = valueOf(sent, { backend: address }) ?? 0;
      expect(requests, `requests sent to ${address}`).toBeGreaterThan(0);
      expect(valueOf(counts, { backend: address }), `histogram count of ${address}`).toBe(requests);
    }
    const sums = await prom.query('memshift_backend_request_duration_seconds_sum{job="memshift"}');
    expect(sums.map((s) => s.metric['backend']).sort()).toEqual(addresses);
    // A quantile over the buckets works (PromQL's histogram_quantile), per backend.
    const p99 = await prom.query('histogram_quantile(0.99, sum by (backend, le) (memshift_backend_request_duration_seconds_bucket{job="memshift"}))');
    expect(p99.map((s) => s.metric['backend']).sort()).toEqual(addresses);
    for (const s of p99) expect(Number(s.value[1]), `p99 of ${s.metric['backend']}`).toBeGreaterThan(0);
  });

  it('has the request counters with the counts of the traffic', async () => {
    const requests = await prom.waitForQuery('memshift_requests_total{job="memshift"}', (s) => s.length > 0);
    expect(valueOf(requests, { command: 'set', result: 'all' })).toBe(KEYS.length);
    expect(valueOf(requests, { command: 'get', result: 'hit' })).toBe(KEYS.length);
    expect(valueOf(requests, { command: 'get', result: 'miss' })).toBe(10);
    expect(valueOf(requests, { command: 'delete', result: 'hit' })).toBe(5);
    expect(valueOf(requests, { command: 'delete', result: 'miss' })).toBe(0);
    const errors = await prom.query('memshift_errors_total{job="memshift"}');
    expect(valueOf(errors, { kind: 'unknown_command' })).toBe(1);
    expect(valueOf(errors, { kind: 'client_error' })).toBe(1);
    expect(valueOf(errors, { kind: 'backend' })).toBe(0);
    // And what memshift sent each backend, per backend.
    const sent = await prom.query('memshift_backend_requests_total{job="memshift"}');
    expect(sent.map((s) => s.metric['backend']).sort()).toEqual(backends.map((b) => b.address).sort());
    for (const s of sent) expect(Number(s.value[1]), `requests to ${s.metric['backend']}`).toBeGreaterThan(0);
  });

  it('scraped this memshift, through its own Prometheus on a free port', async () => {
    expect(prom.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const up = await prom.query('up');
    expect(up.map((s) => [s.metric['job'], s.metric['instance'], s.value[1]])).toEqual([['memshift', `127.0.0.1:${adminPort}`, '1']]);
  });
});
