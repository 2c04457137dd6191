/**
 * TLS from memshift to real memcached servers (`memcached -Z`), with certificates made by
 * `openssl` (test/support/tls-certs.ts): a TLS pool serves gets and sets, multi-gets across its
 * servers, and a client certificate where memcached requires one (ssl_verify_mode 3). A wrong CA, a
 * wrong server name and a missing client certificate are refused: the backend is down, with the
 * reason in the log, and clients get `SERVER_ERROR backend unavailable`, never a plain-text
 * connection. `verify: false` accepts any certificate, with a warning. A migration moves a pool from
 * plain servers into TLS ones (`from_tls: false`) under model-checked load, copy and verify over TLS.
 */
import { stringify } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, hold, memshiftConfig, pollUntil, spreadKeys, startMemcached, startMemshift, stopAll, TextClient, untilReply, type MemcachedHandle } from '../support/harness.js';
import { CLIENT_EXT, makeCerts, memcachedTlsArgs, signedCert, type TestCerts } from '../support/tls-certs.js';
import { requireDep } from '../support/system-deps.js';
import { runMigrationScenario } from '../support/migration-scenario.js';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { connect as netConnect, type AddressInfo } from 'node:net';
import { createServer as tlsCreateServer, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { onTlsReloadError, secureContext } from '../../src/tls/index.js';

afterAll(stopAll);

const serialOf = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber;

let certs: TestCerts;
beforeAll(() => {
  requireDep('openssl');
  certs = makeCerts();
});

async function proxy(servers: MemcachedHandle[], tls: Record<string, unknown>) {
  const yaml = memshiftConfig({ listenPort: await freePort(), pools: { main: { servers, tls, timeout: '1s' } }, backend: { probe_min: '100ms' } });
  return startMemshift(yaml);
}

describe('TLS to memcached servers', () => {
  it('serves sets, gets and multi-gets over TLS across two servers, verified against the CA', async () => {
    const servers = await Promise.all([0, 1].map(() => startMemcached({ args: memcachedTlsArgs(certs) })));
    const p = await proxy(servers, { ca_file: certs.ca });
    await untilReply(p.port, 'set tls:probe 0 0 2\r\nok', 'STORED\r\n');
    const c = await TextClient.connect(p.port);
    // Keys that spread over any ring (tls:0 .. tls:49 left one of the two servers without a key in half of the port pairs).
    const keys = spreadKeys('tls:', 50);
    for (const k of keys) expect(await c.request(`set ${k} 3 0 ${k.length}\r\n${k}`)).toBe('STORED\r\n');
    expect(await c.request(`get ${keys.join(' ')}`)).toBe(`${keys.map((k) => `VALUE ${k} 3 ${k.length}\r\n${k}\r\n`).join('')}END\r\n`);
    expect(await c.request('incr tls:n 1')).toBe('NOT_FOUND\r\n');
    c.close();
  }, 60_000);

  it('answers a pipelined burst in full: memcached 1.6 -Z leaves its tail in the TLS buffer until nudged', async () => {
    // Straight to memcached -Z, 2000 sets and a version in one write stall after ~1975 replies;
    // through memshift every one is answered (memshift_backend_tls_nudges_total counts the wake-ups).
    const server = await startMemcached({ args: memcachedTlsArgs(certs) });
    const p = await proxy([server], { ca_file: certs.ca });
    await untilReply(p.port, 'version', /^VERSION /);
    const c = await TextClient.connect(p.port);
    for (const [n, size] of [[2000, 100], [50, 100_000]] as const) {
      const v = 'y'.repeat(size);
      await c.write(`${Array.from({ length: n }, (_, i) => `set burst${size}:${i} 0 0 ${size}\r\n${v}\r\n`).join('')}get burst${size}:0\r\n`);
      const tail = `VALUE burst${size}:0 0 ${size}\r\n${v}\r\nEND\r\n`;
      const got = (await c.read((b) => (b.length >= n * 8 + tail.length ? true : 0), 5_000)).toString('latin1');
      expect(got).toBe('STORED\r\n'.repeat(n) + tail);
    }
    c.close();
  }, 60_000);

  it('sends a client certificate to a memcached that requires one (ssl_verify_mode 3), and names the server it checks', async () => {
    const server = await startMemcached({ args: memcachedTlsArgs(certs, 3) });
    const p = await proxy([server], { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey, server_name: 'cache.internal' });
    await untilReply(p.port, 'set mtls 0 0 2\r\nok', 'STORED\r\n');
    await untilReply(p.port, 'get mtls', 'VALUE mtls 0 2\r\nok\r\nEND\r\n');
  }, 60_000);

  it('with ssl_verify_mode 1 (a certificate asked for, checked when given): works with and without memshift\'s', async () => {
    const server = await startMemcached({ args: memcachedTlsArgs(certs, 1) });
    const withCert = await proxy([server], { ca_file: certs.ca, cert_file: certs.clientCert, key_file: certs.clientKey });
    await untilReply(withCert.port, 'set mode1 0 0 2\r\nok', 'STORED\r\n');
    const without = await proxy([server], { ca_file: certs.ca });
    await untilReply(without.port, 'get mode1', 'VALUE mode1 0 2\r\nok\r\nEND\r\n');
  }, 60_000);

  const refusals: [string, () => Record<string, unknown>, 0 | 3, RegExp][] = [
    ['a certificate from another CA', () => ({ ca_file: certs.otherCa }), 0, /certificate/i],
    ['a server name the certificate does not hold', () => ({ ca_file: certs.ca, server_name: 'wrong.internal' }), 0, /wrong\.internal/],
    ['no client certificate where memcached requires one', () => ({ ca_file: certs.ca }), 3, /alert|certificate|closed|reset/i],
  ];
  for (const [what, tls, mode, reason] of refusals) {
    it(`refuses ${what}: the backend is down with the reason, and no request is sent in clear`, async () => {
      const server = await startMemcached({ args: memcachedTlsArgs(certs, mode) });
      const p = await proxy([server], tls());
      await untilReply(p.port, 'get refused', 'SERVER_ERROR backend unavailable\r\n');
      const down = p.logs().split('\n').filter((l) => l.includes(`backend ${server.host}:${server.port} tko`));
      expect(down.length, p.logs().slice(-2000)).toBeGreaterThan(0);
      expect(down.join('\n')).toMatch(reason);
    }, 60_000);
  }

  it('with verify: false accepts a certificate no CA here signed, and warns at start', async () => {
    const server = await startMemcached({ args: memcachedTlsArgs(certs) });
    const p = await proxy([server], { ca_file: certs.otherCa, verify: false });
    await untilReply(p.port, 'set any 0 0 2\r\nok', 'STORED\r\n');
    expect(p.logs()).toContain('tls.verify is false');
  }, 60_000);

  it('does not start with a CA file it cannot read, and names it', async () => {
    const server = await startMemcached({ args: memcachedTlsArgs(certs) });
    await expect(proxy([server], { ca_file: `${certs.dir}/missing-ca.pem` })).rejects.toThrow(/missing-ca\.pem: ENOENT/);
  }, 60_000);

  it('moves a pool from plain servers into TLS ones online, under load: no stale read, resurrected delete or lost write', async () => {
    const { status } = await runMigrationScenario({ from: [0, 1], to: [2, 3], servers: 4, keys: 10_000, tls: certs });
    expect(status.phase).toBe('done');
  }, 300_000);

  it('a server whose certificate fails verification is down with the reason in /replication and in errors_total{kind="tls"}', async () => {
    const strangers = makeCerts(); // another CA: its server certificate does not verify against ours
    const good = await startMemcached({ args: memcachedTlsArgs(certs) });
    const rogue = await startMemcached({ args: memcachedTlsArgs(strangers) });
    const admin = await freePort();
    const p = await startMemshift(
      stringify({
        listen: [`127.0.0.1:${await freePort()}`],
        pools: { main: { replicas: [{ name: 'a', servers: [`${good.address}:1`] }, { name: 'b', servers: [`${rogue.address}:1`] }], tls: { ca_file: certs.ca }, timeout: '1s' } },
        backend: { probe_min: '100ms' },
        admin: { listen: `127.0.0.1:${admin}` },
      }),
    );
    await untilReply(p.port, 'set rogue 0 0 2\r\nok', /^(STORED|SERVER_ERROR .*)\r\n$/);
    const view = async (): Promise<{ state: string; reason: string | null }> => {
      const body = (await (await fetch(`http://127.0.0.1:${admin}/replication`)).json()) as { pools: { groups: { name: string; backends: { state: string; reason: string | null }[] }[] }[] };
      return body.pools[0]!.groups.find((g) => g.name === 'b')!.backends[0]!;
    };
    const b = await pollUntil("group b's server to be marked tko", view, (v) => v.state === 'tko', 10_000, 100);
    expect(b.state).toBe('tko');
    expect(b.reason).toMatch(/certificate/i);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(Number(/memshift_errors_total\{kind="tls"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  }, 60_000);

  it('a reconnect resumes the TLS session of the connection before (an abbreviated handshake)', async () => {
    const server = await startMemcached({ args: memcachedTlsArgs(certs) });
    const p = await proxy([server], { ca_file: certs.ca });
    await untilReply(p.port, 'set resume 0 0 2\r\nok', 'STORED\r\n');
    expect(p.logs()).not.toContain('TLS session resumed');
    // A stall past the pool's 1 s timeout resets the connection; once memcached runs again, memshift reconnects.
    server.pause();
    const c = await TextClient.connect(p.port);
    expect(await c.request('get resume', 5_000)).toBe('SERVER_ERROR backend timeout\r\n');
    c.close();
    server.resume();
    await untilReply(p.port, 'get resume', 'VALUE resume 0 2\r\nok\r\nEND\r\n');
    expect(p.logs()).toMatch(/"reason":"(connected|probe answered) \(TLS session resumed\)"/);
  }, 60_000);

  it('a reload that gives the pool tls reconnects with it (the connections of the plain config are not kept)', async () => {
    const server = await startMemcached({ args: memcachedTlsArgs(certs) });
    const config = (tls: Record<string, unknown>) => (port: number) =>
      memshiftConfig({ listenPort: port, pools: { main: { servers: [server], ...tls, timeout: '1s' } }, backend: { probe_min: '100ms' } });
    const port = await freePort();
    const p = await startMemshift(config({})(port));
    // Plain TCP to a TLS server: down.
    await untilReply(p.port, 'get x', 'SERVER_ERROR backend unavailable\r\n');
    writeFileSync(p.configFile, config({ tls: { ca_file: certs.ca } })(port));
    p.kill('SIGHUP');
    await untilReply(p.port, 'set reloaded 0 0 2\r\nok', 'STORED\r\n');
  }, 60_000);

  it('rotates its client certificate while load runs: no client error, and the next connection shows the new one', async () => {
    // A TLS relay in front of memcached that requires a client certificate and records its serial.
    const upstream = await startMemcached();
    const seen: string[] = [];
    const conns = new Set<TLSSocket>();
    const relay = tlsCreateServer({ cert: readFileSync(certs.serverCert), key: readFileSync(certs.serverKey), ca: readFileSync(certs.ca), requestCert: true, rejectUnauthorized: true }, (s) => {
      seen.push(s.getPeerCertificate().serialNumber);
      conns.add(s);
      const up = netConnect(upstream.port, '127.0.0.1');
      s.pipe(up).pipe(s);
      const end = (): void => {
        conns.delete(s);
        s.destroy();
        up.destroy();
      };
      s.on('error', end).on('close', end);
      up.on('error', end).on('close', end);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const relayPort = (relay.address() as AddressInfo).port;
    const live = { cert: join(certs.dir, 'live-client.pem'), key: join(certs.dir, 'live-client-key.pem') };
    copyFileSync(certs.clientCert, live.cert);
    copyFileSync(certs.clientKey, live.key);
    try {
      const p = await startMemshift(
        memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: [`127.0.0.1:${relayPort}:1`], tls: { ca_file: certs.ca, cert_file: live.cert, key_file: live.key }, timeout: '1s' } } }),
      );
      await untilReply(p.port, 'set rot 0 0 1\r\n0', 'STORED\r\n');
      const c = await TextClient.connect(p.port);
      let errors = 0;
      let ops = 0;
      let stop = false;
      const load = (async () => {
        while (!stop) if ((await c.request(`set rot 0 0 ${String(ops).length}\r\n${ops++}`)) !== 'STORED\r\n') errors++;
      })();
      const next = signedCert(certs.dir, 'client-next', CLIENT_EXT, 60);
      copyFileSync(join(certs.dir, 'client-next-key.pem'), `${live.key}.new`);
      renameSync(`${live.key}.new`, live.key);
      copyFileSync(next, `${live.cert}.new`);
      renameSync(`${live.cert}.new`, live.cert);
      await hold(1_500, 'the load runs on the established connection across the rotation');
      stop = true;
      await load;
      c.close();
      expect({ ops: ops > 50, errors }).toEqual({ ops: true, errors: 0 });
      // (Two connections may show it: memshift checks once, on a throwaway one, that sessions resume.)
      expect(new Set(seen)).toEqual(new Set([serialOf(certs.clientCert)]));
      const before = seen.length;
      // The established connection ends (the relay drops it); the next one is made with the new
      // certificate, in a full handshake (a resumed session would still carry the old identity).
      for (const s of conns) s.destroy();
      await untilReply(p.port, 'get rot', /^VALUE rot 0 \d+\r\n\d+\r\nEND\r\n$/);
      expect(seen.length).toBeGreaterThan(before);
      expect(new Set(seen.slice(before))).toEqual(new Set([serialOf(next)]));
    } finally {
      relay.close();
      for (const s of conns) s.destroy();
    }
  }, 60_000);

  it('re-reads the files when they change, and keeps the last good ones when the new ones are bad', () => {
    const dir = certs.dir;
    const file = (n: string): string => join(dir, `rotate-${n}.pem`);
    copyFileSync(certs.clientCert, file('cert'));
    copyFileSync(certs.clientKey, file('key'));
    const cfg = { caFile: certs.ca, certFile: file('cert'), keyFile: file('key'), verify: true };
    const first = secureContext(cfg);
    expect(secureContext(cfg)).toBe(first); // unchanged files: the same context
    // A new certificate and key (the server's pair stands in for a renewed client pair).
    copyFileSync(certs.serverCert, file('cert'));
    copyFileSync(certs.serverKey, file('key'));
    const second = secureContext(cfg);
    expect(second).not.toBe(first);
    const errors: string[] = [];
    onTlsReloadError((err) => errors.push(err.message));
    writeFileSync(file('key'), 'not a key\n');
    expect(secureContext(cfg)).toBe(second);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('rotate-key.pem');
  });
});
