/**
 * scanServer against a fake memcached that answers `lru_crawler metadump all` with scripted bytes,
 * one script per connection: BUSY turns, refusals, truncation, filtering, abort and backpressure.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { hold, waitUntil } from '../../support/process.js';
import { scanServer, type DumpEntry, type Scan } from '../../../src/copy/index.js';

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

type Script = (sock: net.Socket) => unknown;

/** A server that runs the n-th script on the n-th connection once the metadump command arrives. */
async function fake(scripts: Script[]): Promise<{ port: number; commands: string[]; sockets: net.Socket[] }> {
  const commands: string[] = [];
  const sockets: net.Socket[] = [];
  let n = 0;
  const server = net.createServer((sock) => {
    sockets.push(sock);
    const script = scripts[Math.min(n++, scripts.length - 1)]!;
    let buf = '';
    sock.on('error', () => {});
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (!buf.includes('\n')) return;
      commands.push(buf);
      buf = '';
      void script(sock);
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, commands, sockets };
}

const line = (key: string, cas: number): string => `key=${key} exp=-1 la=1 cas=${cas} fetch=no cls=1 size=60\n`;
const dump =
  (...lines: string[]): Script =>
  (sock) => {
    sock.end(lines.join('') + 'END\r\n');
  };

async function collect(scan: Scan): Promise<DumpEntry[]> {
  const out: DumpEntry[] = [];
  for await (const e of scan) out.push(e);
  return out;
}

describe('scanServer', () => {
  it('takes its turn on BUSY: closes, backs off, retries on a new connection', async () => {
    const busy: Script = (sock) => sock.write('BUSY currently processing crawler request\r\n');
    const srv = await fake([busy, busy, dump(line('a', 1), line('b%2520c', 7))]);
    const waits: number[] = [];
    const scan = scanServer({ host: '127.0.0.1', port: srv.port }, { busyInitialMs: 10, onBusy: (_, ms) => waits.push(ms) });
    const entries = await collect(scan);
    expect(entries.map((e) => e.key.toString())).toEqual(['a', 'b%20c']);
    expect(srv.commands).toEqual(Array(3).fill('lru_crawler metadump all\r\n'));
    expect(scan.stats).toMatchObject({ dumped: 2, matched: 2, busyRetries: 2, maxCas: 7, unparsed: 0, mode: 'all' });
    expect(waits).toHaveLength(2);
  });

  it('gives up with COPY_BUSY after busyTimeoutMs', async () => {
    const srv = await fake([(sock) => sock.write('BUSY currently processing crawler request\r\n')]);
    const scan = scanServer({ host: '127.0.0.1', port: srv.port }, { busyInitialMs: 20, busyTimeoutMs: 100 });
    await expect(collect(scan)).rejects.toMatchObject({ code: 'COPY_BUSY' });
  });

  it('filters, counts unparsed lines and reads bare-LF item lines then END', async () => {
    const srv = await fake([dump(line('keep:1', 3), 'key=bad%zz exp=-1 cas=1\n', line('drop:1', 9), line('keep:2', 4))]);
    const scan = scanServer({ host: '127.0.0.1', port: srv.port }, { filter: (k) => k.toString().startsWith('keep:') });
    expect((await collect(scan)).map((e) => e.key.toString())).toEqual(['keep:1', 'keep:2']);
    expect(scan.stats).toMatchObject({ dumped: 3, matched: 2, unparsed: 1, maxCas: 9 });
  });

  it('reads lines split anywhere (one byte per write)', async () => {
    const bytes = Buffer.from(line('k%01%FFx', 5) + line('a%2520b', 6) + 'END\r\n', 'latin1');
    const srv = await fake([
      async (sock) => {
        for (const b of bytes) {
          sock.write(Buffer.from([b]));
          await new Promise((r) => setImmediate(r));
        }
        sock.end();
      },
    ]);
    const entries = await collect(scanServer({ host: '127.0.0.1', port: srv.port }));
    expect(entries.map((e) => e.key)).toEqual([Buffer.from([0x6b, 0x01, 0xff, 0x78]), Buffer.from('a%20b')]);
  });

  it('an empty server (END at once, or NOTSTARTED) yields nothing', async () => {
    for (const script of [dump(), ((sock) => sock.write('NOTSTARTED no items to crawl\r\n')) as Script]) {
      const srv = await fake([script]);
      expect(await collect(scanServer({ host: '127.0.0.1', port: srv.port }))).toEqual([]);
    }
  });

  it('a refusal is COPY_DUMP_REFUSED; a dump without END is COPY_DUMP_TRUNCATED', async () => {
    for (const reply of ['CLIENT_ERROR lru crawler disabled', 'ERROR metadump not allowed', 'ERROR cannot pipeline other commands before metadump', 'BADCLASS invalid class id']) {
      const srv = await fake([(sock) => sock.write(`${reply}\r\n`)]);
      await expect(collect(scanServer({ host: '127.0.0.1', port: srv.port }))).rejects.toMatchObject({ code: 'COPY_DUMP_REFUSED' });
    }
    const srv = await fake([(sock) => sock.end(line('a', 1) + line('b', 2))]);
    await expect(collect(scanServer({ host: '127.0.0.1', port: srv.port }))).rejects.toMatchObject({ code: 'COPY_DUMP_TRUNCATED' });
  });

  it('times out a dump that goes silent while the consumer waits', async () => {
    const srv = await fake([(sock) => sock.write(line('a', 1))]);
    const scan = scanServer({ host: '127.0.0.1', port: srv.port }, { idleTimeoutMs: 150 });
    await expect(collect(scan)).rejects.toMatchObject({ code: 'COPY_TIMEOUT' });
  });

  it('an abort ends the scan and closes the dump connection', async () => {
    const srv = await fake([(sock) => sock.write(line('a', 1))]);
    const ac = new AbortController();
    const scan = scanServer({ host: '127.0.0.1', port: srv.port }, { signal: ac.signal });
    const it = scan[Symbol.asyncIterator]();
    expect((await it.next()).value?.key.toString()).toBe('a');
    setTimeout(() => ac.abort(), 20);
    await expect(it.next()).rejects.toMatchObject({ code: 'COPY_ABORTED' });
    await waitUntil('the dump connection to close', () => srv.sockets[0]?.destroyed === true || srv.sockets[0]?.readableEnded === true, 5_000, 5);
    expect(srv.sockets[0]?.destroyed || srv.sockets[0]?.readableEnded).toBe(true);
  });

  it('reads only as fast as the consumer pulls (the server cannot finish writing)', async () => {
    const big = Array.from({ length: 200_000 }, (_, i) => line(`key:${i}`, i + 1)).join(''); // ~13 MB
    let server: net.Socket | undefined;
    const srv = await fake([
      (sock) => {
        server = sock;
        sock.write(big + 'END\r\n');
      },
    ]);
    const scan = scanServer({ host: '127.0.0.1', port: srv.port }, { highWaterBytes: 64 * 1024 });
    const it = scan[Symbol.asyncIterator]();
    for (let i = 0; i < 10; i++) await it.next();
    await hold(300, 'time for the scan to read ahead, which it must not');
    expect(server?.writableLength ?? 0).toBeGreaterThan(1_000_000); // still queued on the server side
    let n = 10;
    while (!(await it.next()).done) n++;
    expect(n).toBe(200_000);
  });
});
