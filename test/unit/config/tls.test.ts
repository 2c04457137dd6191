/**
 * A pool's `tls` and a migration's `from_tls` (TLS from memshift to memcached servers): every
 * server of the pool carries the pool's settings, the `from` servers theirs.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { problems } from './problems.js';

// The config reads the files it names (PEM blocks of the right kind): these stand in for real ones.
const dir = mkdtempSync(join(tmpdir(), 'memshift-tls-config-'));
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const CA = file('ca.pem', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
const OLD_CA = file('old-ca.pem', '-----BEGIN CERTIFICATE-----\nMIIC\n-----END CERTIFICATE-----\n');
const CERT = file('client.pem', '-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n');
const KEY = file('client-key.pem', '-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n');
const NOT_PEM = file('junk.pem', 'hello\n');

const pool = (extra: string): string => `listen: ["127.0.0.1:11211"]
pools:
  main:
    servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:1"]
${extra}`;

describe('pools.<p>.tls', () => {
  it('gives every server of the pool its settings, verify on by default', () => {
    const c = parseConfig(pool(`    tls: {ca_file: ${CA}, server_name: cache.internal}\n`));
    const p = c.pools.get('main')!;
    const tls = { caFile: CA, serverName: 'cache.internal', verify: true };
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
    expect(problems(pool(`    tls: {cert_file: ${CERT}}\n`))).toEqual(['m.yml:5:5 pools.main.tls.key_file: cert_file and key_file go together (a client certificate and its key)']);
    expect(problems(pool(`    tls: {ca: ${CA}}\n`))).toEqual(['m.yml:5:11 pools.main.tls.ca: unknown key "ca"; expected one of "ca_file", "cert_file", "key_file", "server_name", "verify"']);
  });
});

describe('migration.from_tls', () => {
  const migration = (fromTls: string): string =>
    pool(`    tls: {ca_file: ${CA}}
    migration:
      id: into-tls
      from: ["10.0.9.1:11211:1"]
${fromTls}`);

  it('defaults to the pool settings; false moves from plain servers into the TLS pool; or its own', () => {
    const of = (text: string) => parseConfig(text).pools.get('main')!.migration!.from[0]!.servers[0]!.tls;
    expect(of(migration(''))).toEqual({ caFile: CA, verify: true });
    expect(of(migration('      from_tls: false\n'))).toBeUndefined();
    expect(of(migration(`      from_tls: {ca_file: ${OLD_CA}}\n`))).toEqual({ caFile: OLD_CA, verify: true });
  });
});

describe('the files tls and auth name', () => {
  it('are read with the config: one that cannot be read, or holds no PEM block of its kind, is reported at its field', () => {
    expect(problems(pool(`    tls: {ca_file: ${dir}/missing.pem}\n`))).toEqual([`m.yml:5:20 pools.main.tls.ca_file: cannot read ${dir}/missing.pem: ENOENT`]);
    expect(problems(pool(`    tls: {ca_file: ${NOT_PEM}}\n`))).toEqual([`m.yml:5:20 pools.main.tls.ca_file: ${NOT_PEM} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`]);
    expect(problems(pool(`    tls: {cert_file: ${KEY}, key_file: ${CERT}}\n`))).toEqual([
      `m.yml:5:22 pools.main.tls.cert_file: ${KEY} holds no PEM certificate (a "-----BEGIN CERTIFICATE-----" block)`,
      expect.stringMatching(/^m\.yml:5:\d+ pools\.main\.tls\.key_file: .* holds no PEM private key/),
    ]);
    expect(parseConfig(pool(`    tls: {ca_file: ${CA}, cert_file: ${CERT}, key_file: ${KEY}}\n`)).pools.get('main')!.tls).toEqual({ caFile: CA, certFile: CERT, keyFile: KEY, verify: true });
  });

  it('auth.password_file must be readable and not empty', () => {
    expect(problems(pool(`    auth: {username: app, password_file: ${dir}/nope}\n`))).toEqual([expect.stringMatching(new RegExp(`^m\\.yml:5:\\d+ pools\\.main\\.auth\\.password_file: cannot read ${dir}/nope: ENOENT$`))]);
    expect(problems(pool(`    auth: {username: app, password_file: ${file('empty', '\n')}}\n`))[0]).toMatch(/password_file: .*empty is empty$/);
    expect(parseConfig(pool(`    auth: {username: app, password_file: ${file('pass', 'x\n')}}\n`)).pools.get('main')!.servers[0]!.auth).toEqual({ username: 'app', passwordFile: join(dir, 'pass') });
  });
});
