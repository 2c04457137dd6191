/**
 * Failed writes between workers (`workers: N`, app/cluster). One process owns the failed-write log
 * of a pool (worker 0; write-log.ts: one WriteLog per dir); every other worker sends it the writes
 * its replica groups missed, and keeps no log of its own:
 *
 *   miss ─► FailedWriteSender.add ─► one batch per event-loop turn ─► (IPC, through the primary) ─►
 *   worker 0: decodeFailedWrites ─► Replication.appendForwarded ─► the pool's WriteLog.append
 *
 * Bounded: the bytes batched and not yet handed to the channel stay under `maxBytes`. A write past
 * that is not sent; its backend is sent as lost instead, and worker 0 marks it needsResync, as its
 * log does when it is full: a rebuild then covers what the log no longer does.
 *
 * A batch is bytes, one entry after another: `op u8 | pool u16+bytes | backend u16+bytes | key u16+bytes`
 * (op 0 set, 1 delete; lengths big-endian), after a version byte.
 */
import type { WriteLog, WriteLogBackendStats, WriteLogOp } from './write-log.js';

/** What replication asks of a pool's failed-write log besides replay (a WriteLog, or a ForwardedLog). */
export type FailedWriteLog = Pick<WriteLog, 'append' | 'pending' | 'bytes' | 'needsResync' | 'markResync' | 'close'> & {
  stats(): Record<string, WriteLogBackendStats>;
};

export interface FailedWrite {
  readonly pool: string;
  /** The backend's address, as the log names it. */
  readonly backend: string;
  readonly op: WriteLogOp;
  readonly key: Buffer;
}

/** A backend whose failed writes were dropped on the way: it needs a rebuild. */
export interface LostWrites {
  readonly pool: string;
  readonly backend: string;
}

const VERSION = 1;
const MAX_FIELD = 0xffff;
const OPS: readonly WriteLogOp[] = ['set', 'delete'];

const entryBytes = (w: FailedWrite): number => 1 + 6 + Buffer.byteLength(w.pool) + Buffer.byteLength(w.backend) + w.key.length;

/** Encodes a batch; every field must fit in 65535 bytes (FailedWriteSender drops a longer key as lost). */
export function encodeFailedWrites(writes: readonly FailedWrite[]): Buffer {
  const out = Buffer.allocUnsafe(1 + writes.reduce((n, w) => n + entryBytes(w), 0));
  out[0] = VERSION;
  let at = 1;
  const field = (b: Buffer | string): void => {
    const n = typeof b === 'string' ? out.write(b, at + 2) : b.copy(out, at + 2);
    if (n > MAX_FIELD) throw new RangeError(`a failed write's field of ${n} bytes is longer than ${MAX_FIELD}`);
    out.writeUInt16BE(n, at);
    at += 2 + n;
  };
  for (const w of writes) {
    out[at++] = w.op === 'delete' ? 1 : 0;
    field(w.pool);
    field(w.backend);
    field(w.key);
  }
  return out;
}

/** Decodes a batch; throws on a version it does not know or bytes that do not end where an entry does. */
export function decodeFailedWrites(batch: Buffer): FailedWrite[] {
  if (batch.length === 0 || batch[0] !== VERSION) throw new Error(`failed-write batch: unknown version ${batch[0] ?? 'none'}`);
  const out: FailedWrite[] = [];
  let at = 1;
  const field = (): Buffer => {
    if (at + 2 > batch.length) throw new Error('failed-write batch: cut short');
    const n = batch.readUInt16BE(at);
    if (at + 2 + n > batch.length) throw new Error('failed-write batch: cut short');
    const b = batch.subarray(at + 2, at + 2 + n);
    at += 2 + n;
    return b;
  };
  while (at < batch.length) {
    const op = OPS[batch[at++]!];
    if (op === undefined) throw new Error(`failed-write batch: unknown op ${batch[at - 1]!}`);
    const pool = field().toString();
    const backend = field().toString();
    out.push({ pool, backend, op, key: Buffer.from(field()) });
  }
  return out;
}

/**
 * Sends what it is given: `batch` (null when only `lost` has news), the backends whose writes were
 * lost since the last send, and `sent` to call once the bytes left this process (the channel took them).
 */
export type SendFailedWrites = (batch: Buffer | null, lost: readonly LostWrites[], sent: () => void) => void;

/** A follower worker's side: collects the misses of one turn and sends them as one batch. */
export class FailedWriteSender {
  readonly counters = { sent: 0, lost: 0, batches: 0 };
  #batch: FailedWrite[] = [];
  /** Bytes batched this turn, and bytes handed to `send` and not sent yet. */
  #batched = 0;
  #inFlight = 0;
  readonly #lost = new Map<string, LostWrites>();
  #scheduled = false;

  constructor(
    readonly send: SendFailedWrites,
    readonly maxBytes = 8 * 1024 * 1024,
  ) {}

  /** A write `backend` of `pool` missed; `key` is copied (it may be a view of a client's read buffer). */
  add(pool: string, backend: string, op: WriteLogOp, key: Buffer): void {
    const w: FailedWrite = { pool, backend, op, key };
    const size = entryBytes(w);
    if (key.length > MAX_FIELD || this.#batched + this.#inFlight + size > this.maxBytes) {
      this.counters.lost++;
      this.#lost.set(`${pool}\0${backend}`, { pool, backend });
    } else {
      this.#batch.push({ pool, backend, op, key: Buffer.from(key) });
      this.#batched += size;
    }
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends the batch now (the turn's end calls it). */
  flush(): void {
    this.#scheduled = false;
    if (this.#batch.length === 0 && this.#lost.size === 0) return;
    const batch = this.#batch.length === 0 ? null : encodeFailedWrites(this.#batch);
    const size = this.#batched;
    this.#inFlight += size;
    this.counters.sent += this.#batch.length;
    this.counters.batches++;
    this.#batch = [];
    this.#batched = 0;
    const lost = [...this.#lost.values()];
    this.#lost.clear();
    let done = false;
    this.send(batch, lost, () => {
      if (done) return;
      done = true;
      this.#inFlight -= size;
    });
  }
}

/** A follower's stand-in for a pool's WriteLog: what it is given goes to worker 0; it holds nothing. */
export class ForwardedLog implements FailedWriteLog {
  constructor(
    readonly pool: string,
    readonly sender: FailedWriteSender,
  ) {}

  append(backendId: string, op: WriteLogOp, key: Buffer): void {
    this.sender.add(this.pool, backendId, op, key);
  }

  pending(): number {
    return 0;
  }

  bytes(): number {
    return 0;
  }

  needsResync(): boolean {
    return false;
  }

  /** Worker 0 marks the backends (a failover there marks its own log). */
  markResync(): void {}

  stats(): Record<string, WriteLogBackendStats> {
    return {};
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
