/**
 * Enumerates one memcached server with `lru_crawler metadump`, streaming `DumpEntry`s.
 *
 *   connect ─► "lru_crawler metadump all" ─► first line ─┬─ BUSY ─► close, back off, retry
 *                                                        ├─ NOTSTARTED ─► empty
 *                                                        ├─ ERROR/CLIENT_ERROR/BADCLASS… ─► COPY_DUMP_REFUSED
 *                                                        └─ key=… lines … END ─► entries
 *
 * - Each dump gets a connection of its own, opened for it and closed after it: memcached refuses a
 *   metadump pipelined behind other commands, and the crawler thread writes straight to the socket.
 *   Nothing is ever written on it during the dump (the crawler would read it as a hang-up).
 * - One crawler runs per server: a second dump gets `BUSY currently processing crawler request`
 *   (from another sync, or memcached's own LRU crawler). The scanner then takes its turn: it closes,
 *   waits with exponential backoff and jitter, and retries until `busyTimeoutMs`.
 * - Backpressure: lines are read only as fast as the consumer pulls entries. Past `highWaterBytes`
 *   (default 4 MiB, ~50,000 items) buffered the socket is paused, TCP fills, and the crawler thread
 *   waits in poll(). A dump is never held whole in memory. In mode `all` (LRU walk, the default)
 *   the crawler waits before taking any LRU or item lock, so client reads and writes never wait on
 *   it; but it still holds the crawler's own lock (memcached crawler.c), so other `lru_crawler`
 *   commands on that server (a second metadump, the LRU maintainer starting an autocrawl) wait
 *   until the consumer frees some buffer. The read-ahead keeps that short; a slowly paced copy of
 *   a large server holds the crawler for the whole copy.
 * - Mode `hash` (memcached 1.6.18 has it) walks the hash table instead. It cannot miss items the LRU
 *   maintainer moves between LRUs during the crawl, but memcached waits for the client while holding
 *   a hash bucket's item lock (and blocks hash-table growth for the whole dump): use it only with a
 *   consumer that keeps up, never with a paced copy.
 * - A metadump is no snapshot: items written during it may be listed or not, and an item moved
 *   between LRUs may be listed twice or missed. Copying twice is harmless (add); a missed key is a
 *   miss on the target, never a stale hit, and the verifier's own scan gets another look at it.
 *
 * The lines are read by the protocol's parseMetadumpLine (protocol/metadump.ts).
 */
import type net from 'node:net';
import { dial, readyEvent } from '../backend/index.js';
import { CopyError, throwIfAborted } from './copy-error.js';
import { sleep } from './sleep.js';
import { endpointId, type Endpoint } from './meta-client.js';
import { parseMetadumpLine, type DumpEntry } from '../protocol/index.js';

export type { DumpEntry } from '../protocol/index.js';
export { decodeDumpKey, parseMetadumpLine } from '../protocol/index.js';

export type DumpMode = 'hash' | 'all';

export interface ScanOptions {
  /** Default 'all' (see the header before choosing 'hash'). */
  mode?: DumpMode;
  /** Only entries whose key passes are yielded (counted as `matched`). */
  filter?: (key: Buffer) => boolean;
  signal?: AbortSignal;
  /** First wait after BUSY (default 100 ms), doubling up to `busyMaxMs` (default 2000). */
  busyInitialMs?: number;
  busyMaxMs?: number;
  /** Give up with COPY_BUSY after waiting this long for a turn (default 10 min). */
  busyTimeoutMs?: number;
  /** Default 3000. */
  connectTimeoutMs?: number;
  /** While the consumer waits, the dump must send a byte at least this often (default 30 s). */
  idleTimeoutMs?: number;
  /** Unconsumed bytes past which the socket is paused (default 4 MiB). */
  highWaterBytes?: number;
  /** Called before each wait for a turn. */
  onBusy?: (attempt: number, delayMs: number) => void;
}

export interface ScanStats {
  /** Item lines received (before the filter). */
  dumped: number;
  /** Entries that passed the filter and were yielded. */
  matched: number;
  /** Lines that were not well-formed item lines (skipped). */
  unparsed: number;
  /** BUSY answers waited out. */
  busyRetries: number;
  /** The highest CAS among the dumped items (0 before any). */
  maxCas: number;
  mode: DumpMode;
}

/** A streaming scan of one server; iterate it once. `stats` is live. */
export interface Scan extends AsyncIterable<DumpEntry> {
  readonly endpoint: Endpoint;
  readonly stats: ScanStats;
}

/** Streams the items of `endpoint` (see the header for BUSY, backpressure and modes). */
export function scanServer(endpoint: Endpoint, opts: ScanOptions = {}): Scan {
  const stats: ScanStats = { dumped: 0, matched: 0, unparsed: 0, busyRetries: 0, maxCas: 0, mode: opts.mode ?? 'all' };
  return { endpoint, stats, [Symbol.asyncIterator]: () => dump(endpoint, opts, stats) };
}

async function* dump(endpoint: Endpoint, opts: ScanOptions, stats: ScanStats): AsyncGenerator<DumpEntry, void, undefined> {
  const where = endpointId(endpoint);
  const idleMs = opts.idleTimeoutMs ?? 30_000;
  const busyMax = opts.busyMaxMs ?? 2_000;
  const busyUntil = Date.now() + (opts.busyTimeoutMs ?? 600_000);
  let delay = opts.busyInitialMs ?? 100;
  for (;;) {
    throwIfAborted(opts.signal);
    const reader = await LineReader.open(endpoint, opts.connectTimeoutMs ?? 3_000, opts.highWaterBytes ?? 4 * 1024 * 1024, opts.signal);
    try {
      reader.write(`lru_crawler metadump ${stats.mode}\r\n`);
      const first = await reader.next(idleMs);
      if (first === null) throw new CopyError('COPY_DUMP_TRUNCATED', `${where}: closed before the metadump began`);
      if (first.startsWith('BUSY')) {
        stats.busyRetries++;
        if (Date.now() + delay > busyUntil) throw new CopyError('COPY_BUSY', `${where}: crawler busy for longer than busyTimeoutMs`);
        const wait = Math.round(delay * (0.5 + Math.random()));
        opts.onBusy?.(stats.busyRetries, wait);
        reader.close();
        await sleep(wait, opts.signal);
        delay = Math.min(delay * 2, busyMax);
        continue;
      }
      if (first.startsWith('NOTSTARTED')) return;
      if (first !== 'END' && !first.startsWith('key=')) {
        throw new CopyError('COPY_DUMP_REFUSED', `${where}: lru_crawler metadump ${stats.mode} answered ${JSON.stringify(first)}`);
      }
      for (let line: string | null = first; line !== 'END'; line = await reader.next(idleMs)) {
        if (line === null) throw new CopyError('COPY_DUMP_TRUNCATED', `${where}: metadump ended without END after ${stats.dumped} items`);
        const entry = parseMetadumpLine(line);
        if (entry === null) {
          stats.unparsed++;
          continue;
        }
        stats.dumped++;
        if (entry.cas > stats.maxCas) stats.maxCas = entry.cas;
        if (opts.filter !== undefined && !opts.filter(entry.key)) continue;
        stats.matched++;
        yield entry;
      }
      return;
    } finally {
      reader.close();
    }
  }
}

/**
 * Lines from a socket, pulled one at a time. Reading pauses past `highWater` unconsumed bytes and
 * resumes below half of it. `next()` resolves null at EOF and rejects on a socket error, on abort
 * or when nothing arrives for `idleMs` while it waits.
 */
class LineReader {
  readonly #socket: net.Socket;
  readonly #highWater: number;
  readonly #signal: AbortSignal | undefined;
  /** Unconsumed chunks as they arrived; `#pos` is the read offset in the first one. */
  #chunks: Buffer[] = [];
  #pos = 0;
  #bytes = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  private constructor(socket: net.Socket, highWater: number, signal: AbortSignal | undefined) {
    this.#socket = socket;
    this.#highWater = highWater;
    this.#signal = signal;
    socket.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#bytes += chunk.length;
      if (this.#bytes > this.#highWater) socket.pause();
      this.#wake?.();
    });
    socket.on('end', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('close', () => {
      this.#ended = true;
      this.#wake?.();
    });
    socket.on('error', (err) => {
      this.#error = err;
      this.#wake?.();
    });
  }

  static open(endpoint: Endpoint, connectTimeoutMs: number, highWater: number, signal?: AbortSignal): Promise<LineReader> {
    return new Promise((resolve, reject) => {
      const socket = dial(endpoint);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(err);
      };
      const onAbort = (): void => fail(new CopyError('COPY_ABORTED'));
      const timer = setTimeout(() => fail(new CopyError('COPY_CONNECT', `${endpointId(endpoint)}: connect timed out`)), connectTimeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      socket.once('error', (err) => fail(new CopyError('COPY_CONNECT', `${endpointId(endpoint)}: ${err.message}`, { cause: err })));
      socket.once(readyEvent(socket), () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.removeAllListeners('error');
        resolve(new LineReader(socket, highWater, signal));
      });
    });
  }

  write(text: string): void {
    this.#socket.write(text);
  }

  close(): void {
    this.#socket.destroy();
  }

  #takeLine(): string | null {
    for (;;) {
      const head = this.#chunks[0];
      if (head === undefined) return null;
      const nl = head.indexOf(0x0a, this.#pos);
      if (nl < 0) {
        const next = this.#chunks[1];
        if (next === undefined) return null;
        // A line across two chunks (rare: lines are short): join just those two.
        this.#chunks.splice(0, 2, Buffer.concat([head.subarray(this.#pos), next]));
        this.#pos = 0;
        continue;
      }
      const end = nl > this.#pos && head[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = head.toString('latin1', this.#pos, end);
      this.#bytes -= nl + 1 - this.#pos;
      this.#pos = nl + 1;
      if (this.#pos >= head.length) {
        this.#chunks.shift();
        this.#pos = 0;
      }
      if (this.#socket.isPaused() && this.#bytes < this.#highWater / 2) this.#socket.resume();
      return line;
    }
  }

  async next(idleMs: number): Promise<string | null> {
    for (;;) {
      const line = this.#takeLine();
      if (line !== null) return line;
      throwIfAborted(this.#signal);
      if (this.#error !== null) throw new CopyError('COPY_DUMP_TRUNCATED', this.#error.message, { cause: this.#error });
      if (this.#ended) return null;
      if (this.#socket.isPaused()) this.#socket.resume();
      await new Promise<void>((resolve, reject) => {
        const done = (err?: Error): void => {
          clearTimeout(timer);
          this.#signal?.removeEventListener('abort', onAbort);
          this.#wake = null;
          if (err) reject(err);
          else resolve();
        };
        const onAbort = (): void => done(new CopyError('COPY_ABORTED'));
        const timer = setTimeout(() => done(new CopyError('COPY_TIMEOUT', `metadump sent nothing for ${idleMs} ms`)), idleMs);
        this.#signal?.addEventListener('abort', onAbort, { once: true });
        this.#wake = () => done();
      });
    }
  }
}
