import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';

const pool = (extra: string): string => `listen: ["127.0.0.1:0"]\npools:\n  main:\n    servers: ["127.0.0.1:11211:1"]\n${extra}`;

describe('the default key hash follows the distribution', () => {
  it('ketama defaults to fnv1a_64, like twemproxy', () => {
    expect(parseConfig(pool('')).pools.get('main')!.hash).toBe('fnv1a_64');
  });
  it('node-memcached defaults to md5, the only hash npm memcached uses', () => {
    expect(parseConfig(pool('    distribution: node-memcached\n')).pools.get('main')!.hash).toBe('md5');
  });
  it('node-memcached with another hash is an error at its line', () => {
    expect(() => parseConfig(pool('    distribution: node-memcached\n    hash: fnv1a_64\n'), 'm.yml')).toThrow(/m\.yml:6:\d+ pools\.main\.hash: the node-memcached distribution hashes keys with md5/);
  });
});
