/**
 * GET /config shows the config in memshift.yml's own names (issue 14: it showed `defaultPool`,
 * `timeoutMs`, ...): renderConfig gives snake_case keys only, every one a key of the schema, and reads
 * back as the same config, for the annotated example, a replicated pool with migrations, TLS
 * everywhere and the admin API; the token is redacted.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';
import { REDACTED, renderConfig } from '../../../src/config/render.js';
import { rootShape } from '../../../src/config/schema.js';
import type { Config } from '../../../src/config/types.js';
import { makeCerts } from '../../support/tls-certs.js';
import { DEMO } from '../cli/helpers.js';

const certs = makeCerts();
const EXAMPLE = readFileSync(fileURLToPath(new URL('../../../config/memshift.example.yml', import.meta.url)), 'utf8');
const clientTls = { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey, server_name: 'cache.internal' };
const FULL = stringify({
  listen: ['127.0.0.1:22122', { address: '[::1]:22123', tls: { cert_file: certs.serverCert, key_file: certs.serverKey, client_ca_file: certs.ca } }, { path: '/tmp/m.sock', mode: '0660' }],
  admin: { listen: '0.0.0.0:9121', token: 'sekret', tls: { cert_file: certs.serverCert, key_file: certs.serverKey } },
  pools: {
    main: {
      servers: ['10.0.0.1:11211:1', '10.0.0.2:11211:2 node-b', '10.0.0.3:11211:1'],
      hash_tag: '{}',
      timeout: '1.5s',
      tls: clientTls,
      migration: { id: 'into-tls', from: ['10.0.0.1:11211:1', '10.0.0.2:11211:2 node-b'], from_tls: false, start: '2026-11-20T10:05:00Z', rate_bytes: '8m', settle: '2s', cleanup: false, copy: 'lazy' },
    },
    sessions: {
      replicas: [
        { name: 'a', servers: ['10.0.1.1:11211', '10.0.1.2:11211'] },
        { name: 'b', servers: ['10.0.2.1:11211'] },
      ],
      write: 'majority',
      read: 'local',
      local_group: 'b',
      read_failover: 'errors_and_misses',
      write_log: { dir: '/var/lib/memshift', max_bytes: '64m' },
      resync: { rate: 5000 },
      failover_after: '30s',
      failover_settle: '500ms',
      hash: 'md5',
      distribution: 'node-memcached',
      server_connections: 2,
      migration: { id: 'shrink', from: [{ name: 'a', servers: ['10.0.1.1:11211', '10.0.1.2:11211', '10.0.1.3:11211'] }, { name: 'b', servers: ['10.0.2.1:11211'] }] },
    },
  },
  routes: [{ prefix: 's:', pool: 'sessions' }],
  default_pool: 'main',
  flush_all: false,
  limits: { max_connections: 500, max_reply_memory: '128m' },
  backend: { connect_timeout: '500ms', probe_max: '10s' },
});

const DISCOVERY = stringify({
  listen: ['127.0.0.1:22122'],
  pools: {
    main: { discovery: { dns: 'memcached.cache.svc.cluster.local', resolver: '10.96.0.10:53' }, autopilot: { migrate: 'auto', min_stable: '45s' } },
    srv: { discovery: { dns: '_memcache._tcp.mc.test', names: 'address', interval: '5s' } },
    zones: {
      replicas: [
        { name: 'a', discovery: { dns: 'a.mc.test', port: 11311 } },
        { name: 'b', servers: ['10.0.2.1:11211'] },
      ],
    },
  },
  default_pool: 'main',
});

/** Every key, at any depth, of the rendered document (pool names and the values of `routes` left out). */
function keysOf(value: unknown, out = new Set<string>(), under = ''): Set<string> {
  if (Array.isArray(value)) for (const v of value) keysOf(v, out, under);
  else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      if (under !== 'pools') out.add(k);
      keysOf(v, out, k);
    }
  }
  return out;
}

const withoutSource = (c: Config): unknown => JSON.parse(JSON.stringify({ ...c, source: undefined, pools: [...c.pools] }));

describe('renderConfig (GET /config)', () => {
  it.each([
    ['the annotated example', EXAMPLE],
    ['the CLI tests demo', DEMO],
    ['replicas, migrations, TLS and admin', FULL],
    ['discovery (a pool, SRV, a replica group) and autopilot', DISCOVERY],
  ])('%s: snake_case keys that read back as the same config', (_, yaml) => {
    const config = parseConfig(yaml);
    const rendered = renderConfig(config);
    const keys = [...keysOf(rendered)];
    expect(keys.filter((k) => /[A-Z]/.test(k))).toEqual([]);
    const back = parseConfig(stringify(rendered).replace(REDACTED, 'sekret'));
    expect(withoutSource(back)).toEqual(withoutSource(config));
  });

  it('uses the YAML names: default_pool, timeout, server_connections, replicas, from_tls; the token redacted', () => {
    const r = renderConfig(parseConfig(FULL)) as Record<string, Record<string, Record<string, unknown>>>;
    expect(r).toMatchObject({ default_pool: 'main', flush_all: false, admin: { listen: '0.0.0.0:9121', token: REDACTED } });
    expect(JSON.stringify(r)).not.toContain('sekret');
    expect(r.pools!.main).toMatchObject({ timeout: 1500, server_connections: 1, hash_tag: '{}', servers: ['10.0.0.1:11211:1', '10.0.0.2:11211:2 node-b', '10.0.0.3:11211:1'] });
    expect(r.pools!.main!.migration).toMatchObject({ id: 'into-tls', from_tls: false, start: '2026-11-20T10:05:00.000Z', rate_bytes: 8 * 1024 * 1024, settle: 2000 });
    expect(r.pools!.sessions).toMatchObject({ replicas: [{ name: 'a' }, { name: 'b' }], local_group: 'b', write_log: { max_bytes: 64 * 1024 * 1024 } });
    expect(Object.keys(r.pools!.sessions!)).not.toContain('servers');
    // The top-level keys are the schema's.
    expect(Object.keys(r).filter((k) => !(k in rootShape))).toEqual([]);
  });
});
