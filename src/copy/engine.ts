/**
 * The plumbing one copy run shares between its copy and verify phases: one `MetaClient` per server
 * (the engine's own connections), the target lookup, scans with the run's BUSY/timeout settings,
 * pacing, a bounded worker pool, the progress counters and a sample of errors.
 *
 *   scan(source) ─► paced() (keys/s) ─► pump(): up to `concurrency` keys in flight, pipelined per server
 *
 * Nothing here decides what to do with a key; `sync.ts` (copy) and `verifier.ts` (compare, repair)
 * do. A worker never throws into the pool: failures are counted and sampled by `recordError`.
 */
import { CopyError, isCopyError } from './copy-error.js';
import { endpointId, MetaClient, type Endpoint, type MetaClientOptions } from './meta-client.js';
import { Progress } from './progress.js';
import { RateLimiter } from './rate-limiter.js';
import { scanServer, type DumpEntry, type DumpMode, type Scan, type ScanOptions } from './scanner.js';

export type KeyFilter = (key: Buffer) => boolean;
export type TargetSpec = Endpoint | ((key: Buffer) => Endpoint);

export interface EngineOptions {
  sources: readonly Endpoint[];
  target: TargetSpec;
  filter?: KeyFilter;
  rateKeysPerSec: number;
  rateBytesPerSec?: number;
  /** Keys in flight at once (default 32). */
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * Asked before every write (a copy's add, a verify's delete or repair): false stops the run with
   * COPY_ABORTED before it writes (a migration's leader whose lease may have lapsed: a stall longer
   * than its TTL must not let a step it had begun land after another leader moved on).
   */
  fence?: () => boolean;
  progress?: Progress;
  client?: MetaClientOptions;
  scan?: Pick<ScanOptions, 'busyInitialMs' | 'busyMaxMs' | 'busyTimeoutMs' | 'connectTimeoutMs' | 'idleTimeoutMs' | 'highWaterBytes'> & { mode?: DumpMode };
}

/** How many error messages a report keeps. */
const ERROR_SAMPLE = 20;

/** A key as text for reports: the string when it is printable ASCII, else `b64:<base64>`. */
export function showKey(key: Buffer): string {
  for (const b of key) if (b <= 0x20 || b >= 0x7f) return `b64:${key.toString('base64')}`;
  return key.toString('latin1');
}

export class Engine {
  readonly sources: readonly Endpoint[];
  readonly filter: KeyFilter | undefined;
  readonly progress: Progress;
  readonly limiter: RateLimiter;
  readonly concurrency: number;
  readonly signal: AbortSignal | undefined;
  readonly errorSample: string[] = [];
  /** BUSY answers waited out, over every scan of the run. */
  busyRetries = 0;
  readonly #target: TargetSpec;
  readonly #opts: EngineOptions;
  readonly #clients = new Map<string, MetaClient>();
  /** Called the first time a target endpoint is used (the eviction watch registers it). */
  onNewTarget: ((e: Endpoint, client: MetaClient) => void) | null = null;
  readonly #targetsSeen = new Set<string>();

  constructor(opts: EngineOptions) {
    this.#opts = opts;
    this.sources = opts.sources;
    this.filter = opts.filter;
    this.#target = opts.target;
    this.progress = opts.progress ?? new Progress();
    this.limiter = new RateLimiter({ keysPerSec: opts.rateKeysPerSec, bytesPerSec: opts.rateBytesPerSec });
    this.concurrency = Math.max(1, opts.concurrency ?? 32);
    this.signal = opts.signal;
  }

  /** The signal aborted the run, or the fence stopped it (a fenced run is an aborted one). */
  get aborted(): boolean {
    return this.signal?.aborted === true || this.fenced;
  }

  /** The engine's connection to `e` (one per server, made on first use). */
  client(e: Endpoint): MetaClient {
    const id = endpointId(e);
    let c = this.#clients.get(id);
    if (c === undefined) {
      c = new MetaClient(e, this.#opts.client);
      this.#clients.set(id, c);
    }
    return c;
  }

  /** Where `key` goes. */
  targetFor(key: Buffer): Endpoint {
    const e = typeof this.#target === 'function' ? this.#target(key) : this.#target;
    this.noteTarget(e);
    return e;
  }

  /** Makes `e` known as a target (calls `onNewTarget` the first time). */
  noteTarget(e: Endpoint): void {
    const id = endpointId(e);
    if (!this.#targetsSeen.has(id)) {
      this.#targetsSeen.add(id);
      this.onNewTarget?.(e, this.client(e));
    }
  }

  /** The target endpoint when it is one fixed server, else null. */
  get fixedTarget(): Endpoint | null {
    return typeof this.#target === 'function' ? null : this.#target;
  }

  /** A scan of `e` with the run's settings; `extra` narrows the run's filter further. */
  scan(e: Endpoint, extra?: KeyFilter, useRunFilter = true): Scan {
    const base = useRunFilter ? this.filter : undefined;
    const filter = base === undefined ? extra : extra === undefined ? base : (k: Buffer) => base(k) && extra(k);
    return scanServer(e, {
      ...this.#opts.scan,
      filter,
      signal: this.signal,
      onBusy: () => {
        this.busyRetries++;
      },
    });
  }

  /** Entries of `scan`, each paid for with one key token (keys/s) before it is handed on. */
  async *paced(entries: AsyncIterable<DumpEntry>): AsyncGenerator<DumpEntry, void, undefined> {
    for await (const entry of entries) {
      if (this.aborted) return;
      await this.limiter.acquireKey(this.signal);
      yield entry;
    }
  }

  /** Awaited before each write with its value size (bytes/s); rejects with COPY_ABORTED once the fence says no. */
  readonly beforeWrite = async (bytes: number): Promise<void> => {
    await this.limiter.acquireBytes(bytes, this.signal);
    this.checkFence();
  };

  /** Throws COPY_ABORTED when the run may no longer write (EngineOptions.fence). */
  checkFence(): void {
    if (this.#opts.fence?.() === false) {
      this.fenced = true;
      throw new CopyError('COPY_ABORTED', 'fenced: this process may no longer write (its lease may have lapsed)');
    }
  }

  /** A write was refused by the fence. */
  fenced = false;

  /** Runs `work` for every item, at most `concurrency` at once; stops taking items on abort. */
  async pump<T>(items: AsyncIterable<T> | Iterable<T>, work: (item: T) => Promise<void>): Promise<void> {
    const running = new Set<Promise<void>>();
    try {
      for await (const item of items) {
        if (this.aborted) break;
        const p: Promise<void> = work(item)
          .catch((err: unknown) => this.recordError(err))
          .finally(() => running.delete(p));
        running.add(p);
        if (running.size >= this.concurrency) await Promise.race(running);
      }
    } finally {
      await Promise.all(running);
    }
  }

  /** Counts an error and keeps the first few messages. Aborts are not errors. */
  recordError(err: unknown, key?: Buffer): void {
    if (isCopyError(err, 'COPY_ABORTED')) return;
    this.progress.add('errors');
    if (this.errorSample.length < ERROR_SAMPLE) {
      const msg = err instanceof Error ? err.message : String(err);
      this.errorSample.push(key === undefined ? msg : `${showKey(key)}: ${msg}`);
    }
  }

  close(): void {
    for (const c of this.#clients.values()) c.close();
    this.#clients.clear();
  }
}
