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

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function selfSignedCa(dir: string, name: string): void {
  openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.pem`]);
}

function signed(dir: string, name: string, ext: string): void {
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}-key.pem`, '-out', `${name}.csr`]);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
}

export function makeCerts(): TestCerts {
  const dir = makeTempDir('tls');
  selfSignedCa(dir, 'ca');
  selfSignedCa(dir, 'other-ca');
  signed(dir, 'server', 'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:cache.internal\nextendedKeyUsage=serverAuth\n');
  signed(dir, 'client', 'extendedKeyUsage=clientAuth\n');
  const f = (n: string): string => join(dir, n);
  return { dir, ca: f('ca.pem'), serverCert: f('server.pem'), serverKey: f('server-key.pem'), clientCert: f('client.pem'), clientKey: f('client-key.pem'), otherCa: f('other-ca.pem') };
}

/** memcached arguments for TLS with these certificates; `verifyMode` 3 requires a client certificate. */
export function memcachedTlsArgs(c: TestCerts, verifyMode: 0 | 1 | 3 = 0): string[] {
  return ['-Z', '-o', `ssl_chain_cert=${c.serverCert},ssl_key=${c.serverKey},ssl_ca_cert=${c.ca},ssl_verify_mode=${verifyMode}`];
}
