import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { endpointId, flagNumber, flagValue, isCopyError, keyToken, MetaClient } from '../../../src/copy/index.js';

describe('keyToken', () => {
  it('sends printable ASCII as is', () => {
    expect(keyToken(Buffer.from('user:42'))).toEqual({ token: Buffer.from('user:42'), base64: false });
  });

  it('base64-encodes anything else that fits in 250 bytes encoded', () => {
    const key = Buffer.from([0x6b, 0x01, 0xff, 0xfe]);
    expect(keyToken(key)).toEqual({ token: Buffer.from(key.toString('base64')), base64: true });
    expect(keyToken(Buffer.from('a b')).base64).toBe(true);
    expect(keyToken(Buffer.alloc(186, 1)).token.length).toBe(248);
  });

  it('sends a longer key raw when no byte in it ends a token, else refuses it', () => {
    expect(keyToken(Buffer.alloc(200, 1))).toEqual({ token: Buffer.alloc(200, 1), base64: false });
    expect(keyToken(Buffer.alloc(250, 0xe9)).base64).toBe(false);
    for (const bad of [0x20, 0x0a, 0x0d, 0x00]) {
      const key = Buffer.alloc(200, 1);
      key[100] = bad;
      expect(() => keyToken(key)).toThrow(expect.objectContaining({ code: 'COPY_KEY' }));
    }
  });

  it('refuses empty and over-long keys', () => {
    expect(() => keyToken(Buffer.alloc(0))).toThrow(expect.objectContaining({ code: 'COPY_KEY' }));
    expect(() => keyToken(Buffer.alloc(251, 0x61))).toThrow(expect.objectContaining({ code: 'COPY_KEY' }));
  });
});

describe('endpointId and flags', () => {
  it('names endpoints', () => {
    expect(endpointId({ host: '127.0.0.1', port: 11211 })).toBe('127.0.0.1:11211');
    expect(endpointId({ host: '::1', port: 1 })).toBe('[::1]:1');
    expect(endpointId({ path: '/tmp/mc.sock' })).toBe('unix:/tmp/mc.sock');
  });

  it('reads returned flags', () => {
    const r = { status: 'VA', flags: ['f5', 't-1', 'c12'], value: Buffer.from('x') };
    expect(flagValue(r, 'c')).toBe('12');
    expect(flagNumber(r, 't')).toBe(-1);
    expect(flagNumber(r, 's')).toBeNaN();
  });
});

/** A fake server that answers `version`, and each other request line with the next canned reply, one byte per write. */
const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

async function fakeServer(replies: Buffer[], seen: Buffer[] = []): Promise<number> {
  const server = net.createServer((sock) => {
    let buf = Buffer.alloc(0);
    sock.on('data', async (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      seen.push(chunk);
      let nl: number;
      while ((nl = buf.indexOf(0x0a)) >= 0) {
        const line = buf.subarray(0, nl).toString('latin1');
        buf = buf.subarray(nl + 1);
        // Every connection opens with `version` (backend/connection.ts), which a memcached answers.
        if (line === 'version\r' || line === 'version') {
          sock.write('VERSION 1.6.0-fake\r\n');
          continue;
        }
        if (line.startsWith('ms ')) {
          const len = Number(line.split(' ')[2]);
          buf = buf.subarray(len + 2);
        }
        const reply = replies.shift();
        if (reply === undefined) continue;
        for (const b of reply) sock.write(Buffer.from([b]));
      }
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

describe('MetaClient framing', () => {
  it('frames VA values, single lines and stats, pipelined and split into single bytes', async () => {
    const value = Buffer.from('a\r\nEN\r\nb'); // a value that looks like replies
    const port = await fakeServer([
      Buffer.concat([Buffer.from(`VA ${value.length} f5 t-1 c12\r\n`), value, Buffer.from('\r\n')]),
      Buffer.from('EN\r\n'),
      Buffer.from('HD c13\r\n'),
      Buffer.from('STAT pid 1\r\nSTAT evictions 7\r\nEND\r\n'),
      Buffer.from('NS c0\r\n'),
    ]);
    const c = new MetaClient({ host: '127.0.0.1', port });
    const [a, b, d, s, e] = await Promise.all([
      c.mg(Buffer.from('k1'), 'v f t c'),
      c.mg(Buffer.from('k2'), 'v'),
      c.ms(Buffer.from('k3'), Buffer.from('xyz'), 'T0 F0 ME c'),
      c.stats(),
      c.ms(Buffer.from('k4'), Buffer.alloc(0), 'ME'),
    ]);
    expect(a).toEqual({ status: 'VA', flags: ['f5', 't-1', 'c12'], value });
    expect(b).toEqual({ status: 'EN', flags: [], value: null });
    expect(d.status).toBe('HD');
    expect(flagNumber(d, 'c')).toBe(13);
    expect(s.get('evictions')).toBe('7');
    expect(e.status).toBe('NS');
    c.close();
  });

  it('writes base64 keys with the b flag', async () => {
    const seen: Buffer[] = [];
    const port = await fakeServer([Buffer.from('HD\r\n'), Buffer.from('HD\r\n')], seen);
    const c = new MetaClient({ host: '127.0.0.1', port });
    await c.md(Buffer.from([1, 2, 3]), '');
    await c.md(Buffer.from([1, 2, 3]), 'C5');
    expect(Buffer.concat(seen).toString('latin1')).toBe('version\r\nmd AQID b\r\nmd AQID C5 b\r\n');
    c.close();
  });

  it('an ERROR or CLIENT_ERROR resets the connection and fails everything in flight; SERVER_ERROR fails one', async () => {
    const port = await fakeServer([Buffer.from('SERVER_ERROR out of memory\r\n'), Buffer.from('HD\r\n'), Buffer.from('CLIENT_ERROR bad command line format\r\n')]);
    const c = new MetaClient({ host: '127.0.0.1', port });
    const results = await Promise.allSettled([c.mg(Buffer.from('a'), ''), c.mg(Buffer.from('b'), ''), c.mg(Buffer.from('c'), ''), c.mg(Buffer.from('d'), '')]);
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value.status : isCopyError(r.reason) ? r.reason.code : 'other'))).toEqual([
      'COPY_SERVER_ERROR',
      'HD',
      'COPY_OUT_OF_STEP',
      'COPY_OUT_OF_STEP',
    ]);
    c.close();
  });

  it('times out a server that does not answer', async () => {
    const port = await fakeServer([]);
    const c = new MetaClient({ host: '127.0.0.1', port }, { timeoutMs: 200 });
    await expect(c.mg(Buffer.from('a'), '')).rejects.toMatchObject({ code: 'COPY_TIMEOUT' });
    c.close();
  });

  it('fails fast when nothing listens, and refuses after close', async () => {
    const port = await fakeServer([]);
    await new Promise((r) => servers.pop()?.close(r));
    const c = new MetaClient({ host: '127.0.0.1', port });
    await expect(c.mg(Buffer.from('a'), '')).rejects.toMatchObject({ code: 'COPY_CONNECT' });
    c.close();
    await expect(c.mg(Buffer.from('a'), '')).rejects.toMatchObject({ code: 'COPY_CLOSED' });
  });
});
