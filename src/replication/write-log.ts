/**
 * The failed-write log: for each backend, the keys whose write (`set`) or `delete` failed there,
 * so that once the backend is healthy again they can be replayed (each key by re-copying the
 * CURRENT value from a healthy group, or deleting it where none has it — so no values are stored here).
 *
 * Files: one per backend, `<dir>/<sanitized id>-<sha256 prefix>.wlog` (see write-log/format.ts):
 * a header (magic, backend id, a needsResync flag and the replay cursor, each part with a crc)
 * followed by records `crc32 | key length u16 | op u8 | key`.
 *
 * Guarantees:
 * - `append` is synchronous and only encodes into memory. The buffer is written and fdatasync'd by
 *   one batch per backend every `fsyncIntervalMs`, or at once when it passes `flushBytes`; never one
 *   write per entry, and at most one write in flight per backend. What a crash can lose is what was
 *   not synced yet: at most the last `fsyncIntervalMs` (plus one write) of appends.
 * - A record cut by a crash (torn tail) fails its length or crc check; it and everything after it
 *   are ignored and cut off before the file is written again.
 * - Last op wins per key: an append equal to the key's last op logged since start-up and not yet
 *   read by a drain is not written again (up to `dedupeKeys` keys per backend are remembered), and
 *   drain yields each key once per chunk it reads (1 MiB), with its last op, in the order of the
 *   key's last record. A set then a delete replays as a delete; a delete then a set as a set.
 *   A failure appended after a drain read the key's record is logged again, never deduped away.
 * - Bounded: a backend's records (replayed ones too, until the file is removed) never exceed
 *   `maxBytes`. An append that would, a key longer than 65535 bytes, or any I/O error (ENOSPC,
 *   EIO, ...) marks the backend needsResync instead — persisted in the file header when the disk
 *   still takes that in-place write, counted, logged once, never thrown — and from then on its
 *   appends are dropped (counted) and drain yields nothing, until `clearResync`.
 * - One WriteLog per dir: two instances over the same dir would write the same files.
 * - Start-up reads existing logs synchronously (about 0.5 s for a full 64 MiB log).
 * - Replay is at-least-once: drain commits a batch (the cursor in the header, synced) only when the
 *   consumer asks for the next one, so a crash or a `break` mid-batch replays that batch again.
 *   Entries appended meanwhile are logged after the cursor and drained too. When all is drained the
 *   file is removed. Progress survives a restart: a new WriteLog over the same dir resumes there.
 *
 * clearResync drops the log and resumes logging. Failures while a backend needsResync are not
 * logged, so call it when the full resync begins (and `markResync` again if that resync fails),
 * or accept that writes failing during the resync are not covered.
 */
import { join } from 'node:path';
import { CHUNK_BYTES, RecordBuffer } from './write-log/buffer.js';
import { LogFile, type LogRecord } from './write-log/file.js';
import { LOG_SUFFIX, logFileName, MAX_KEY_BYTES, parseHeader, parseRecords, RECORD_OVERHEAD, type WriteLogOp } from './write-log/format.js';
import { nodeWriteLogFs, type WriteLogFs } from './write-log/fs.js';
import type { WriteLogBackendStats, WriteLogEntry, WriteLogLogger, WriteLogOptions } from './write-log/types.js';

export type { WriteLogOp } from './write-log/format.js';
export { nodeWriteLogFs, type WriteLogFs } from './write-log/fs.js';
export type { WriteLogBackendStats, WriteLogEntry, WriteLogLogger, WriteLogOptions } from './write-log/types.js';

interface Backend {
  readonly id: string;
  readonly file: LogFile;
  needsResync: boolean;
  /** Appends not yet handed to the file. */
  readonly buf: RecordBuffer;
  /** Key (latin1) -> last op of its newest record that no drain has read yet: append-time dedupe. */
  readonly lastOp: Map<string, WriteLogOp>;
  timer: NodeJS.Timeout | null;
  flushQueued: boolean;
  /** File operations run one at a time, in order. */
  queue: Promise<void>;
  draining: boolean;
  /** clearResync calls whose file removal has not run yet; flushes wait for it. */
  resetting: number;
  /** Bumped by clearResync, so a drain started before it stops. */
  gen: number;
  logged: boolean;
  readonly stats: WriteLogBackendStats;
}

export class WriteLog {
  private readonly dir: string;
  private readonly maxBytes: number;
  private readonly interval: number;
  private readonly flushBytes: number;
  private readonly dedupeKeys: number;
  private readonly readBytes: number;
  private readonly fs: WriteLogFs;
  private readonly logger: WriteLogLogger | undefined;
  private readonly map = new Map<string, Backend>();
  private closing: Promise<void> | null = null;

  constructor(options: WriteLogOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.interval = options.fsyncIntervalMs ?? 50;
    this.flushBytes = options.flushBytes ?? 256 * 1024;
    this.dedupeKeys = options.dedupeKeys ?? 65536;
    this.readBytes = Math.max(options.readChunkBytes ?? 1024 * 1024, CHUNK_BYTES + RECORD_OVERHEAD);
    this.fs = options.fs ?? nodeWriteLogFs;
    this.logger = options.logger;
    let names: string[] = [];
    try {
      this.fs.mkdirSync(this.dir);
      names = this.fs.readdirSync(this.dir);
    } catch (err) {
      // Appends will fail to open their files and mark their backends; nothing to load.
      this.logger?.error({ dir: this.dir, err: describe(err) }, 'write log directory unusable');
    }
    for (const name of names.filter((n) => n.endsWith(LOG_SUFFIX)).sort()) this.load(name);
  }

  append(backendId: string, op: WriteLogOp, key: Buffer): void {
    const st = this.map.get(backendId) ?? this.create(backendId);
    const s = st.stats;
    s.appended++;
    if (st.needsResync || this.closing !== null) {
      s.dropped++;
      return;
    }
    if (key.length > MAX_KEY_BYTES) {
      s.dropped++;
      return this.flag(st, 'key longer than 65535 bytes');
    }
    const k = key.toString('latin1');
    const last = st.lastOp.get(k);
    if (last === op) {
      s.deduped++;
      return;
    }
    if (s.bytes + RECORD_OVERHEAD + key.length > this.maxBytes) {
      s.dropped++;
      s.overflows++;
      return this.flag(st, `log full (maxBytes ${this.maxBytes})`);
    }
    s.bytes += st.buf.push(op, key);
    s.entries++;
    if (last !== undefined || st.lastOp.size < this.dedupeKeys) st.lastOp.set(k, op);
    if (st.buf.bytes >= this.flushBytes) this.requestFlush(st);
    else if (st.timer === null && !st.flushQueued) {
      st.timer = setTimeout(() => {
        st.timer = null;
        this.requestFlush(st);
      }, this.interval);
      st.timer.unref();
    }
  }

  pending(backendId: string): number {
    return this.map.get(backendId)?.stats.entries ?? 0;
  }

  bytes(backendId: string): number {
    return this.map.get(backendId)?.stats.bytes ?? 0;
  }

  needsResync(backendId: string): boolean {
    return this.map.get(backendId)?.needsResync ?? false;
  }

  /** Every backend appended to or found on disk, sorted. */
  backends(): string[] {
    return [...this.map.keys()].sort();
  }

  stats(): Record<string, WriteLogBackendStats> {
    const out: Record<string, WriteLogBackendStats> = {};
    for (const [id, st] of this.map) out[id] = { ...st.stats, needsResync: st.needsResync ? 1 : 0, syncs: st.file.syncs };
    return out;
  }

  /** Flags a backend as needing a full resync (persisted), e.g. when a resync failed. */
  markResync(backendId: string, reason = 'requested'): void {
    this.flag(this.map.get(backendId) ?? this.create(backendId), reason);
  }

  /** Drops the backend's log and its needsResync flag, and resumes logging. */
  clearResync(backendId: string): Promise<void> {
    const st = this.map.get(backendId);
    if (st === undefined) return Promise.resolve();
    st.gen++;
    st.needsResync = false;
    st.logged = false;
    st.lastOp.clear();
    this.discardBuffer(st);
    st.resetting++;
    return this.run(st, async () => {
      try {
        await this.removeFile(st);
        st.stats.entries = st.buf.entries; // whatever was appended since the call
      } finally {
        st.resetting--;
        if (st.buf.bytes > 0) this.requestFlush(st);
      }
    });
  }

  /**
   * Yields the backend's entries in batches of up to `batchSize`, last op per key, in log order.
   * A batch counts as replayed once the consumer asks for the next one; when everything is, the
   * file is removed. Yields nothing while the backend needsResync. One drain per backend at a time.
   */
  async *drain(backendId: string, batchSize = 1000): AsyncGenerator<WriteLogEntry[], void, undefined> {
    const st = this.map.get(backendId);
    if (st === undefined || st.needsResync || this.closing !== null) return;
    if (st.draining) throw new Error(`write log for ${backendId} is already being drained`);
    st.draining = true;
    const gen = st.gen;
    const live = (): boolean => st.gen === gen && !st.needsResync && this.closing === null;
    const size = Math.max(1, Math.floor(batchSize));
    try {
      while (true) {
        const records = await this.run(st, async () => {
          await this.flush(st);
          return live() ? this.readChunk(st) : [];
        });
        if (records.length === 0) break;
        const newest = new Map<string, LogRecord>(); // in the order of each key's last record
        for (const r of records) {
          const k = r.key.toString('latin1');
          newest.delete(k);
          newest.set(k, r);
        }
        const order = [...newest.values()];
        let counted = 0;
        for (let i = 0; i < order.length; i += size) {
          const batch = order.slice(i, i + size);
          yield batch.map(({ op, key }) => ({ op, key }));
          if (!live()) return;
          // Every record up to the batch's last one is now replayed or superseded by a later record.
          const end = batch[batch.length - 1]!.end;
          let n = 0;
          for (; counted < records.length && records[counted]!.end <= end; counted++) n++;
          await this.run(st, () => this.commit(st, gen, end, n));
        }
      }
      await this.run(st, async () => {
        if (live() && st.file.cursor >= st.file.end) await this.removeFile(st);
      });
    } finally {
      st.draining = false;
    }
  }

  /** Writes and syncs what is buffered, then closes the files; later appends are dropped. */
  close(): Promise<void> {
    this.closing ??= Promise.all(
      [...this.map.values()].map((st) => {
        if (st.timer !== null) clearTimeout(st.timer);
        st.timer = null;
        return this.run(st, async () => {
          await this.flush(st);
          await st.file.close();
        });
      }),
    ).then(() => undefined);
    return this.closing;
  }

  private create(id: string): Backend {
    const stats = { entries: 0, bytes: 0, needsResync: 0 as const, appended: 0, deduped: 0, dropped: 0, overflows: 0,
      writeErrors: 0, flushes: 0, syncs: 0 };
    const st: Backend = { id, file: new LogFile(this.fs, this.dir, id), needsResync: false, buf: new RecordBuffer(),
      lastOp: new Map(), timer: null, flushQueued: false, queue: Promise.resolve(), draining: false, resetting: 0, gen: 0,
      logged: false, stats };
    this.map.set(id, st);
    return st;
  }

  /** Start-up: picks up an existing log (synchronously); a torn tail is cut off at the first write. */
  private load(name: string): void {
    const path = join(this.dir, name);
    let data: Buffer;
    try {
      data = this.fs.readFileSync(path);
    } catch (err) {
      this.logger?.error({ file: path, err: describe(err) }, 'write log unreadable; ignored');
      return;
    }
    const h = parseHeader(data);
    if (h === null || logFileName(h.backendId) !== name) {
      // Its backend cannot be known (the name is lossy): the operator has to resync it by hand.
      this.logger?.error({ file: path }, 'write log header damaged or foreign; file ignored');
      return;
    }
    const st = this.create(h.backendId);
    let count = 0;
    // Append-time dedupe starts empty (drain dedupes what is on disk): rebuilding it would cost a
    // string per record at start-up.
    const { end } = parseRecords(data, h.recordsStart, 0, (_op, _ks, _ke, recEnd) => {
      if (recEnd > h.cursor) count++;
    });
    const f = st.file;
    f.exists = true;
    f.end = end;
    f.cursor = Math.min(Math.max(h.cursor, h.recordsStart), end);
    st.stats.entries = count;
    st.stats.bytes = end - h.recordsStart;
    if (data.length > end) {
      f.truncateTo = end;
      this.logger?.warn({ backend: st.id, ignoredBytes: data.length - end }, 'write log torn tail ignored');
    }
    if (!h.stateValid) this.flag(st, 'header state damaged');
    else st.needsResync = h.needsResync;
  }

  private flag(st: Backend, reason: string): void {
    if (st.needsResync) return;
    st.needsResync = true;
    st.lastOp.clear();
    st.stats.dropped += st.buf.entries;
    this.discardBuffer(st);
    if (!st.logged) {
      st.logged = true;
      this.logger?.warn({ backend: st.id, reason }, `write log for ${st.id} stopped; the backend needs a full resync`);
    }
    void this.run(st, () => st.file.writeState(true).catch((err: unknown) => this.ioError(st, err)));
  }

  private run<T>(st: Backend, fn: () => Promise<T>): Promise<T> {
    const p = st.queue.then(fn);
    st.queue = p.then(
      () => undefined,
      () => undefined,
    );
    return p;
  }

  private requestFlush(st: Backend): void {
    if (st.timer !== null) clearTimeout(st.timer);
    st.timer = null;
    if (st.flushQueued) return;
    st.flushQueued = true;
    void this.run(st, () => this.flush(st));
  }

  /** Hands the buffer to the file; runs in the backend's queue. */
  private async flush(st: Backend): Promise<void> {
    st.flushQueued = false;
    if (st.buf.bytes === 0 || st.resetting > 0) return;
    const n = st.buf.entries;
    const data = st.buf.take();
    try {
      st.stats.flushes++;
      await st.file.append(data);
    } catch (err) {
      st.stats.entries -= n;
      st.stats.bytes -= data.length;
      st.stats.dropped += n;
      this.ioError(st, err);
    }
  }

  /** Records from the cursor on, [] when there are none or on an error; runs in the queue. */
  private async readChunk(st: Backend): Promise<LogRecord[]> {
    // Appends from here on must be logged again even when a record being drained has their key.
    st.lastOp.clear();
    try {
      return await st.file.read(this.readBytes);
    } catch (err) {
      this.ioError(st, err);
      return [];
    }
  }

  private async commit(st: Backend, gen: number, cursor: number, n: number): Promise<void> {
    if (st.gen !== gen || st.needsResync) return;
    st.file.cursor = cursor;
    st.stats.entries -= n;
    await st.file.writeState(false).catch((err: unknown) => this.ioError(st, err));
  }

  private async removeFile(st: Backend): Promise<void> {
    const held = st.file.end - st.file.start;
    try {
      await st.file.remove();
      st.stats.bytes -= held;
    } catch (err) {
      this.ioError(st, err);
    }
  }

  private discardBuffer(st: Backend): void {
    st.stats.entries -= st.buf.entries;
    st.stats.bytes -= st.buf.bytes;
    st.buf.discard();
  }

  private ioError(st: Backend, err: unknown): void {
    st.stats.writeErrors++;
    if (!st.logged) {
      st.logged = true;
      this.logger?.error({ backend: st.id, err: describe(err) }, `write log for ${st.id} failed; the backend needs a full resync`);
    }
    this.flag(st, describe(err));
  }
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
