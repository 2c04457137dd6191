/**
 * The messages between the admin process and its workers (workers: N): what a structured clone
 * (node:cluster's `advanced` serialization) makes of them, and the shape check every one passes.
 */
import { serialize, deserialize } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../../../src/config/index.js';
import { FrozenMap } from '../../../../src/config/freeze.js';
import { encodeFailedWrites } from '../../../../src/replication/index.js';
import { isClusterMessage, reviveConfig, type ClusterMessage } from '../../../../src/app/cluster/messages.js';

/** What the other process receives. */
const sent = <T>(m: T): T => deserialize(serialize(m)) as T;

const config = parseConfig(
  stringify({
    listen: ['127.0.0.1:11211'],
    workers: 2,
    admin: { listen: '127.0.0.1:9121', token: 't' },
    pools: { main: { servers: ['10.0.0.1:11211:1', '10.0.0.2:11211:1'], replicas: undefined }, other: { servers: ['10.0.1.1:11211:1'] } },
    routes: [{ prefix: 'o:', pool: 'other' }],
    default_pool: 'main',
  }),
  'm.yml',
);

describe('cluster messages', () => {
  it('carry a Config whole: frozen again, its pools a FrozenMap, equal to what was sent', () => {
    const m = sent({ t: 'memshift:start', index: 1, workers: 2, config, log: { level: 'info', format: 'json' } } satisfies ClusterMessage);
    expect(isClusterMessage(m)).toBe(true);
    const back = reviveConfig(m.config);
    expect(back).toEqual(config);
    expect(back.pools).toBeInstanceOf(FrozenMap);
    expect(Object.isFrozen(back) && Object.isFrozen(back.pools.get('main'))).toBe(true);
    expect(() => (back.pools as Map<string, unknown>).set('x', 1)).toThrow(/frozen/);
  });

  it('carry failed writes as bytes and readiness reports as lists', () => {
    const writes = sent({ t: 'memshift:writes', batch: encodeFailedWrites([{ pool: 'main', backend: 'a:1', op: 'set', key: Buffer.from('k') }]), lost: [{ pool: 'main', backend: 'b:1' }] });
    expect(Buffer.isBuffer(writes.batch)).toBe(true);
    expect(isClusterMessage(writes)).toBe(true);
    expect(isClusterMessage(sent({ t: 'memshift:readiness', readiness: { main: ['a:1'] }, answer: { to: 1, id: 4 } }))).toBe(true);
    expect(isClusterMessage(sent({ t: 'memshift:ask', id: 3, from: 1, ups: [{ pool: 'main', backend: 'a:1' }] }))).toBe(true);
  });

  it('every kind passes the check whole, and fails it with a field missing or of the wrong type', () => {
    const good: ClusterMessage[] = [
      { t: 'memshift:hello' },
      { t: 'memshift:start', index: 0, workers: 2, config, log: { level: 'debug', format: 'pretty' } },
      { t: 'memshift:call', id: 1, op: 'admin', args: { method: 'GET', path: '/migration', query: '', body: undefined } },
      { t: 'memshift:call', id: 2, op: 'drain', args: {} },
      { t: 'memshift:reply', id: 1, value: { status: 200, body: {} } },
      { t: 'memshift:reply', id: 1, error: 'no', status: 409 },
      { t: 'memshift:listening', addresses: ['127.0.0.1:11211'] },
      { t: 'memshift:ready' },
      { t: 'memshift:failed', code: 'MS_ERR_LISTEN', message: 'cannot listen' },
      { t: 'memshift:writes', batch: null, lost: [] },
      { t: 'memshift:ask', id: 0, ups: [] },
      { t: 'memshift:readiness', readiness: {} },
    ];
    for (const m of good) expect(isClusterMessage(sent(m)), m.t).toBe(true);
    const bad: unknown[] = [
      null,
      'memshift:ready',
      { type: 'prom-client:getMetricsReq', requestId: 1 },
      { t: 'memshift:nope' },
      { t: 'memshift:start', index: -1, workers: 2, config, log: { level: 'info', format: 'json' } },
      { t: 'memshift:start', index: 0, workers: 2, config, log: { level: 'loud', format: 'json' } },
      { t: 'memshift:start', index: 0, workers: 2, config: { ...config, pools: {} }, log: { level: 'info', format: 'json' } },
      { t: 'memshift:call', id: 1, op: 'exit', args: {} },
      { t: 'memshift:call', id: 1.5, op: 'drain', args: {} },
      { t: 'memshift:reply', id: 1, error: 3 },
      { t: 'memshift:listening', addresses: [1] },
      { t: 'memshift:failed' },
      { t: 'memshift:writes', batch: 'abc', lost: [] },
      { t: 'memshift:writes', batch: null, lost: [{ pool: 'main' }] },
      { t: 'memshift:readiness', readiness: { main: 'a:1' } },
      { t: 'memshift:readiness', readiness: {}, answer: { to: 1 } },
    ];
    for (const m of bad) expect(isClusterMessage(m), JSON.stringify(m)).toBe(false);
  });
});
