import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULTS, loadConfigFile, parseConfig } from '../../../src/config/index.js';
import type { Config } from '../../../src/config/types.js';
import { MemshiftError } from '../../../src/errors.js';
import { problems as refused } from './problems.js';

const problems = (text: string, source = 'memshift.yml'): string[] => refused(text, source);

const MINIMAL = `listen: ["127.0.0.1:11211"]
pools:
  main:
    servers: ["10.0.0.1:11211"]
`;


describe('parseConfig: defaults', () => {
  it('fills every default from a minimal file', () => {
    const config = parseConfig(MINIMAL, 'memshift.yml');
    expect({ ...config, pools: Object.fromEntries(config.pools) }).toEqual({
      listen: [{ kind: 'tcp', host: '127.0.0.1', port: 11211, raw: '127.0.0.1:11211' }],
      pools: {
        main: {
          name: 'main',
          servers: [{ host: '10.0.0.1', port: 11211, weight: 1, address: '10.0.0.1:11211', raw: '10.0.0.1:11211' }],
          groups: [{ name: 'main', servers: [{ host: '10.0.0.1', port: 11211, weight: 1, address: '10.0.0.1:11211', raw: '10.0.0.1:11211' }] }],
          write: 'all',
          read: 'primary',
          readFailover: 'errors',
          resync: { rateKeysPerSec: 20_000 },
          failoverSettleMs: 1_000,
          hash: 'fnv1a_64',
          distribution: 'ketama',
          timeoutMs: 1000,
          connections: 1,
        },
      },
      routes: [],
      defaultPool: 'main',
      flushAll: true,
      limits: {
        maxItemSize: 1048576,
        maxGetLineBytes: 1048576,
        maxConnections: 10000,
        maxInflightPerClient: 4096,
        maxQueuedBytesPerClient: 32 * 1048576,
        maxQueuedBytesPerBackend: 64 * 1048576,
        maxPendingPerBackend: 100000,
        maxReplyBytes: 64 * 1048576,
        maxReplyMemory: 1024 * 1048576,
      },
      backend: { connectTimeoutMs: 1000, failureLimit: 3, probeMinMs: 1000, probeMaxMs: 30_000 },
      workers: 1,
      admin: undefined,
      source: 'memshift.yml',
    } satisfies Record<keyof Config, unknown>);
    expect(config.pools.get('main')?.hashTag).toBeUndefined();
    expect(config.limits).toEqual(DEFAULTS.limits);
  });

  it('fills defaults inside a partly written limits and backend section', () => {
    const config = parseConfig(`${MINIMAL}limits: {max_connections: 5}\nbackend: {probe_max: 10s}\n`);
    expect(config.limits).toEqual({ ...DEFAULTS.limits, maxConnections: 5 });
    expect(config.backend).toEqual({ ...DEFAULTS.backend, probeMaxMs: 10_000 });
    expect(config.source).toBe('<config>');
  });
});

describe('parseConfig: every setting', () => {
  const FULL = `
listen:
  - "127.0.0.1:11211"
  - "unix:/run/memshift.sock"
  - {path: /run/memshift-2.sock, mode: "0660"}
  - {host: "::1", port: 0}
pools:
  main:
    servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:2 node-b", "[fd00::1]:11212"]
    hash: md5
    distribution: node-memcached
    hash_tag: "{}"
    timeout: 250ms
    server_connections: 4
  sessions:
    servers: ["10.0.1.1:11211"]
routes:
  - {prefix: "session:", pool: sessions}
default_pool: main
flush_all: false
limits:
  max_item_size: 2MiB
  max_get_line: 64k
  max_connections: 100
  max_inflight_per_client: 10
  max_queued_bytes_per_client: 1048576
  max_queued_bytes_per_backend: 1g
  max_pending_per_backend: 7
  max_reply_bytes: 8m
  max_reply_memory: 100m
backend: {connect_timeout: 2s, failure_limit: 5, probe_min: 50, probe_max: 1m}
`;

  it('maps snake_case YAML onto the Config', () => {
    const c = parseConfig(FULL, 'full.yml');
    expect(c.listen).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 11211, raw: '127.0.0.1:11211' },
      { kind: 'unix', path: '/run/memshift.sock', raw: 'unix:/run/memshift.sock' },
      { kind: 'unix', path: '/run/memshift-2.sock', mode: 0o660, raw: 'unix:/run/memshift-2.sock' },
      { kind: 'tcp', host: '::1', port: 0, raw: '[::1]:0' },
    ]);
    expect([...c.pools.keys()]).toEqual(['main', 'sessions']);
    const main = c.pools.get('main');
    expect(main).toMatchObject({ name: 'main', hash: 'md5', distribution: 'node-memcached', hashTag: '{}', timeoutMs: 250, connections: 4 });
    expect(main?.servers.map((s) => [s.address, s.weight, s.name])).toEqual([
      ['10.0.0.1:11211', 1, undefined],
      ['10.0.0.2:11211', 2, 'node-b'],
      ['[fd00::1]:11212', 1, undefined],
    ]);
    expect(c.routes).toEqual([{ prefix: 'session:', pool: 'sessions' }]);
    expect(c.defaultPool).toBe('main');
    expect(c.flushAll).toBe(false);
    expect(c.limits).toEqual({
      maxItemSize: 2 * 1048576,
      maxGetLineBytes: 65536,
      maxConnections: 100,
      maxInflightPerClient: 10,
      maxQueuedBytesPerClient: 1048576,
      maxQueuedBytesPerBackend: 1024 ** 3,
      maxPendingPerBackend: 7,
      maxReplyBytes: 8 * 1048576,
      maxReplyMemory: 100 * 1048576,
    });
    expect(c.backend).toEqual({ connectTimeoutMs: 2000, failureLimit: 5, probeMinMs: 50, probeMaxMs: 60_000 });
  });

  it('deep-freezes the result, pools map included', () => {
    const c = parseConfig(FULL);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.listen)).toBe(true);
    expect(Object.isFrozen(c.limits)).toBe(true);
    const main = c.pools.get('main');
    expect(Object.isFrozen(main)).toBe(true);
    expect(Object.isFrozen(main?.servers)).toBe(true);
    expect(Object.isFrozen(main?.servers[0])).toBe(true);
    expect(() => (c.pools as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (c.pools as Map<string, unknown>).delete('main')).toThrow(TypeError);
    expect(() => (c.pools as Map<string, unknown>).clear()).toThrow(TypeError);
    expect(() => {
      (c as { flushAll: boolean }).flushAll = true;
    }).toThrow(TypeError);
  });

  it('accepts YAML anchors and merge keys', () => {
    const c = parseConfig(`listen: ["127.0.0.1:0"]
pools:
  a: &common
    servers: ["10.0.0.1:11211"]
    hash: md5
  b:
    <<: *common
    servers: ["10.0.0.2:11211"]
default_pool: a
`);
    expect(c.pools.get('b')).toMatchObject({ hash: 'md5', servers: [{ address: '10.0.0.2:11211' }] });
  });

  it('does not report two listeners on port 0 as duplicates', () => {
    expect(parseConfig(`listen: ["127.0.0.1:0", "127.0.0.1:0"]\npools: {main: {servers: ["h:1"]}}\n`).listen).toHaveLength(2);
  });
});

describe('parseConfig: errors name file, line:column and field', () => {
  it('points at the offending server string', () => {
    const text = `listen: ["127.0.0.1:11211"]
pools:
  main:
    hash: md5
    servers:
      - "10.0.0.1:11211:1"
      - "10.0.0.2:11211:x"
`;
    expect(problems(text)).toEqual(['memshift.yml:7:9 pools.main.servers[1]: weight must be a positive integer, got "x"']);
  });

  it('takes workers from 1 to 256', () => {
    const base = 'listen: ["127.0.0.1:11211"]\npools: {main: {servers: ["10.0.0.1:11211:1"]}}\n';
    expect(parseConfig(`${base}workers: 4\n`).workers).toBe(4);
    expect(problems(`${base}workers: 0\n`)).toEqual(['memshift.yml:3:10 workers: must be a positive integer, got 0']);
    expect(problems(`${base}workers: 257\n`)).toEqual(['memshift.yml:3:10 workers: must be at most 256, got 257']);
  });

  it('throws a MemshiftError with code MS_ERR_CONFIG carrying the issues', () => {
    let caught: unknown;
    try {
      parseConfig('listen: 5\n', 'x.yml');
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(MemshiftError);
    const err = caught as ConfigError;
    expect(err.code).toBe('MS_ERR_CONFIG');
    expect(err.details?.issues).toBe(err.issues);
    expect(err.issues.map((i) => [i.line, i.column, i.path])).toEqual([
      [1, 1, 'pools'],
      [1, 9, 'listen'],
    ]);
    expect(err.message).toContain('invalid configuration in x.yml (2 problems):\n  x.yml:1:1 pools: required setting is missing');
  });

  it('collects every issue, sorted top to bottom', () => {
    const text = `listen: ["127.0.0.1:11211", "127.0.0.1:11211", {path: /s.sock, mode: 0660}, {host: "::1", port: 99999, extra: 1}]
pools:
  main:
    servers:
      - "10.0.0.1:11211:1"
      - 10.0.0.1:11211 node-a
      - "[::1]:11211 node-a"
      - ::1:11211:1
      - 11211
    hash: sha1
    tmeout: 10
    hash_tag: "{"
    timeout: 1z
  other:
routes: [{prefix: "session:", pool: mian}]
default_pool: nope
flush_all: yes
limits:
  max_item_size: 1q
  max_conections: 5
backend: {probe_min: 10s, probe_max: 1s}
`;
    expect(problems(text, 'm.yml')).toEqual([
      'm.yml:1:29 listen[1]: duplicate listen address 127.0.0.1:11211 (also listen[0])',
      'm.yml:1:70 listen[2].mode: mode must be a quoted octal string such as "0660" (YAML reads 0660 as the decimal 660), got 660',
      'm.yml:1:97 listen[3].port: port must be an integer from 0 to 65535, got 99999',
      'm.yml:1:104 listen[3].extra: unknown key "extra"; expected one of "host", "port", "tls"',
      'm.yml:6:9 pools.main.servers[1]: duplicate server address 10.0.0.1:11211 (also servers[0])',
      'm.yml:7:9 pools.main.servers[2]: duplicate server name "node-a" (also servers[1])',
      'm.yml:8:9 pools.main.servers[3]: too many ":" in "::1:11211:1"; an IPv6 address must be in brackets, e.g. "[::1]:11211"',
      'm.yml:9:9 pools.main.servers[4]: expected a server string "host:port[:weight] [name]", got 11211',
      'm.yml:10:11 pools.main.hash: must be one of "fnv1a_64", "md5", "one_at_a_time", "crc16", "crc32", "crc32a", "fnv1_64", "fnv1_32", "fnv1a_32", "hsieh", "murmur", "jenkins", got "sha1"',
      'm.yml:11:5 pools.main.tmeout: unknown key "tmeout"; did you mean "timeout"?',
      'm.yml:12:15 pools.main.hash_tag: must be exactly two ASCII characters such as "{}", got "{"',
      'm.yml:13:14 pools.main.timeout: expected milliseconds or a duration such as "250ms", "1s", "2m", got "1z"',
      'm.yml:14:3 pools.other: expected a map, got null',
      'm.yml:15:37 routes[0].pool: unknown pool "mian"; pools are "main", "other"',
      'm.yml:16:15 default_pool: unknown pool "nope"; pools are "main", "other"',
      'm.yml:17:12 flush_all: expected true or false, got "yes"',
      'm.yml:19:18 limits.max_item_size: expected a byte count or a size such as "64k", "1m", "1MiB", got "1q"',
      'm.yml:20:3 limits.max_conections: unknown key "max_conections"; did you mean "max_connections"?',
      'm.yml:21:38 backend.probe_max: probe_max (1000 ms) must not be below probe_min (10000 ms)',
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their position', () => {
    expect(problems('listen: [1\npools: {}\n')).toEqual([expect.stringMatching(/^memshift\.yml:2:\d+: YAML: /)]);
    expect(problems(`${MINIMAL}listen: ["127.0.0.1:1"]\n`)).toEqual(['memshift.yml:5:1: YAML: Map keys must be unique']);
  });

  it('explains an empty file, a file that is not a map, and missing sections', () => {
    expect(problems('')).toEqual(['memshift.yml:1:1: the file is empty']);
    expect(problems('# nothing\n')).toEqual(['memshift.yml:1:1: the file is empty']);
    expect(problems('- a\n- b\n')).toEqual(['memshift.yml:1:1: the file must hold a map of settings, got a list']);
    expect(problems('flush_all: true\n')).toEqual([
      'memshift.yml:1:1 listen: required setting is missing',
      'memshift.yml:1:1 pools: required setting is missing',
    ]);
    expect(problems('listen: []\npools: {}\n')).toEqual([
      'memshift.yml:1:9 listen: at least one listen address is required',
      'memshift.yml:2:8 pools: at least one pool is required',
    ]);
  });

  it('points a missing pool field at the pool, and refuses an empty server list', () => {
    expect(problems('listen: [":0"]\npools:\n  main:\n    hash: md5\n')).toEqual([
      'memshift.yml:1:10 listen[0]: missing host: expected "host:port" or "unix:/path", got ":0"',
      'memshift.yml:3:3 pools.main.servers: a pool needs servers (one group), discovery (its servers from DNS) or replicas (a list of {name, servers or discovery})',
    ]);
    expect(problems('listen: ["h:1"]\npools:\n  main:\n    servers: []\n')).toEqual(['memshift.yml:4:14 pools.main.servers: a pool needs at least one server']);
    expect(problems('listen: ["h:1"]\npools:\n  main:\n    servers:\n')).toEqual(['memshift.yml:4:5 pools.main.servers: expected a list, got null']);
  });
});

describe('parseConfig: unknown keys', () => {
  it.each([
    ['at the top level', `${MINIMAL}flushall: false\n`, 'memshift.yml:5:1 flushall: unknown key "flushall"; did you mean "flush_all"?'],
    [
      'in a pool',
      `${MINIMAL}    distrib: ketama\n`,
      'memshift.yml:5:5 pools.main.distrib: unknown key "distrib"; expected one of "servers", "discovery", "replicas", "autopilot", "write", "read", "local_group", "read_failover", "write_log", "resync", "migration", "failover_after", "failover_settle", "hash", "distribution", "hash_tag", "timeout", "server_connections", "tls", "auth"',
    ],
    ['in limits', `${MINIMAL}limits:\n  max_itemsize: 1m\n`, 'memshift.yml:6:3 limits.max_itemsize: unknown key "max_itemsize"; did you mean "max_item_size"?'],
    ['in backend', `${MINIMAL}backend: {probe_mni: 1}\n`, 'memshift.yml:5:11 backend.probe_mni: unknown key "probe_mni"; did you mean "probe_min"?'],
    ['in a route', `${MINIMAL}routes: [{prefix: a, pool: main, weight: 1}]\n`, 'memshift.yml:5:34 routes[0].weight: unknown key "weight"; expected one of "prefix", "pool", "migration"'],
    ['in a unix listener', `listen: [{path: /s, mod: "0600"}]\npools: {main: {servers: ["h:1"]}}\n`, 'memshift.yml:1:21 listen[0].mod: unknown key "mod"; did you mean "mode"?'],
  ])('%s', (_where, text, message) => {
    expect(problems(text)).toEqual([message]);
  });
});

describe('parseConfig: cross-references', () => {
  const two = `listen: ["127.0.0.1:11211"]
pools:
  a: {servers: ["10.0.0.1:11211"]}
  b: {servers: ["10.0.0.2:11211"]}
`;

  it('requires default_pool when there are several pools', () => {
    expect(problems(two)).toEqual(['memshift.yml:1:1 default_pool: default_pool is required when there is more than one pool (pools are "a", "b")']);
    expect(parseConfig(`${two}default_pool: b\n`).defaultPool).toBe('b');
  });

  it('checks route pools and duplicate prefixes', () => {
    expect(problems(`${two}default_pool: a\nroutes:\n  - {prefix: "x:", pool: b}\n  - {prefix: "x:", pool: c}\n  - {prefix: "", pool: a}\n`)).toEqual([
      'memshift.yml:8:14 routes[1].prefix: duplicate route prefix "x:" (also routes[0])',
      'memshift.yml:8:26 routes[1].pool: unknown pool "c"; pools are "a", "b"',
      'memshift.yml:9:14 routes[2].prefix: a route prefix must not be empty',
    ]);
  });

  it('refuses duplicate unix listeners and hosts that differ only in case', () => {
    expect(problems('listen: ["unix:/s", "/s", "LOCALHOST:1", "localhost:1"]\npools: {main: {servers: ["h:1"]}}\n')).toEqual([
      'memshift.yml:1:21 listen[1]: duplicate listen address unix:/s (also listen[0])',
      'memshift.yml:1:42 listen[3]: duplicate listen address localhost:1 (also listen[2])',
    ]);
  });

  it('refuses a node name that equals another server\'s ring identity', () => {
    // twemproxy names 10.0.0.1:11211 "10.0.0.1" on the ring (port 11211), and 10.0.0.3:22122 "10.0.0.3:22122".
    expect(problems('listen: ["h:1"]\npools:\n  main:\n    servers: ["10.0.0.1:11211", "10.0.0.2:11211 10.0.0.1", "10.0.0.3:22122", "10.0.0.4:11211 10.0.0.3:22122"]\n')).toEqual([
      'memshift.yml:4:15 pools.main.servers[0]: its ring identity "10.0.0.1" is the name of servers[1]',
      'memshift.yml:4:60 pools.main.servers[2]: its ring identity "10.0.0.3:22122" is the name of servers[3]',
    ]);
  });

  it('validates pool names', () => {
    expect(problems('listen: ["h:1"]\npools:\n  "bad name": {servers: ["h:1"]}\n')).toEqual([
      'memshift.yml:3:3 pools["bad name"]: a pool name must start with a letter or digit and hold only letters, digits, "_", "-" and "."',
    ]);
  });

  it('refuses sizes and durations below their minimum', () => {
    expect(problems(`${MINIMAL}    timeout: 0\n    server_connections: 0\nlimits: {max_get_line: 1k, max_item_size: 0}\n`)).toEqual([
      'memshift.yml:5:14 pools.main.timeout: duration must be at least 1, got 0',
      'memshift.yml:6:25 pools.main.server_connections: must be a positive integer, got 0',
      'memshift.yml:7:24 limits.max_get_line: size must be at least 2048, got "1k"',
      'memshift.yml:7:43 limits.max_item_size: size must be at least 1, got 0',
    ]);
  });

  it('refuses a distribution it does not know (twemproxy\'s random among them)', () => {
    expect(problems(`${MINIMAL}    distribution: random\n`)).toEqual(['memshift.yml:5:19 pools.main.distribution: must be one of "ketama", "modula", "node-memcached", got "random"']);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'memshift-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads a file and names it as the source', () => {
    const file = join(dir, 'ok.yml');
    writeFileSync(file, MINIMAL);
    expect(loadConfigFile(file).source).toBe(file);
  });

  it('uses $MEMSHIFT_CONFIG when no path is given', () => {
    const file = join(dir, 'env.yml');
    writeFileSync(file, MINIMAL);
    const saved = process.env.MEMSHIFT_CONFIG;
    process.env.MEMSHIFT_CONFIG = file;
    try {
      expect(loadConfigFile().source).toBe(file);
      delete process.env.MEMSHIFT_CONFIG;
      expect(() => loadConfigFile()).toThrow(expect.objectContaining({ code: 'MS_ERR_USAGE' }));
    } finally {
      if (saved === undefined) delete process.env.MEMSHIFT_CONFIG;
      else process.env.MEMSHIFT_CONFIG = saved;
    }
  });

  it('fails with MS_ERR_CONFIG_READ when the file cannot be read', () => {
    expect(() => loadConfigFile(join(dir, 'missing.yml'))).toThrow(expect.objectContaining({ code: 'MS_ERR_CONFIG_READ', message: expect.stringContaining('ENOENT') }));
    expect(() => loadConfigFile(dir)).toThrow(expect.objectContaining({ code: 'MS_ERR_CONFIG_READ' }));
  });

  it('names the file in every issue', () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, 'listen: 1\npools: {}\n');
    expect(() => loadConfigFile(file)).toThrow(`${file}:1:9 listen: expected a list, got 1`);
  });
});
