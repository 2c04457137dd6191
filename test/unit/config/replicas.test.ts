import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { problems } from './problems.js';

const BASE = `listen: ["127.0.0.1:11211"]
pools:
  main:
    replicas:
      - {name: zone-a, servers: ["10.0.1.1:11211:1", "10.0.1.2:11211:1"]}
      - {name: zone-b, servers: ["10.0.2.1:11211:1", "10.0.2.2:11211:1"]}
`;


afterEach(() => {
  delete process.env['MEMSHIFT_LOCAL_GROUP'];
});

describe('replica groups', () => {
  it('reads groups, policies and the write log, with defaults', () => {
    const pool = parseConfig(`${BASE}    write: majority\n    read: local\n    local_group: zone-b\n    read_failover: errors_and_misses\n    write_log: {dir: /var/lib/memshift/wlog, max_bytes: 8MiB}\n`).pools.get('main')!;
    expect(pool.groups.map((g) => [g.name, g.servers.map((s) => s.address)])).toEqual([
      ['zone-a', ['10.0.1.1:11211', '10.0.1.2:11211']],
      ['zone-b', ['10.0.2.1:11211', '10.0.2.2:11211']],
    ]);
    expect(pool.servers.map((s) => s.address)).toEqual(['10.0.1.1:11211', '10.0.1.2:11211']);
    expect(pool).toMatchObject({ write: 'majority', read: 'local', localGroup: 'zone-b', readFailover: 'errors_and_misses', writeLog: { dir: '/var/lib/memshift/wlog', maxBytes: 8 * 1048576 } });
    const plain = parseConfig(BASE).pools.get('main')!;
    expect(plain).toMatchObject({ write: 'all', read: 'primary', readFailover: 'errors' });
    expect(plain.writeLog).toBeUndefined();
  });

  it('a pool with plain servers is one group named after the pool', () => {
    const pool = parseConfig('listen: ["127.0.0.1:11211"]\npools:\n  main:\n    servers: ["10.0.0.1:11211:1"]\n').pools.get('main')!;
    expect(pool.groups).toEqual([{ name: 'main', servers: pool.servers }]);
  });

  it('refuses two groups of the same name', () => {
    expect(problems(BASE.replace('zone-b', 'zone-a'))).toEqual(['m.yml:6:16 pools.main.replicas[1].name: duplicate group name "zone-a" (also replicas[0])']);
  });

  it('refuses a local_group that names no group, from the file or from MEMSHIFT_LOCAL_GROUP', () => {
    expect(problems(`${BASE}    local_group: zone-c\n`)).toEqual(['m.yml:7:18 pools.main.local_group: local_group "zone-c" names no group; groups are "zone-a", "zone-b"']);
    process.env['MEMSHIFT_LOCAL_GROUP'] = 'zone-x';
    expect(problems(BASE)[0]).toMatch(/local_group "zone-x" \(from MEMSHIFT_LOCAL_GROUP\) names no group/);
  });

  it('MEMSHIFT_LOCAL_GROUP overrides the file', () => {
    process.env['MEMSHIFT_LOCAL_GROUP'] = 'zone-a';
    expect(parseConfig(`${BASE}    read: local\n    local_group: zone-b\n`).pools.get('main')!.localGroup).toBe('zone-a');
  });

  it('refuses servers and replicas together, a server in two groups, and read: local without a local group', () => {
    expect(problems(`${BASE}    servers: ["10.0.9.9:11211:1"]\n`)).toEqual(['m.yml:5:7 pools.main.replicas: give either servers or replicas, not both']);
    expect(problems(BASE.replace('10.0.2.2', '10.0.1.1'))[0]).toMatch(/pools\.main\.replicas\[1\]\.servers\[1\]: server 10\.0\.1\.1:11211 is also in group "zone-a"/);
    expect(problems(`${BASE}    read: local\n`)).toEqual(['m.yml:3:3 pools.main.local_group: read: local needs local_group (or MEMSHIFT_LOCAL_GROUP)']);
  });

  it('reads the admin listener and token settings', () => {
    const c = parseConfig(`${BASE}admin: {listen: "127.0.0.1:9121", token_file: /etc/memshift/token}\n`);
    expect(c.admin).toEqual({ host: '127.0.0.1', port: 9121, tokenFile: '/etc/memshift/token' });
    expect(problems(`${BASE}admin: {listen: "nonsense"}\n`)[0]).toMatch(/admin\.listen: expected host:port for the admin listener/);
  });
});
