/**
 * Differential test: every case goes to a real memcached and to memshift (in
 * front of three real memcached), and both must answer with the same bytes and
 * leave the connection in the same state (open or closed). A second memshift, in
 * front of three memcached that require TLS and a client certificate, must too.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hold, startMemcached, startMemshiftPool, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import { requireDep } from '../support/system-deps.js';
import { clientTls, makeCerts, memcachedTlsArgs } from '../support/tls-certs.js';
import { DIFF_CASES, type DiffCase } from './differential-cases.js';

let reference: ServerHandle;
let proxy: ServerHandle;
let tlsProxy: ServerHandle;

beforeAll(async () => {
  requireDep('openssl');
  reference = await startMemcached();
  ({ proxy } = await startMemshiftPool(3));
  const certs = makeCerts();
  ({ proxy: tlsProxy } = await startMemshiftPool(3, { memcached: { args: memcachedTlsArgs(certs, 3) }, pool: { tls: clientTls(certs) } }));
});
afterAll(stopAll);

interface Outcome {
  reply: string;
  closed: boolean;
}

async function play(port: number, c: DiffCase, key: string): Promise<Outcome> {
  const client = await TextClient.connect(port);
  try {
    for (const w of c.writes) {
      const bytes = typeof w === 'string' ? Buffer.from(w.replaceAll('{k}', key), 'latin1') : Buffer.from(w.toString('latin1').replaceAll('{k}', key), 'latin1');
      await client.write(bytes);
      await hold(20, 'each write reaches the server in a read of its own');
    }
    const reply = await client.readFor(300);
    return { reply: reply.toString('latin1'), closed: client.isClosed() };
  } finally {
    client.close();
  }
}

function show(o: Outcome): string {
  const text = o.reply.length > 400 ? `${o.reply.slice(0, 200)}…(${o.reply.length} bytes)…${o.reply.slice(-100)}` : o.reply;
  return `${JSON.stringify(text)} ${o.closed ? '[closed]' : '[open]'}`;
}

describe('memshift replies byte for byte like memcached 1.6', () => {
  DIFF_CASES.forEach((c, i) => {
    it(c.name, async () => {
      const key = `diff${i}_${Date.now() % 100000}`;
      const [want, got, overTls] = await Promise.all([play(reference.port, c, key), play(proxy.port, c, key), play(tlsProxy.port, c, key)]);
      expect(show(got)).toBe(show(want));
      expect(got.reply === want.reply).toBe(true);
      expect(show(overTls), 'memshift over a TLS pool').toBe(show(want));
    });
  });
});
