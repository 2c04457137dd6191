/**
 * libmemcached's memccapable protocol checks: memcached passes 27/27, and so must memshift, over a
 * pool of plain memcached and over one of memcached that require TLS and a client certificate.
 */
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMemcached, startMemshiftPool, stopAll, type ServerHandle } from '../support/harness.js';
import { requireDep } from '../support/system-deps.js';
import { clientTls, makeCerts, memcachedTlsArgs } from '../support/tls-certs.js';

let proxy: ServerHandle;
let tlsProxy: ServerHandle;
let direct: ServerHandle;

beforeAll(async () => {
  requireDep('openssl');
  direct = await startMemcached();
  ({ proxy } = await startMemshiftPool(3));
  const certs = makeCerts();
  ({ proxy: tlsProxy } = await startMemshiftPool(3, { memcached: { args: memcachedTlsArgs(certs, 3) }, pool: { tls: clientTls(certs) } }));
});
afterAll(stopAll);

function memccapable(port: number): { passed: number; output: string } {
  const r = spawnSync('memccapable', ['-h', '127.0.0.1', '-p', String(port), '-a'], { encoding: 'utf8', timeout: 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  return { passed: (output.match(/\[pass\]/g) ?? []).length, output };
}

it('memcached itself passes all 27 (the reference)', () => {
  const r = memccapable(direct.port);
  expect(r.passed, r.output).toBe(27);
});

it('memshift in front of 3 memcached passes all 27', () => {
  const r = memccapable(proxy.port);
  expect(r.passed, r.output).toBe(27);
  expect(r.output).toContain('All tests passed');
});

it('memshift in front of 3 memcached that require TLS (ssl_verify_mode 3) passes all 27', () => {
  const r = memccapable(tlsProxy.port);
  expect(r.passed, r.output).toBe(27);
  expect(r.output).toContain('All tests passed');
});
