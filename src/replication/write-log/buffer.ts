/**
 * A backend's appends not yet written: records encoded into 64 KiB chunks, so an append costs a
 * copy and a crc, not an allocation, and a flush hands out one buffer.
 */
import { encodeRecord, RECORD_OVERHEAD, type WriteLogOp } from './format.js';

export const CHUNK_BYTES = 64 * 1024;

export class RecordBuffer {
  bytes = 0;
  entries = 0;
  private chunks: Buffer[] = [];
  private cur: Buffer | null = null;
  private curLen = 0;

  /** Encodes one record; returns its size in bytes. */
  push(op: WriteLogOp, key: Buffer): number {
    const size = RECORD_OVERHEAD + key.length;
    if (this.cur === null || this.curLen + size > this.cur.length) {
      if (this.cur !== null && this.curLen > 0) this.chunks.push(this.cur.subarray(0, this.curLen));
      this.cur = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, size));
      this.curLen = 0;
    }
    this.curLen = encodeRecord(this.cur, this.curLen, op, key);
    this.bytes += size;
    this.entries++;
    return size;
  }

  /** Everything buffered, as one buffer; the buffer is empty afterwards. */
  take(): Buffer {
    const tail = this.cur === null ? Buffer.alloc(0) : this.cur.subarray(0, this.curLen);
    const data = this.chunks.length === 0 ? tail : Buffer.concat([...this.chunks, tail]);
    // `data` may be a view of `cur` that is still being written: only the unused rest is reused.
    if (this.cur !== null) this.cur = this.cur.subarray(this.curLen);
    this.chunks = [];
    this.curLen = 0;
    this.bytes = 0;
    this.entries = 0;
    return data;
  }

  discard(): void {
    this.chunks = [];
    this.curLen = 0;
    this.bytes = 0;
    this.entries = 0;
  }
}
