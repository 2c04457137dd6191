/**
 * TLS on memshift's own listeners: a client `listen` entry with `tls` (and `client_ca_file` for
 * client certificates) and the admin API over HTTPS, with certificates made by openssl. Rotation
 * swaps the files in place while a client keeps its connection busy: that connection goes on, new
 * ones get the new certificate (told by its serial number); a bad file is refused and logged, and the
 * certificate before stays in use.
 */
import { execFile } from 'node:child_process';
import { copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort, memshiftConfig, pollUntil, startMemcached, startMemshift, stopAll, TextClient, type MemshiftHandle } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';
import { requireDep } from '../support/system-deps.js';
import { SERVER_EXT, makeCerts, signedCert, type TestCerts } from '../support/tls-certs.js';

afterAll(stopAll);

let certs: TestCerts;
/** The listener's certificate and key, as a Secret mounted in a directory: swapped in place. */
let live: { dir: string; cert: string; key: string };
let p: MemshiftHandle;
let tlsPort = 0;
let mutualPort = 0;
let adminPort = 0;
const TOKEN = 'tls-admin-token';

const serial = (file: string): string => new X509Certificate(readFileSync(file)).serialNumber;

/** Replaces `to` by `from` the way a Secret update does: a new file renamed over the old one. */
function swapIn(from: string, to: string): void {
  copyFileSync(from, `${to}.new`);
  renameSync(`${to}.new`, to);
}

function httpsGet(path: string, opts: https.RequestOptions = {}): Promise<{ status: number; body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port: adminPort, path, ca: readFileSync(certs.ca), headers: { Authorization: `Bearer ${TOKEN}` }, ...opts }, (res) => {
      const chunks: Buffer[] = [];
      const peer = (res.socket as TLSSocket).getPeerCertificate().serialNumber;
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), serial: peer }));
    });
    req.on('error', reject);
  });
}

beforeAll(async () => {
  requireDep('openssl');
  certs = makeCerts();
  const dir = makeTempDir('tls-live');
  live = { dir, cert: join(dir, 'tls.crt'), key: join(dir, 'tls.key') };
  copyFileSync(certs.serverCert, live.cert);
  copyFileSync(certs.serverKey, live.key);
  const backend = await startMemcached();
  [tlsPort, mutualPort, adminPort] = await Promise.all([freePort(), freePort(), freePort()]);
  const listenerTls = { cert_file: live.cert, key_file: live.key };
  p = await startMemshift(
    memshiftConfig({
      pools: { main: { servers: [backend] } },
      listen: ['127.0.0.1:0', { address: `127.0.0.1:${tlsPort}`, tls: listenerTls }, { address: `127.0.0.1:${mutualPort}`, tls: { ...listenerTls, client_ca_file: certs.ca } }],
      admin: { listen: `127.0.0.1:${adminPort}`, token: TOKEN, tls: { cert_file: certs.serverCert, key_file: certs.serverKey } },
    }),
  );
});

describe('a TLS client listener', () => {
  it('serves a TLS client, verified against the CA, and closes a plain one without a reply', async () => {
    const c = await TextClient.connectTls(tlsPort, { ca: readFileSync(certs.ca) });
    expect(await c.request('set tls:a 5 0 3\r\nabc')).toBe('STORED\r\n');
    expect(await c.request('get tls:a')).toBe('VALUE tls:a 5 3\r\nabc\r\nEND\r\n');
    expect(c.peerCertificate()?.serialNumber).toBe(serial(certs.serverCert));
    c.close();
    // A plain client: the handshake fails, the connection is closed, no memcached reply comes back.
    const plain = await TextClient.connect(tlsPort);
    await plain.write('version\r\n');
    await pollUntil('plain client closed', () => plain.isClosed(), (closed) => closed, 10_000, 100);
    expect(plain.buffered().toString('latin1')).not.toContain('VERSION');
    const stats = await TextClient.connect(p.port);
    const text = await stats.request('stats');
    stats.close();
    expect(Number(/STAT ssl_handshake_errors (\d+)/.exec(text)?.[1])).toBeGreaterThan(0);
  });

  it('with client_ca_file: a client certificate from the CA is required', async () => {
    await expect(TextClient.connectTls(mutualPort, { ca: readFileSync(certs.ca) }).then(async (c) => c.request('version', 2_000))).rejects.toThrow();
    const c = await TextClient.connectTls(mutualPort, { ca: readFileSync(certs.ca), cert: readFileSync(certs.clientCert), key: readFileSync(certs.clientKey) });
    expect(await c.request('version')).toMatch(/^VERSION /);
    c.close();
  });

  it('rotates its certificate in place: a busy connection goes on, new ones get the new certificate; a bad file is refused', async () => {
    const next = signedCert(certs.dir, 'server-next', SERVER_EXT, 60);
    const nextKey = join(certs.dir, 'server-next-key.pem');
    const busy = await TextClient.connectTls(tlsPort, { ca: readFileSync(certs.ca) });
    let errors = 0;
    let ops = 0;
    let stop = false;
    const load = (async () => {
      while (!stop) {
        const reply = await busy.request(`set tls:busy 0 0 ${String(ops).length}\r\n${ops}`);
        if (reply !== 'STORED\r\n') errors++;
        ops++;
      }
    })();
    // The key first, then the certificate: a rotation caught half done is retried, not kept.
    swapIn(nextKey, live.key);
    swapIn(next, live.cert);
    const fresh = await pollUntil(
      'a new connection with the new certificate',
      async () => {
        const c = await TextClient.connectTls(tlsPort, { ca: readFileSync(certs.ca) });
        const s = c.peerCertificate()?.serialNumber;
        expect(await c.request('get tls:busy')).toMatch(/^VALUE tls:busy 0 \d+\r\n\d+\r\nEND\r\n$/);
        c.close();
        return s;
      },
      (s) => s === serial(next),
      10_000,
      100,
    );
    expect(fresh).toBe(serial(next));
    // A certificate file that is not one: refused, logged, and the new certificate stays.
    const refusals = (): number => p.logs().split('listener TLS files changed but cannot be used').length - 1;
    const before = refusals();
    writeFileSync(`${live.cert}.new`, 'not a certificate\n');
    renameSync(`${live.cert}.new`, live.cert);
    await pollUntil('the refusal in the log (each of the two listeners on these files)', refusals, (n) => n >= before + 2, 10_000, 100);
    const after = await TextClient.connectTls(tlsPort, { ca: readFileSync(certs.ca) });
    expect(after.peerCertificate()?.serialNumber).toBe(serial(next));
    expect(await after.request('version')).toMatch(/^VERSION /);
    after.close();
    stop = true;
    await load;
    busy.close();
    expect(ops).toBeGreaterThan(10);
    expect(errors).toBe(0);
    swapIn(next, live.cert);
  }, 60_000);
});

describe('the admin API over HTTPS', () => {
  it('answers over TLS, and its metrics tell certificate expiry and TLS errors', async () => {
    const health = await httpsGet('/healthz');
    expect(health.status).toBe(200);
    expect(health.serial).toBe(serial(certs.serverCert));
    const metrics = await httpsGet('/metrics');
    expect(metrics.body).toMatch(new RegExp(`memshift_tls_cert_expiry_seconds\\{file="${live.cert.replace(/[/.]/g, '\\$&')}",use="listen 127\\.0\\.0\\.1:${tlsPort} certificate"\\} \\d+`));
    expect(metrics.body).toMatch(/memshift_errors_total\{kind="tls_handshake"\} [1-9]/);
    // Plain HTTP to the HTTPS port gets no answer of the API.
    const plain = await fetch(`http://127.0.0.1:${adminPort}/healthz`).then((r) => r.status, () => 'failed');
    expect(plain).not.toBe(200);
  });
});

describe('memshift check', () => {
  const check = (yaml: string): Promise<{ code: number; out: string }> => {
    const file = join(makeTempDir('tls-check'), 'memshift.yml');
    writeFileSync(file, yaml);
    return new Promise((resolve) => {
      execFile(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'check', '-c', file], (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number((err as { code?: number }).code), out: stdout + stderr });
      });
    });
  };

  it('warns about a certificate ending within 14 days and an open admin API; refuses an expired one at its line', async () => {
    const soon = signedCert(certs.dir, 'server-soon', SERVER_EXT, 5);
    const ok = await check(
      `listen:\n  - {address: "127.0.0.1:11212", tls: {cert_file: ${soon}, key_file: ${join(certs.dir, 'server-soon-key.pem')}}}\npools:\n  main:\n    servers: ["127.0.0.1:11211:1"]\nadmin: {listen: "0.0.0.0:9121"}\n`,
    );
    expect(ok.code, ok.out).toBe(0);
    expect(ok.out).toMatch(new RegExp(`warning: listen 127\\.0\\.0\\.1:11212 certificate ${soon.replace(/[/.]/g, '\\$&')} ends on \\S+, in 4 days`));
    expect(ok.out).toContain('warning: admin API listens on 0.0.0.0:9121, a non-loopback address, without TLS and without a token');
    const expired = signedCert(certs.dir, 'server-expired', SERVER_EXT, 1, 10);
    const bad = await check(`listen: ["127.0.0.1:11211"]\npools:\n  main:\n    servers: ["127.0.0.1:11211:1"]\n    tls: {ca_file: ${expired}}\n`);
    expect(bad.code).toBe(78);
    expect(bad.out).toMatch(new RegExp(`:5:20 pools\\.main\\.tls\\.ca_file: the certificate in ${expired.replace(/[/.]/g, '\\$&')} expired on `));
  });
});
