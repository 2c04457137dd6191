/**
 * The config takes every twemproxy hash and the modula distribution, and refuses what a modula
 * pool cannot do (a failover, a migration that changes the total weight).
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { DISTRIBUTION_NAMES, HASH_NAMES } from '../../../src/config/schema.js';
import { TWEMPROXY_HASH_NAMES } from '../../../src/routing/hash.js';
import { ModulaRing, Router } from '../../../src/routing/index.js';
import { problems } from './problems.js';

const pool = (extra: string, servers = '["10.0.0.1:11211:1", "10.0.0.2:11211:2"]'): string =>
  `listen: ["127.0.0.1:0"]\npools:\n  main:\n    servers: ${servers}\n${extra}`;


describe('hash', () => {
  it('accepts exactly twemproxy\'s twelve hashes', () => {
    expect([...HASH_NAMES].sort()).toEqual([...TWEMPROXY_HASH_NAMES].sort());
  });

  it.each(TWEMPROXY_HASH_NAMES)('%s, with ketama and modula', (hash) => {
    for (const distribution of ['ketama', 'modula']) {
      const config = parseConfig(pool(`    hash: ${hash}\n    distribution: ${distribution}\n`));
      expect(config.pools.get('main')).toMatchObject({ hash, distribution });
      expect(() => new Router(config)).not.toThrow();
    }
  });

  it('node-memcached still takes md5 only', () => {
    for (const hash of TWEMPROXY_HASH_NAMES.filter((h) => h !== 'md5')) {
      expect(problems(pool(`    distribution: node-memcached\n    hash: ${hash}\n`)).join()).toContain('the node-memcached distribution hashes keys with md5');
    }
  });
});

describe('distribution: modula', () => {
  it('is one of the distributions, with the default hash fnv1a_64', () => {
    expect(DISTRIBUTION_NAMES).toEqual(['ketama', 'modula', 'node-memcached']);
    const config = parseConfig(pool('    distribution: modula\n'));
    expect(config.pools.get('main')).toMatchObject({ hash: 'fnv1a_64', distribution: 'modula' });
    expect(new Router(config).ring(0)).toBeInstanceOf(ModulaRing);
  });

  it('takes no failover_after', () => {
    expect(problems(pool('    distribution: modula\n    failover_after: 30s\n'))).toEqual([
      'm.yml:6:21 pools.main.failover_after: failover_after needs a consistent-hash distribution: with modula, taking a server out changes hash % total weight for nearly every key',
    ]);
  });

  it('migrates only when the total weight stays the same', () => {
    const same = pool('    distribution: modula\n    migration: {id: swap, from: ["10.0.0.1:11211:1", "10.0.0.3:11211:2"]}\n');
    expect(parseConfig(same).pools.get('main')!.migration).toMatchObject({ id: 'swap' });
    const grow = pool('    distribution: modula\n    migration: {id: grow, from: ["10.0.0.1:11211:1", "10.0.0.2:11211:1"]}\n');
    expect(problems(grow)).toEqual([
      'm.yml:6:33 pools.main.migration.from: a modula pool places a key on slot hash % total weight, and this migration changes the total weight from 2 to 3, which moves nearly every key; memshift migrates a modula pool only when its total weight stays the same (e.g. a server replaced by one of the same weight)',
    ]);
  });

  it('checks each replica group of a migration', () => {
    const text = `listen: ["127.0.0.1:0"]
pools:
  main:
    distribution: modula
    replicas:
      - {name: a, servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:1"]}
      - {name: b, servers: ["10.0.1.1:11211:1", "10.0.1.2:11211:1"]}
    migration:
      id: m
      from:
        - {name: a, servers: ["10.0.0.1:11211:1", "10.0.0.9:11211:1"]}
        - {name: b, servers: ["10.0.1.1:11211:1"]}
`;
    expect(problems(text)).toEqual([expect.stringContaining('changes the total weight of group 1 from 1 to 2')]);
  });

  it('caps the slots (total weight)', () => {
    expect(problems(pool('    distribution: modula\n', '["10.0.0.1:11211:2000000", "10.0.0.2:11211:2000000"]'))).toEqual([
      'm.yml:4:14 pools.main.servers: modula gives each server one slot per unit of weight: the total weight 4000000 is over 2097152',
    ]);
  });
});
