/**
 * On-disk format of the failed-write log (see ../write-log.ts for the guarantees). All integers
 * little-endian.
 *
 *   header   0  4  magic "MSWL"
 *            4  1  version (1)
 *            5  1  flags: bit 0 = needsResync
 *            6  6  cursor: file offset of the first record not yet replayed (uint48)
 *           12  4  crc32 of bytes 4..12            <- bytes 4..16 are rewritten in place
 *           16  2  id length n
 *           18  n  backend id (utf8)
 *         18+n  4  crc32 of bytes 16..18+n         <- written once, at creation
 *   records from 22+n, each: crc32 (4) | key length (2) | op (1: set, 2: delete) | key
 *                            the crc covers length, op and key.
 *
 * A record that runs past the end of the file or fails its crc ends the log: that is a torn
 * tail (a write cut by a crash), and it and everything after it is ignored.
 */
import { createHash } from 'node:crypto';

export type WriteLogOp = 'set' | 'delete';

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/** CRC-32 (IEEE, as zlib) of buf[start..end), without making a view per record. */
export function crc32(buf: Uint8Array, start = 0, end = buf.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

export const LOG_SUFFIX = '.wlog';
export const MAX_KEY_BYTES = 0xffff;
export const RECORD_OVERHEAD = 7;
const MAGIC = 0x4c57534d; // "MSWL" read as uint32 LE
const VERSION = 1;
const FLAG_RESYNC = 1;
export const STATE_OFFSET = 4;
const STATE_BYTES = 12;
const OP_CODE: Record<WriteLogOp, number> = { set: 1, delete: 2 };

/**
 * Log file name for a backend id: the id with everything but [A-Za-z0-9.-] replaced by `_`
 * (at most 64 characters, so no separator, `..` or NUL can reach the path), then a hash of the
 * exact id so that ids differing only in replaced characters get different files.
 */
export function logFileName(backendId: string): string {
  const safe = backendId.replace(/[^A-Za-z0-9.-]/g, '_').slice(0, 64);
  const hash = createHash('sha256').update(backendId, 'utf8').digest('hex').slice(0, 16);
  return `${safe}-${hash}${LOG_SUFFIX}`;
}

export interface HeaderState {
  readonly needsResync: boolean;
  readonly cursor: number;
}

/** The 12 mutable header bytes (offset 4): version, flags, cursor, crc. */
export function encodeState(state: HeaderState): Buffer {
  const b = Buffer.alloc(STATE_BYTES);
  b.writeUInt8(VERSION, 0);
  b.writeUInt8(state.needsResync ? FLAG_RESYNC : 0, 1);
  b.writeUIntLE(state.cursor, 2, 6);
  b.writeUInt32LE(crc32(b, 0, 8), 8);
  return b;
}

/** A whole header for a new file; returns it and the offset where records start. */
export function encodeHeader(backendId: string, state: HeaderState): Buffer {
  const id = Buffer.from(backendId, 'utf8');
  const b = Buffer.alloc(22 + id.length);
  b.writeUInt32LE(MAGIC, 0);
  encodeState(state).copy(b, STATE_OFFSET);
  b.writeUInt16LE(id.length, 16);
  id.copy(b, 18);
  b.writeUInt32LE(crc32(b, 16, 18 + id.length), 18 + id.length);
  return b;
}

export function recordsStart(backendId: string): number {
  return 22 + Buffer.byteLength(backendId, 'utf8');
}

export interface ParsedHeader {
  readonly backendId: string;
  readonly recordsStart: number;
  /** False when the mutable part failed its crc (a torn in-place rewrite). */
  readonly stateValid: boolean;
  readonly needsResync: boolean;
  readonly cursor: number;
}

/** Parses a file's header, or returns null when the magic or the id part is damaged. */
export function parseHeader(file: Buffer): ParsedHeader | null {
  if (file.length < 22 || file.readUInt32LE(0) !== MAGIC) return null;
  const idLen = file.readUInt16LE(16);
  const start = 22 + idLen;
  if (file.length < start || file.readUInt32LE(18 + idLen) !== crc32(file, 16, 18 + idLen)) return null;
  const backendId = file.toString('utf8', 18, 18 + idLen);
  const stateValid = file.readUInt8(4) === VERSION && file.readUInt32LE(12) === crc32(file, 4, 12);
  if (!stateValid) return { backendId, recordsStart: start, stateValid, needsResync: true, cursor: start };
  const cursor = file.readUIntLE(6, 6);
  return { backendId, recordsStart: start, stateValid, needsResync: (file.readUInt8(5) & FLAG_RESYNC) !== 0, cursor };
}

/** Writes one record at `at` in `into` (which must have RECORD_OVERHEAD + key.length bytes free). */
export function encodeRecord(into: Buffer, at: number, op: WriteLogOp, key: Buffer): number {
  into.writeUInt16LE(key.length, at + 4);
  into[at + 6] = OP_CODE[op];
  key.copy(into, at + RECORD_OVERHEAD);
  const end = at + RECORD_OVERHEAD + key.length;
  into.writeUInt32LE(crc32(into, at + 4, end), at);
  return end;
}

/**
 * Parses records from `buf[from..]`, stopping at the first incomplete or damaged one, and calls
 * `onRecord` with each one's op, the key's bounds in `buf` and the offset just past the record plus
 * `base` (the file offset of buf[0]). `end` is where parsing stopped (plus `base`); `damaged`
 * tells a bad record (crc, op) from an incomplete one at the end of the buffer.
 */
export function parseRecords(
  buf: Buffer,
  from: number,
  base: number,
  onRecord: (op: WriteLogOp, keyStart: number, keyEnd: number, end: number) => void,
): { end: number; damaged: boolean } {
  let at = from;
  while (at + RECORD_OVERHEAD <= buf.length) {
    const len = buf.readUInt16LE(at + 4);
    const end = at + RECORD_OVERHEAD + len;
    if (end > buf.length) return { end: at + base, damaged: false };
    const code = buf[at + 6];
    if ((code !== 1 && code !== 2) || buf.readUInt32LE(at) !== crc32(buf, at + 4, end)) {
      return { end: at + base, damaged: true };
    }
    onRecord(code === 1 ? 'set' : 'delete', at + RECORD_OVERHEAD, end, end + base);
    at = end;
  }
  return { end: at + base, damaged: false };
}
