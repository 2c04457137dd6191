/**
 * One backend's log file: creating it (header first, synced, then the directory synced), writing
 * record batches at its end, reading records from the replay cursor, moving the cursor, removing
 * it. Not concurrency-safe on its own: the WriteLog runs one operation per file at a time.
 */
import { join } from 'node:path';
import { encodeHeader, encodeState, logFileName, parseRecords, recordsStart, STATE_OFFSET, type WriteLogOp } from './format.js';
import { readAt, writeAll, type WriteLogFs } from './fs.js';

export interface LogRecord {
  readonly op: WriteLogOp;
  readonly key: Buffer;
  /** File offset just past the record. */
  readonly end: number;
}

export class LogFile {
  readonly path: string;
  /** Offset of the first record. */
  readonly start: number;
  /** Where the next batch goes: the end of the valid records. */
  end: number;
  /** Offset of the first record not yet replayed. */
  cursor: number;
  /** The file exists (found at start-up or created since). */
  exists = false;
  /** A torn tail to cut off before the first write (found at start-up). */
  truncateTo: number | null = null;
  syncs = 0;
  private fd: number | null = null;

  constructor(
    private readonly fs: WriteLogFs,
    private readonly dir: string,
    readonly backendId: string,
  ) {
    this.path = join(dir, logFileName(backendId));
    this.start = this.end = this.cursor = recordsStart(backendId);
  }

  /** Writes a batch of encoded records at the end and syncs it. */
  async append(data: Buffer): Promise<void> {
    const fd = await this.open();
    await writeAll(this.fs, fd, data, this.end);
    this.end += data.length;
    await this.sync(fd);
  }

  /** Rewrites the header's flag and cursor in place and syncs. */
  async writeState(needsResync: boolean): Promise<void> {
    const fd = await this.open();
    await writeAll(this.fs, fd, encodeState({ needsResync, cursor: this.cursor }), STATE_OFFSET);
    await this.sync(fd);
  }

  /** Records from the cursor on, at most `maxBytes` of them; throws on a damaged record. */
  async read(maxBytes: number): Promise<LogRecord[]> {
    if (this.cursor >= this.end) return [];
    const fd = await this.open();
    const buf = await readAt(this.fs, fd, Math.min(this.end - this.cursor, maxBytes), this.cursor);
    const records: LogRecord[] = [];
    parseRecords(buf, 0, this.cursor, (op, ks, ke, end) => records.push({ op, key: buf.subarray(ks, ke), end }));
    if (records.length === 0) throw new Error(`write log ${this.path}: damaged record at offset ${this.cursor}`);
    return records;
  }

  /** Deletes the file (a missing file is fine); afterwards the next append creates a new one. */
  async remove(): Promise<void> {
    await this.close();
    if (this.exists) {
      try {
        await this.fs.unlink(this.path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    this.exists = false;
    this.truncateTo = null;
    this.end = this.cursor = this.start;
  }

  async close(): Promise<void> {
    const fd = this.fd;
    this.fd = null;
    if (fd !== null) await this.fs.close(fd).catch(() => undefined);
  }

  private async open(): Promise<number> {
    if (this.fd !== null) return this.fd;
    if (this.exists) {
      const fd = await this.fs.open(this.path, 'r+');
      this.fd = fd;
      if (this.truncateTo !== null) await this.fs.ftruncate(fd, this.truncateTo);
      this.truncateTo = null;
      return fd;
    }
    const fd = await this.fs.open(this.path, 'w+');
    this.fd = fd;
    this.exists = true;
    this.end = this.cursor = this.start;
    await writeAll(this.fs, fd, encodeHeader(this.backendId, { needsResync: false, cursor: this.start }), 0);
    await this.sync(fd);
    try {
      const dirFd = await this.fs.open(this.dir, 'r'); // makes the new directory entry durable
      await this.fs.sync(dirFd).finally(() => this.fs.close(dirFd));
    } catch {
      // best effort: not every platform can sync a directory
    }
    return fd;
  }

  private async sync(fd: number): Promise<void> {
    this.syncs++;
    await this.fs.sync(fd);
  }
}
