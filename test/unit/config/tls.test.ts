/**
 * A pool's `tls` and a migration's `from_tls` (TLS from memshift to memcached servers): every
 * server of the pool carries the pool's settings, the `from` servers theirs.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { problems } from './problems.js';

const pool = (extra: string): string => `listen: ["127.0.0.1:11211"]
pools:
  main:
    servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:1"]
${extra}`;

describe('pools.<p>.tls', () => {
  it('gives every server of the pool its settings, verify on by default', () => {
    const c = parseConfig(pool('    tls: {ca_file: /etc/ca.pem, server_name: cache.internal}\n'));
    const p = c.pools.get('main')!;
    const tls = { caFile: '/etc/ca.pem', serverName: 'cache.internal', verify: true };
    expect(p.tls).toEqual(tls);
    expect(p.servers.map((s) => s.tls)).toEqual([tls, tls]);
  });

  it('leaves servers plain without it', () => {
    const p = parseConfig(pool('')).pools.get('main')!;
    expect(p.tls).toBeUndefined();
    expect(p.servers.every((s) => s.tls === undefined)).toBe(true);
  });

  it('gives every replica group the pool settings', () => {
    const c = parseConfig(`listen: ["127.0.0.1:11211"]
pools:
  main:
    replicas:
      - {name: a, servers: ["10.0.0.1:11211:1"]}
      - {name: b, servers: ["10.0.1.1:11211:1"]}
    tls: {verify: false}
`);
    expect(c.pools.get('main')!.groups.flatMap((g) => g.servers.map((s) => s.tls))).toEqual([{ verify: false }, { verify: false }]);
  });

  it('wants cert_file and key_file together, and no unknown key', () => {
    expect(problems(pool('    tls: {cert_file: /etc/c.pem}\n'))).toEqual(['m.yml:5:5 pools.main.tls.key_file: cert_file and key_file go together (a client certificate and its key)']);
    expect(problems(pool('    tls: {ca: /etc/ca.pem}\n'))).toEqual(['m.yml:5:11 pools.main.tls.ca: unknown key "ca"; expected one of "ca_file", "cert_file", "key_file", "server_name", "verify"']);
  });
});

describe('migration.from_tls', () => {
  const migration = (fromTls: string): string =>
    pool(`    tls: {ca_file: /etc/ca.pem}
    migration:
      id: into-tls
      from: ["10.0.9.1:11211:1"]
${fromTls}`);

  it('defaults to the pool settings; false moves from plain servers into the TLS pool; or its own', () => {
    const of = (text: string) => parseConfig(text).pools.get('main')!.migration!.from[0]!.servers[0]!.tls;
    expect(of(migration(''))).toEqual({ caFile: '/etc/ca.pem', verify: true });
    expect(of(migration('      from_tls: false\n'))).toBeUndefined();
    expect(of(migration('      from_tls: {ca_file: /etc/old-ca.pem}\n'))).toEqual({ caFile: '/etc/old-ca.pem', verify: true });
  });
});
