/**
 * Certificates for TLS tests, made by Debian's `openssl` in a temporary directory: a CA, a server
 * certificate it signs (for 127.0.0.1, localhost and cache.internal), a client certificate it
 * signs, and a second CA that signed none of them (the "wrong CA").
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeTempDir } from './process.js';

export interface TestCerts {
  readonly dir: string;
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** A CA that signed nothing here. */
  readonly otherCa: string;
}

/** Runs openssl in `dir`; `daysAgo` runs it under faketime, as if that many days ago (an expired certificate). */
function openssl(dir: string, args: string[], daysAgo = 0): void {
  const [cmd, argv] = daysAgo === 0 ? ['openssl', args] : ['faketime', ['-f', `-${daysAgo}d`, 'openssl', ...args]];
  execFileSync(cmd as string, argv as string[], { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(dir: string, name: string, days: number): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', String(days), '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`]);
}

/** A certificate `name`.pem (key `name`-key.pem) signed by the CA in `dir`, valid `days` from `daysAgo` days ago. */
export function signedCert(dir: string, name: string, ext: string, days: number, daysAgo = 0): string {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', String(days), '-extfile', `${name}.ext`, '-out', `${name}.pem`], daysAgo);
  return join(dir, `${name}.pem`);
}

export const SERVER_EXT = 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:cache.internal\nextendedKeyUsage=serverAuth\n';
export const CLIENT_EXT = 'extendedKeyUsage=clientAuth\n';

/** A CA, the server and client certificates it signs, and another CA; all valid for `days` (default 60: no expiry warning). */
export function makeCerts(days = 60): TestCerts {
  const dir = makeTempDir('tls');
  selfSignedCa(dir, 'ca', days);
  selfSignedCa(dir, 'other-ca', days);
  signedCert(dir, 'server', SERVER_EXT, days);
  signedCert(dir, 'client', CLIENT_EXT, days);
  const f = (n: string): string => join(dir, n);
  return { dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server-key.pem'), clientCert: f('client.pem'), clientKey: f('client-key.pem'), otherCa: f('other-ca.pem') };
}

/** memcached arguments for TLS with these certificates; `verifyMode` 3 requires a client certificate. */
export function memcachedTlsArgs(c: TestCerts, verifyMode: 0 | 1 | 3 = 0): string[] {
  return ['-Z', '-o', `ssl_chain_cert=${c.serverCert},ssl_key=${c.serverKey},ssl_ca_cert=${c.ca},ssl_verify_mode=${verifyMode}`];
}

/** A pool's `tls` that verifies the servers against the CA and logs in with the client certificate. */
export function clientTls(c: TestCerts): { ca_file: string; cert_file: string; key_file: string } {
  return { ca_file: c.ca, cert_file: c.clientCert, key_file: c.clientKey };
}
