import type { WriteLogOp } from './format.js';
import type { WriteLogFs } from './fs.js';

export interface WriteLogEntry {
  readonly op: WriteLogOp;
  /** A view into the chunk drain read (up to 1 MiB, kept alive while any of its keys is). */
  readonly key: Buffer;
}

/** Satisfied by the pino logger. */
export interface WriteLogLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WriteLogOptions {
  readonly dir: string;
  /** Bound on one backend's records, in bytes (7 + key length per record). */
  readonly maxBytes: number;
  /** Longest time an append waits in memory before it is written and synced. Default 50. */
  readonly fsyncIntervalMs?: number;
  readonly logger?: WriteLogLogger;
  /** Buffered bytes that trigger a write before the interval. Default 256 KiB. */
  readonly flushBytes?: number;
  /** Keys per backend remembered for append-time dedupe. Default 65536. */
  readonly dedupeKeys?: number;
  /** Bytes drain reads (and dedupes) at a time. Default 1 MiB; at least 64 KiB + 7. */
  readonly readChunkBytes?: number;
  /** Injected file system (tests). */
  readonly fs?: WriteLogFs;
}

/** Per-backend numbers for metrics. */
export interface WriteLogBackendStats {
  /** Entries still to replay (in the file after the cursor, or buffered). */
  entries: number;
  /** Record bytes held (the file's records, replayed or not, plus buffered); bounded by maxBytes. */
  bytes: number;
  needsResync: 0 | 1;
  appended: number;
  /** Appends skipped because the key's last logged op was the same. */
  deduped: number;
  /** Appends not logged: the log was full, the backend needed a resync, an I/O error, or closed. */
  dropped: number;
  /** Times the log hit maxBytes. */
  overflows: number;
  /** Failed file operations (open, write, sync, read, unlink). */
  writeErrors: number;
  flushes: number;
  syncs: number;
}
