/**
 * A pool's `tls` and a migration's `from_tls` (TLS from memshift to memcached servers): every
 * server of the pool carries the pool's settings, the `from` servers theirs. A listener's `tls`
 * (client `listen` entries, the admin API). The files are read with the config: certificates made
 * by openssl (test/support/tls-certs.ts).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { problems } from './problems.js';
import { CLIENT_EXT, makeCerts, signedCert } from '../../support/tls-certs.js';

const certs = makeCerts();
const dir = mkdtempSync(join(tmpdir(), 'memshift-tls-config-'));
const file = (name: string, text: string): string => {
  writeFileSync(join(dir, name), text);
  return join(dir, name);
};
const CA = certs.ca;
const OLD_CA = certs.otherCa;
const CERT = certs.clientCert;
const KEY = certs.clientKey;
const NOT_PEM = file('junk.pem', 'hello\n');
const BROKEN = file('broken.pem', '-----BEGIN CERTIFICATE-----\nMIID\n-----END CERTIFICATE-----\n');

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

describe('certificates are checked as certificates', () => {
  it('one that cannot be parsed, one that expired, a key that is not the certificate\'s: each at its field', () => {
    expect(problems(pool(`    tls: {ca_file: ${BROKEN}}\n`))).toEqual([expect.stringMatching(new RegExp(`^m\\.yml:5:20 pools\\.main\\.tls\\.ca_file: ${BROKEN}: certificate 1 cannot be parsed`))]);
    const expired = signedCert(certs.dir, 'expired', CLIENT_EXT, 1, 10);
    expect(problems(pool(`    tls: {cert_file: ${expired}, key_file: ${join(certs.dir, 'expired-key.pem')}}\n`))).toEqual([
      expect.stringMatching(new RegExp(`^m\\.yml:5:22 pools\\.main\\.tls\\.cert_file: the certificate in ${expired} expired on \\d{4}-\\d\\d-\\d\\dT`)),
    ]);
    expect(problems(pool(`    tls: {cert_file: ${CERT}, key_file: ${certs.serverKey}}\n`))).toEqual([
      expect.stringMatching(new RegExp(`^m\\.yml:5:\\d+ pools\\.main\\.tls\\.key_file: the key in ${certs.serverKey} does not match the certificate in ${CERT}$`)),
    ]);
  });
});

describe('listen entries and the admin API with tls', () => {
  const config = (listen: string, admin = ''): string => `listen:\n${listen}\npools:\n  main:\n    servers: ["10.0.0.1:11211:1"]\n${admin}`;

  it('{address, tls} and {host, port, tls}; client_ca_file asks for client certificates', () => {
    const c = parseConfig(
      config(`  - "127.0.0.1:11211"\n  - {address: "0.0.0.0:11212", tls: {cert_file: ${certs.serverCert}, key_file: ${certs.serverKey}, client_ca_file: ${CA}}}\n  - {host: "::1", port: 11213, tls: {cert_file: ${certs.serverCert}, key_file: ${certs.serverKey}}}`),
    );
    expect(c.listen).toEqual([
      { kind: 'tcp', host: '127.0.0.1', port: 11211, raw: '127.0.0.1:11211' },
      { kind: 'tcp', host: '0.0.0.0', port: 11212, raw: '0.0.0.0:11212', tls: { certFile: certs.serverCert, keyFile: certs.serverKey, clientCaFile: CA } },
      { kind: 'tcp', host: '::1', port: 11213, raw: '[::1]:11213', tls: { certFile: certs.serverCert, keyFile: certs.serverKey } },
    ]);
  });

  it('a listener tls needs its certificate and key, files that hold them, and TCP', () => {
    expect(problems(config(`  - {address: "127.0.0.1:11212", tls: {cert_file: ${certs.serverCert}}}`))).toEqual([
      expect.stringMatching(/^m\.yml:2:\d+ listen\[0\]\.tls\.key_file: required setting is missing|^m\.yml:2:\d+ listen\[0\]\.tls\.key_file: /),
    ]);
    expect(problems(config(`  - {address: "unix:/tmp/x.sock", tls: {cert_file: ${certs.serverCert}, key_file: ${certs.serverKey}}}`))).toEqual([
      'm.yml:2:15 listen[0].address: expected "host:port" (TLS is for TCP listeners), got "unix:/tmp/x.sock"',
    ]);
    expect(problems(config(`  - {address: "127.0.0.1:11212", tls: {cert_file: ${certs.serverCert}, key_file: ${KEY}}}`))).toEqual([
      expect.stringMatching(/listen\[0\]\.tls\.key_file: the key in .* does not match the certificate in /),
    ]);
  });

  it('admin.tls', () => {
    const c = parseConfig(config('  - "127.0.0.1:11211"', `admin: {listen: "0.0.0.0:9121", tls: {cert_file: ${certs.serverCert}, key_file: ${certs.serverKey}}}\n`));
    expect(c.admin?.tls).toEqual({ certFile: certs.serverCert, keyFile: certs.serverKey });
    expect(problems(config('  - "127.0.0.1:11211"', `admin: {tls: {cert_file: ${NOT_PEM}, key_file: ${certs.serverKey}}}\n`))).toEqual([
      expect.stringMatching(/^m\.yml:6:\d+ admin\.tls\.cert_file: .*junk\.pem holds no PEM certificate/),
    ]);
  });
});
