/**
 * Real memcached clients through memshift (issue 7): pymemcache, Perl Cache::Memcached, PHP's
 * memcached extension (libmemcached) and the npm `memcached` client each run the same script
 * (test/clients/) once straight against one memcached and once through memshift over a pool of 3
 * real memcached. The two outputs must be identical line for line, must show the results memcached
 * gives (a stale cas fails, a get after delete misses, ...), and the keys written through memshift
 * must be spread over more than one backend. Each run goes through a recording relay, so the bytes
 * memcached and memshift sent back are compared too (with the CAS uniques and key prefixes masked).
 * All of it twice: over a pool of plain memcached, and over a pool of memcached that require TLS
 * with a client certificate (`-Z`, ssl_verify_mode 3). pymemcache also goes through memshift's TLS
 * listener (its `tls_context`, with a client certificate) to the TLS pool.
 *
 * A missing client library fails its test naming the Debian package (the global setup installs
 * them as root, and stops naming them otherwise).
 */
import { execFile } from 'node:child_process';
import { connect as netConnect, createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, freePort, keysOnServer, memshiftConfig, startMemcached, startMemshift, stopAll, type MemshiftHandle, type ServerHandle } from '../support/harness.js';
import { requireDep } from '../support/system-deps.js';
import { clientTls, makeCerts, memcachedTlsArgs, type TestCerts } from '../support/tls-certs.js';

afterAll(stopAll);

interface ClientSpec {
  readonly name: string;
  /** Passed to requireDep: a substring of the system dependency it needs, if any. */
  readonly dep?: string;
  readonly command: string;
  readonly script: string;
  /** Steps whose expected result differs for this client (what its API can tell apart). */
  readonly overrides?: Readonly<Record<string, string>>;
  /** Steps only this client prints. */
  readonly extra?: Readonly<Record<string, string>>;
  /** Keys (without prefix) only this client leaves behind. */
  readonly extraKeys?: readonly string[];
}

const CLIENTS: readonly ClientSpec[] = [
  { name: 'python pymemcache', dep: 'pymemcache', command: '/usr/bin/python3', script: 'client.py', extra: { get_noreply: 'quiet' }, extraKeys: ['noreply'] },
  { name: 'perl Cache::Memcached', dep: 'Cache::Memcached', command: '/usr/bin/perl', script: 'client.pl' },
  { name: 'php memcached', dep: '/usr/bin/php', command: '/usr/bin/php', script: 'client.php' },
  // The npm client answers false for EXISTS and NOT_FOUND alike.
  { name: 'npm memcached', command: process.execPath, script: 'client.cjs', overrides: { cas_stale: 'false', cas_missing: 'false' } },
];

const SMALL = Array.from({ length: 10 }, (_, i) => `k${i}:small`);

/** What memcached answers to the scripts' sequence, step by step, in order. */
const EXPECTED: ReadonlyArray<readonly [string, string]> = [
  ['set_a', 'true'],
  ['set_b', 'true'],
  ['set_c', 'true'],
  ['set_space', 'true'],
  ['set_big', 'true'],
  ['set_k', 'true'],
  ['get_a', 'alpha'],
  ['get_space', 'match'],
  ['get_big', '102400:match'],
  ['get_missing', 'miss'],
  ['get_multi', ['a:alpha', 'b:beta', 'big:102400:match', 'c:gamma', ...SMALL.map((s) => `${s}:v${s.slice(1)}`), 'space:match'].join(',')],
  ['delete_a', 'true'],
  ['get_deleted', 'miss'],
  ['delete_again', 'false'],
  ['set_counter', 'true'],
  ['incr', '15'],
  ['decr', '12'],
  ['decr_below_zero', '0'],
  ['incr_missing', 'miss'],
  ['set_cas', 'true'],
  ['gets_cas', 'v1'],
  ['cas', 'true'],
  ['cas_stale', 'exists'],
  ['get_cas', 'v2'],
  ['cas_missing', 'not_found'],
  ['set_touch', 'true'],
  ['touch', 'true'],
  ['get_touched', 't'],
  ['touch_missing', 'false'],
  ['touch_expire', 'true'],
  ['get_expired', 'miss'],
  ['add_existing', 'false'],
  ['get_after_add', 'beta'],
  ['add_new', 'true'],
  ['replace_missing', 'false'],
  ['replace', 'true'],
  ['get_replaced', 'gamma2'],
  ['append', 'true'],
  ['prepend', 'true'],
  ['get_appended', 'pre-beta-post'],
];

/** The keys a script leaves behind (touch has expired, a was deleted). */
const LEFT_KEYS = ['b', 'c', 'space', 'big', ...SMALL, 'counter', 'cas', 'added'];

interface Run {
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

function runClient(client: ClientSpec, port: number, prefix: string, env: Record<string, string> = {}): Promise<Run> {
  const started = Date.now();
  const script = join(REPO_ROOT, 'test/clients', client.script);
  return new Promise((resolve, reject) => {
    execFile(client.command, [script, '127.0.0.1', String(port), prefix], { timeout: 60_000, maxBuffer: 1 << 20, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${client.name} (${client.command} ${client.script} 127.0.0.1 ${port} ${prefix}) failed: ${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      else resolve({ stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** One client connection as the relay saw it. */
interface Conversation {
  readonly toServer: Buffer[];
  readonly toClient: Buffer[];
}

/**
 * A TCP relay on a free loopback port that forwards to `port` and records both directions of
 * every connection, so a test can compare what memcached and memshift sent a client.
 */
async function recordingRelay(port: number): Promise<{ port: number; conversations: Conversation[]; close: () => Promise<void> }> {
  const conversations: Conversation[] = [];
  const sockets = new Set<Socket>();
  const server: NetServer = createServer((client) => {
    const conv: Conversation = { toServer: [], toClient: [] };
    conversations.push(conv);
    const upstream = netConnect({ host: '127.0.0.1', port });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (d: Buffer) => {
      conv.toServer.push(d);
      upstream.write(d);
    });
    upstream.on('data', (d: Buffer) => {
      conv.toClient.push(d);
      client.write(d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen({ host: '127.0.0.1', port: 0 }, resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('relay: no port');
  return {
    port: address.port,
    conversations,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Both directions of every conversation as latin1 text, the prefix and CAS uniques masked. */
function wire(conversations: readonly Conversation[], prefix: string): { toServer: string[]; toClient: string[] } {
  const mask = (chunks: Buffer[]): string =>
    Buffer.concat(chunks)
      .toString('latin1')
      .split(prefix)
      .join('<prefix>')
      .replace(/^(VALUE \S+ \d+ \d+) \d+\r\n/gm, '$1 <cas>\r\n')
      .replace(/^(cas \S+ \d+ \d+ \d+) \d+/gm, '$1 <cas>');
  return { toServer: conversations.map((c) => mask(c.toServer)), toClient: conversations.map((c) => mask(c.toClient)) };
}

/** The first difference of two byte streams, with some context, for a failure message. */
function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (i === a.length && i === b.length) return 'identical';
  const from = Math.max(0, i - 80);
  return `at byte ${i}: memcached ${JSON.stringify(a.slice(from, i + 80))} vs memshift ${JSON.stringify(b.slice(from, i + 80))}`;
}

function steps(stdout: string): Array<[string, string]> {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      const eq = line.indexOf('=');
      return eq < 0 ? [line, '<no = in line>'] : [line.slice(0, eq), line.slice(eq + 1)];
    });
}

let backends: ServerHandle[] = [];
let proxy: MemshiftHandle;
/** memcached -Z (client certificates required), a plain `notls:` listener of each for the checks, and memshift over them. */
let tlsBackends: ServerHandle[] = [];
let tlsInspect: ServerHandle[] = [];
let tlsProxy: MemshiftHandle;
let tlsListenPort = 0;
let certs: TestCerts;
const runId = Date.now().toString(36);

beforeAll(async () => {
  requireDep('openssl');
  certs = makeCerts();
  backends = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
  proxy = await startMemshift(memshiftConfig({ pools: { main: { servers: backends, timeout: 2000 } } }));
  const tls = await Promise.all(
    [0, 1, 2].map(async () => {
      const plain = await freePort();
      const b = await startMemcached({ args: [...memcachedTlsArgs(certs, 3), '-l', `notls:127.0.0.1:${plain}`] });
      return { b, inspect: { ...b, port: plain, address: `127.0.0.1:${plain}` } as ServerHandle };
    }),
  );
  tlsBackends = tls.map((t) => t.b);
  tlsInspect = tls.map((t) => t.inspect);
  tlsListenPort = await freePort();
  const pool = { servers: tlsBackends, timeout: 2000, tls: clientTls(certs) };
  const listenerTls = { cert_file: certs.serverCert, key_file: certs.serverKey, client_ca_file: certs.ca };
  tlsProxy = await startMemshift(memshiftConfig({ pools: { main: pool }, listen: ['127.0.0.1:0', { address: `127.0.0.1:${tlsListenPort}`, tls: listenerTls }] }));
});

const POOLS = [
  { name: 'plain pool', proxy: () => proxy, inspect: () => backends },
  { name: 'TLS pool', proxy: () => tlsProxy, inspect: () => tlsInspect },
];

describe.each(POOLS)('real clients: the same script straight against memcached and through memshift ($name)', ({ name, proxy, inspect }) => {
  for (const client of CLIENTS) {
    it(client.name, async () => {
      const backends = inspect();
      if (client.dep !== undefined) requireDep(client.dep);
      const tag = `${client.script.replace(/\W/g, '-')}-${name.replace(/\W/g, '-')}`;
      const directPrefix = `${tag}-direct-${runId}:`;
      const proxiedPrefix = `${tag}-proxied-${runId}:`;
      const directRelay = await recordingRelay(backends[0]!.port);
      const proxiedRelay = await recordingRelay(proxy().port);
      // Both at once: each sleeps 2.5 s for the touch expiry.
      const [straight, proxied] = await Promise.all([runClient(client, directRelay.port, directPrefix), runClient(client, proxiedRelay.port, proxiedPrefix)]).finally(() =>
        Promise.all([directRelay.close(), proxiedRelay.close()]),
      );

      // Identical output, byte for byte.
      expect(proxied.stdout, `${client.name} through memshift (stderr: ${proxied.stderr})`).toBe(straight.stdout);

      // And the results memcached gives.
      const want = [...EXPECTED.map(([step, result]): [string, string] => [step, client.overrides?.[step] ?? result]), ...Object.entries(client.extra ?? {})];
      expect(steps(straight.stdout), `${client.name} straight against memcached`).toEqual(want);

      // The same requests got the same reply bytes (CAS uniques and key prefixes masked).
      const a = wire(directRelay.conversations, directPrefix);
      const b = wire(proxiedRelay.conversations, proxiedPrefix);
      expect(b.toServer.length, `${client.name}: connections`).toBe(a.toServer.length);
      expect(b.toServer.join('\n--\n'), `${client.name}: requests`).toBe(a.toServer.join('\n--\n'));
      a.toClient.forEach((bytes, i) => expect(firstDifference(bytes, b.toClient[i] ?? ''), `${client.name}: replies on connection ${i}`).toBe('identical'));

      // memshift spread the keys over the pool: every key is on exactly one backend, and more than one backend holds some.
      const keys = [...LEFT_KEYS, ...(client.extraKeys ?? [])].map((k) => `${proxiedPrefix}${k}`);
      const held = await Promise.all(backends.map((b) => keysOnServer(b.port, keys)));
      const counts = held.map((s) => s.size);
      expect(counts.reduce((a, b) => a + b, 0), `keys per backend ${counts.join('/')}`).toBe(keys.length);
      expect(counts.filter((c) => c > 0).length, `keys per backend ${counts.join('/')}`).toBeGreaterThan(1);
      const bytes = (list: string[]): number => list.reduce((n, x) => n + x.length, 0);
      console.log(
        `${client.name} (${name}): direct ${straight.ms} ms, through memshift ${proxied.ms} ms; ${b.toServer.length} connection(s), ` +
          `${bytes(b.toServer)} bytes of requests, ${bytes(b.toClient)} bytes of replies, identical; keys per backend ${counts.join('/')}`,
      );
    });
  }
});

describe('a client through memshift\'s TLS listener', () => {
  it('python pymemcache with tls_context and a client certificate, to the TLS pool: the results memcached -Z gives it', async () => {
    requireDep('pymemcache');
    const py = CLIENTS.find((c) => c.script === 'client.py')!;
    const env = { MEMSHIFT_TLS_CA: certs.ca, MEMSHIFT_TLS_CERT: certs.clientCert, MEMSHIFT_TLS_KEY: certs.clientKey };
    const directPrefix = `py-tls-direct-${runId}:`;
    const proxiedPrefix = `py-tls-proxied-${runId}:`;
    // Straight to a memcached -Z that requires the client certificate, and through memshift's TLS listener.
    const [straight, proxied] = await Promise.all([runClient(py, tlsBackends[0]!.port, directPrefix, env), runClient(py, tlsListenPort, proxiedPrefix, env)]);
    expect(proxied.stdout, `through memshift's TLS listener (stderr: ${proxied.stderr})`).toBe(straight.stdout);
    expect(steps(straight.stdout)).toEqual([...EXPECTED, ...Object.entries(py.extra ?? {})]);
    const keys = [...LEFT_KEYS, ...(py.extraKeys ?? [])].map((k) => `${proxiedPrefix}${k}`);
    const held = await Promise.all(tlsInspect.map((b) => keysOnServer(b.port, keys)));
    expect(held.reduce((n, h) => n + h.size, 0)).toBe(keys.length);
    // Without its client certificate, the listener refuses it.
    const refused = await runClient(py, tlsListenPort, `py-tls-nocert-${runId}:`, { MEMSHIFT_TLS_CA: certs.ca }).then(
      () => 'ran',
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/SSL|alert|certificate|reset|closed/i);
  });
});
