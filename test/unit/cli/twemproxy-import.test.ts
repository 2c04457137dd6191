/**
 * nutcracker.yml -> memshift.yml (src/cli/twemproxy-import.ts). The integration test
 * (test/integration/twemproxy-import.test.ts) checks placements against live nutcracker; these check
 * the conversion itself, every refusal and its message.
 */
import { describe, expect, it } from 'vitest';
import { formatIssue, parseConfig } from '../../../src/config/index.js';
import { importTwemproxy, TwemproxyImportError, type TwemproxyImportOptions } from '../../../src/cli/twemproxy-import.js';
import { TWEMPROXY_HASH_NAMES } from '../../../src/routing/hash.js';
import { createRing, ketamaServerName } from '../../../src/routing/index.js';

/** The formatted problems of a file that must be refused. */
function refused(text: string, options: TwemproxyImportOptions = {}): string[] {
  try {
    importTwemproxy(text, { source: 'nc.yml', ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(TwemproxyImportError);
    return (err as TwemproxyImportError).problems.map(formatIssue);
  }
  throw new Error('expected the file to be refused');
}

const pool = (settings: string, servers = ['127.0.0.1:11211:1', '127.0.0.1:11212:1']): string =>
  `alpha:\n  listen: 127.0.0.1:22121\n${settings}  servers:\n${servers.map((s) => `    - ${s}\n`).join('')}`;

describe('a full pool', () => {
  const NUTCRACKER = `alpha:
  listen: 127.0.0.1:22121
  hash: fnv1a_64
  hash_tag: "{}"
  distribution: ketama
  auto_eject_hosts: true
  redis: false
  timeout: 400
  server_connections: 2
  server_retry_timeout: 2000
  server_failure_limit: 1
  backlog: 1024
  preconnect: true
  servers:
   - 127.0.0.1:11211:1
   - 127.0.0.1:11212:2 server2
`;

  it('converts to a memshift config with the same settings', () => {
    const { yaml, pool: name, config } = importTwemproxy(NUTCRACKER, { source: 'nc.yml' });
    expect(name).toBe('alpha');
    expect(yaml).toBe(`# memshift config converted by \`memshift import-twemproxy\` from nc.yml, pool "alpha".
# It places every key on the server nutcracker places it on: the same hash, distribution,
# hash_tag, servers, weights and ring names. Check it with \`memshift check -c FILE\`.

listen:
  - "127.0.0.1:22121"
pools:
  alpha:
    servers:
      - "127.0.0.1:11211:1"
      - "127.0.0.1:11212:2 server2"
    hash: fnv1a_64
    distribution: ketama
    hash_tag: "{}"
    timeout: 400   # ms
    server_connections: 2
    # failover_after: 30s   # moves a dead server's keys to the other servers, coordinated (see backend below)

# twemproxy: auto_eject_hosts: true, server_failure_limit: 1, server_retry_timeout: 2000. What
# differs: nutcracker took a server off the ring after server_failure_limit failures in a row, for
# server_retry_timeout ms, so its keys moved to the other servers meanwhile (and moved back when it
# returned). memshift never takes a server off the ring on its own: after failure_limit failures it
# stops sending to it (its keys get SERVER_ERROR, a miss for most clients), probes it every
# probe_min ms (as nutcracker retried), and every key stays where it is. To move a dead server's
# keys to the other servers, set failover_after on the pool: every memshift then moves them
# together, as a migration (docs/migration.md, "Passive migration").
backend:
  failure_limit: 1
  probe_min: 2000
  probe_max: 2000

# Not converted (no effect on where keys go):
#   backlog: 1024     memshift uses Node's listen backlog (511)
#   preconnect: true  memshift connects to every server at start always
`);
    expect(config.listen).toEqual([{ kind: 'tcp', host: '127.0.0.1', port: 22121, raw: '127.0.0.1:22121' }]);
    expect(config.pools.get('alpha')).toMatchObject({
      hash: 'fnv1a_64',
      distribution: 'ketama',
      hashTag: '{}',
      timeoutMs: 400,
      connections: 2,
      servers: [
        { host: '127.0.0.1', port: 11211, weight: 1 },
        { host: '127.0.0.1', port: 11212, weight: 2, name: 'server2' },
      ],
    });
    expect(config.backend).toMatchObject({ failureLimit: 1, probeMinMs: 2000, probeMaxMs: 2000 });
    // The text printed is the config returned.
    expect(parseConfig(yaml).pools.get('alpha')).toEqual(config.pools.get('alpha'));
  });
});

describe('hash and distribution', () => {
  it.each(TWEMPROXY_HASH_NAMES)('%s with ketama and modula', (hash) => {
    for (const distribution of ['ketama', 'modula'] as const) {
      const { config, yaml } = importTwemproxy(pool(`  hash: ${hash}\n  distribution: ${distribution}\n`));
      expect(config.pools.get('alpha')).toMatchObject({ hash, distribution });
      expect(yaml).toContain(`    hash: ${hash}\n    distribution: ${distribution}\n`);
    }
  });

  it("takes twemproxy's defaults, fnv1a_64 and ketama, and says so", () => {
    const { config, yaml } = importTwemproxy(pool(''));
    expect(config.pools.get('alpha')).toMatchObject({ hash: 'fnv1a_64', distribution: 'ketama' });
    expect(yaml).toContain("    hash: fnv1a_64   # twemproxy's default\n    distribution: ketama   # twemproxy's default\n");
  });

  it('refuses random, with the reason', () => {
    expect(refused(pool('  distribution: random\n'))).toEqual([
      'nc.yml:3:17 alpha.distribution: distribution random cannot be reproduced: nutcracker sends each request to a random server, so a key has no one place and a cache behind it never stays warm; memshift places every key on one server (switch the pool to ketama or modula first: a cold start either way)',
    ]);
  });

  it('refuses a hash or distribution nutcracker does not know, with a suggestion', () => {
    expect(refused(pool('  hash: fnv1a64\n  distribution: consistent\n'))).toEqual([
      'nc.yml:3:9 alpha.hash: "fnv1a64" is not a twemproxy hash (nutcracker refuses it too); the hashes are fnv1a_64, md5, one_at_a_time, crc16, crc32, crc32a, fnv1_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins; did you mean "fnv1a_64"?',
      'nc.yml:4:17 alpha.distribution: "consistent" is not a twemproxy distribution (nutcracker refuses it too); memshift reproduces ketama and modula',
    ]);
  });

  it('names are case-sensitive, as in nutcracker', () => {
    expect(refused(pool('  hash: MD5\n'))[0]).toContain('"MD5" is not a twemproxy hash');
  });
});

describe('servers', () => {
  it("keeps twemproxy's ring name when memshift would spell it differently", () => {
    const { config, yaml } = importTwemproxy(pool('', ['::1:11213:2', '10.0.0.4:011214:1', '"[::2]:11215:1"', 'cache.local:11211:3 c1']));
    expect(yaml).toContain('      - "[::1]:11213:2"   # nutcracker.yml: ::1:11213:2\n');
    expect(yaml).toContain('      - "10.0.0.4:11214:1 10.0.0.4:011214"   # nutcracker.yml: 10.0.0.4:011214:1 (its ring name kept as the node name)\n');
    expect(yaml).toContain('      - "[::2]:11215:1 [::2]:11215"   # nutcracker.yml: [::2]:11215:1 (its ring name kept as the node name)\n');
    expect(yaml).toContain('      - "cache.local:11211:3 c1"\n');
    const servers = config.pools.get('alpha')!.servers;
    expect(servers.map((s) => ketamaServerName(s))).toEqual(['::1:11213', '10.0.0.4:011214', '[::2]:11215', 'c1']);
    expect(servers.map((s) => [s.host, s.port, s.weight])).toEqual([['::1', 11213, 2], ['10.0.0.4', 11214, 1], ['::2', 11215, 1], ['cache.local', 11211, 3]]);
  });

  it('a server on port 11211 is named by its host alone, as in nutcracker', () => {
    const { config } = importTwemproxy(pool('', ['10.0.0.1:11211:1', '10.0.0.2:11211:1']));
    expect(config.pools.get('alpha')!.servers.map((s) => ketamaServerName(s))).toEqual(['10.0.0.1', '10.0.0.2']);
  });

  it('refuses what nutcracker refuses, and unix sockets, each at its line', () => {
    expect(refused(pool('', ['127.0.0.1:11211', '127.0.0.1:11212:0', '/tmp/mc.sock:1', '127.0.0.1:x:1', '127.0.0.1:11213:1 a', '127.0.0.1:11214:1 a']))).toEqual([
      'nc.yml:4:7 alpha.servers[0]: expected "host:port:weight [name]" (nutcracker needs the weight), got "127.0.0.1:11211"',
      'nc.yml:5:7 alpha.servers[1]: has a zero weight in "127.0.0.1:11212:0" (nutcracker refuses it too)',
      'nc.yml:6:7 alpha.servers[2]: unix-socket servers are not supported by memshift',
      'nc.yml:7:7 alpha.servers[3]: has an invalid port in "127.0.0.1:x:1" (nutcracker refuses it too)',
      'nc.yml:9:7 alpha.servers[5]: has the same name "a" as servers[4] (nutcracker refuses it too)',
    ]);
  });

  it('refuses two servers on one address (nutcracker allows it with names; memshift connects by address)', () => {
    expect(refused(pool('', ['127.0.0.1:11211:1 a', '127.0.0.1:11211:1 b']))).toEqual([
      'nc.yml:1:1 alpha: memshift cannot take this pool as converted: pools.alpha.servers[1]: duplicate server address 127.0.0.1:11211 (also servers[0])',
    ]);
  });

  it('refuses a missing, empty or malformed server list', () => {
    expect(refused('alpha:\n  listen: 127.0.0.1:22121\n')).toEqual(['nc.yml:1:1 alpha: servers is missing (nutcracker requires at least one)']);
    expect(refused('alpha:\n  listen: 127.0.0.1:22121\n  servers: []\n')).toEqual(['nc.yml:3:12 alpha.servers: expected a list of "host:port:weight [name]", got an empty list']);
    expect(refused('alpha:\n  listen: 127.0.0.1:22121\n  servers: 127.0.0.1:11211:1\n')).toEqual([
      'nc.yml:3:12 alpha.servers: expected a list of "host:port:weight [name]", got "127.0.0.1:11211:1"',
    ]);
  });
});

describe('listen', () => {
  it('a unix socket with permissions, and an IPv6 address in brackets', () => {
    expect(importTwemproxy('a:\n  listen: /tmp/nc.sock 0666\n  servers: [10.0.0.1:11211:1]\n').config.listen).toEqual([{ kind: 'unix', path: '/tmp/nc.sock', mode: 0o666, raw: 'unix:/tmp/nc.sock' }]);
    expect(importTwemproxy('a:\n  listen: /tmp/nc.sock\n  servers: [10.0.0.1:11211:1]\n').config.listen).toEqual([{ kind: 'unix', path: '/tmp/nc.sock', raw: 'unix:/tmp/nc.sock' }]);
    const v6 = importTwemproxy('a:\n  listen: "::1:22121"\n  servers: [10.0.0.1:11211:1]\n');
    expect(v6.config.listen).toEqual([{ kind: 'tcp', host: '::1', port: 22121, raw: '[::1]:22121' }]);
    expect(v6.yaml).toContain('  - "[::1]:22121"   # nutcracker.yml: ::1:22121\n');
  });

  it('refuses a missing or malformed listen', () => {
    expect(refused('a:\n  servers: [10.0.0.1:11211:1]\n')).toEqual(['nc.yml:1:1 a: listen is missing (nutcracker requires it)']);
    expect(refused('a:\n  listen: 22121\n  servers: [10.0.0.1:11211:1]\n')).toEqual(['nc.yml:2:11 a.listen: expected "host:port" or "/path/to/socket [permissions]", got "22121"']);
    expect(refused('a:\n  listen: 127.0.0.1:0\n  servers: [10.0.0.1:11211:1]\n')).toEqual(['nc.yml:2:11 a.listen: has an invalid port in "127.0.0.1:0" (nutcracker refuses it too)']);
    expect(refused('a:\n  listen: /tmp/x.sock 999\n  servers: [10.0.0.1:11211:1]\n')).toEqual(['nc.yml:2:11 a.listen: has an invalid file permission "999" (nutcracker refuses it too)']);
  });
});

describe('other settings', () => {
  it('timeout: none (or 0) in nutcracker means wait for ever; memshift keeps its default and says so', () => {
    for (const settings of ['', '  timeout: 0\n']) {
      const { config, yaml } = importTwemproxy(pool(settings));
      expect(config.pools.get('alpha')!.timeoutMs).toBe(1000);
      expect(yaml).toContain('(it waits for a server for ever); memshift needs one\n    # and uses 1000 ms.');
    }
  });

  it('without auto_eject_hosts: memshift\'s backend defaults, and a comment on why', () => {
    const { config, yaml } = importTwemproxy(pool('  server_failure_limit: 5\n'));
    expect(config.backend).toMatchObject({ failureLimit: 3, probeMinMs: 1000, probeMaxMs: 30_000 });
    expect(yaml).toContain('# twemproxy: auto_eject_hosts: false (default), server_failure_limit: 5, server_retry_timeout: 30000\n# (default). Without auto_eject_hosts nutcracker never takes a server off the ring');
    expect(yaml).not.toMatch(/^backend:/m);
  });

  it("auto_eject_hosts with nutcracker's defaults; 0 limits become memshift's minimum", () => {
    expect(importTwemproxy(pool('  auto_eject_hosts: true\n')).config.backend).toMatchObject({ failureLimit: 2, probeMinMs: 30_000, probeMaxMs: 30_000 });
    const zero = importTwemproxy(pool('  auto_eject_hosts: true\n  server_failure_limit: 0\n  server_retry_timeout: 0\n'));
    expect(zero.config.backend).toMatchObject({ failureLimit: 1, probeMinMs: 1, probeMaxMs: 1 });
    expect(zero.yaml).toContain('# (server_failure_limit 0 ejected on the first failure; memshift counts at least 1.)');
  });

  it('auto_eject_hosts with modula: no failover_after hint (modula cannot move one server\'s keys)', () => {
    const { yaml } = importTwemproxy(pool('  distribution: modula\n  auto_eject_hosts: true\n'));
    expect(yaml).not.toContain('failover_after');
    expect(yaml.replace(/\n# /g, ' ')).toContain("A modula pool cannot move one server's keys (hash % total weight would change for nearly every key)");
  });

  it('lists the settings with no effect on placement', () => {
    const { yaml } = importTwemproxy(pool('  backlog: 512\n  client_connections: 100\n  tcpkeepalive: true\n  preconnect: false\n  redis_db: 3\n  reuseport: true\n'));
    expect(yaml).toContain(`# Not converted (no effect on where keys go):
#   backlog: 512             memshift uses Node's listen backlog (511)
#   client_connections: 100  nutcracker 0.5.0 ignores it too; memshift's limit is limits.max_connections
#   redis_db: 3              a redis setting; nutcracker ignores it in a memcached pool
#   tcpkeepalive: true       memshift sets TCP keepalive on its server connections always (30 s)
#   preconnect: false        memshift connects to every server at start always
#   reuseport: true          memshift on Node 20 has no SO_REUSEPORT; run more processes with their own listen addresses
`);
  });

  it('refuses a redis pool, redis_auth, and values nutcracker would not read', () => {
    expect(refused(pool('  redis: true\n  redis_auth: secret\n  timeout: 1s\n  preconnect: yes\n  hash_tag: "{"\n  server_connections: 0\n  hash: [md5]\n'))).toEqual([
      'nc.yml:3:10 alpha.redis: a redis pool cannot be converted: memshift speaks the memcached protocol only',
      'nc.yml:4:3 alpha.redis_auth: redis_auth is a redis setting (nutcracker refuses it in a memcached pool)',
      'nc.yml:5:12 alpha.timeout: must be a number of decimal digits (nutcracker\'s nc_atoi), got "1s"',
      'nc.yml:6:15 alpha.preconnect: must be true or false (nutcracker accepts only these), got "yes"',
      'nc.yml:7:13 alpha.hash_tag: must be two characters, such as "{}" (nutcracker refuses anything else), got "{"',
      'nc.yml:8:23 alpha.server_connections: cannot be 0 (nutcracker refuses it too)',
      'nc.yml:9:9 alpha.hash: expected a single value, got a list',
    ]);
  });

  it('refuses an unknown setting, with a suggestion', () => {
    expect(refused(pool('  timout: 400\n  colour: blue\n'))).toEqual([
      'nc.yml:3:3 alpha.timout: not a twemproxy setting (nutcracker refuses it too); did you mean "timeout"?',
      'nc.yml:4:3 alpha.colour: not a twemproxy setting (nutcracker refuses it too)',
    ]);
  });

  it('a pool name memshift does not take is adapted (the name does not affect placement)', () => {
    const { config, yaml } = importTwemproxy('"my pool!":\n  listen: 127.0.0.1:22121\n  servers: [10.0.0.1:11211:1]\n');
    expect([...config.pools.keys()]).toEqual(['my_pool_']);
    expect(yaml).toContain(`  my_pool_:   # twemproxy's pool "my pool!"\n`);
  });
});

describe('the file', () => {
  const TWO = `alpha:
  listen: 127.0.0.1:22121
  servers: [10.0.0.1:11211:1]
beta:
  listen: 127.0.0.1:22122
  hash: md5
  servers: [10.0.0.2:11211:1, 10.0.0.3:11211:1]
`;

  it('refuses several pools without a choice, and says why', () => {
    expect(refused(TWO)).toEqual([
      'nc.yml:1:1: 2 pools: "alpha" (listen 127.0.0.1:22121), "beta" (listen 127.0.0.1:22122). nutcracker picks a pool by the address a client connects to; memshift picks one by the key\'s prefix (routes), the same on every listener, so one memshift config cannot place keys as these pools do. Convert one pool at a time (--pool NAME) and run one memshift for each',
    ]);
  });

  it('converts the pool chosen', () => {
    const { config, pool: name } = importTwemproxy(TWO, { pool: 'beta' });
    expect(name).toBe('beta');
    expect(config.listen[0]).toMatchObject({ port: 22122 });
    expect(config.pools.get('beta')).toMatchObject({ hash: 'md5', servers: [{ address: '10.0.0.2:11211' }, { address: '10.0.0.3:11211' }] });
    expect(refused(TWO, { pool: 'gamma' })).toEqual(['nc.yml:1:1: no pool "gamma"; the pools are "alpha", "beta"']);
  });

  it('refuses an empty file, a file that is not a map, a pool that is not a map, and bad YAML', () => {
    expect(refused('')).toEqual(['nc.yml:1:1: the file is empty: expected a map of twemproxy pools']);
    expect(refused('- a\n- b\n')).toEqual(['nc.yml:1:1: expected a map of twemproxy pools, got a list']);
    expect(refused('alpha: 5\n')).toEqual(['nc.yml:1:8 alpha: a pool is a map of settings, got "5"']);
    expect(refused('alpha:\n  listen: 127.0.0.1:1\n  listen: 127.0.0.1:2\n')[0]).toMatch(/^nc\.yml:3:3: YAML: Map keys must be unique/);
    expect(refused('alpha: [\n')[0]).toMatch(/^nc\.yml:\d+:\d+: YAML: /);
  });
});

describe('placement', () => {
  it('the converted ring is the ring of the same settings (modula order follows the ring names)', () => {
    const servers = ['10.0.0.9:22122:3', '10.0.0.1:11211:1', '10.0.0.5:11211:2 zz', '10.0.0.2:011212:1'];
    const { config } = importTwemproxy(pool('  hash: murmur\n  distribution: modula\n  hash_tag: "{}"\n', servers));
    const ring = createRing(config.pools.get('alpha')!);
    // Slots in nutcracker's name order: "zz", "10.0.0.1", "10.0.0.9:22122", "10.0.0.2:011212".
    expect([...(ring as unknown as { slots: Uint16Array }).slots]).toEqual([2, 2, 1, 0, 0, 0, 3]);
  });
});
