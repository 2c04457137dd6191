/**
 * Incremental framer for a backend's replies. memshift strips noreply and `q`
 * before it forwards, so every request gets exactly one reply, whose shape
 * depends on the request (the head of the connection's in-flight FIFO):
 *   Line      one line (STORED, DELETED, a number, VERSION x, OK, an error)
 *   Retrieval VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n ... END\r\n, or an error line
 *   Meta      one line; "VA <bytes> ..." is followed by <data>\r\n
 *   Stats     STAT lines until END, or an error line
 * Each whole reply is handed over as one Buffer (a view of the socket bytes when
 * it arrived in one read). No I/O here.
 */

export const ReplyKind = { Line: 0, Retrieval: 1, Meta: 2, Stats: 3 } as const;
export type ReplyKind = (typeof ReplyKind)[keyof typeof ReplyKind];

export interface ReplySink {
  /** The kind of the next expected reply, or -1 when nothing is in flight. */
  nextReplyKind(): number;
  onReply(reply: Buffer): void;
  /** Bytes that cannot be a reply: the stream is out of step. */
  onUnexpected(reason: string): void;
}

/** A reply line that could never start a valid value: guard against runaway lengths. */
const MAX_REPLY_LINE = 64 * 1024;

export class ReplyParser {
  readonly #sink: ReplySink;
  #rest: Buffer | null = null;
  /** Offset, from the start of the pending reply, where scanning resumes. */
  #cursor = 0;
  #kind = -1;
  /** A meta VA reply whose data block ends exactly at the cursor. */
  #endsAtCursor = false;
  #stopped = false;

  /** A reply larger than this is refused (the stream is then reset): memory stays bounded. */
  readonly #maxReplyBytes: number;

  constructor(sink: ReplySink, maxReplyBytes = 64 * 1024 * 1024) {
    this.#sink = sink;
    this.#maxReplyBytes = maxReplyBytes;
  }

  reset(): void {
    this.#rest = null;
    this.#cursor = 0;
    this.#kind = -1;
    this.#endsAtCursor = false;
    this.#stopped = false;
  }

  /** Stop parsing until reset() (after the connection is declared out of step). */
  stop(): void {
    this.#stopped = true;
    this.#rest = null;
  }

  get buffered(): number {
    return this.#rest?.length ?? 0;
  }

  feed(chunk: Buffer): void {
    if (this.#stopped) return;
    let data = chunk;
    if (this.#rest !== null) {
      data = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    let start = 0;
    const len = data.length;
    while (start < len && !this.#stopped) {
      if (this.#kind < 0) {
        this.#kind = this.#sink.nextReplyKind();
        this.#cursor = 0;
        if (this.#kind < 0) return this.#fail('data from the backend with no request in flight');
      }
      const end = this.#scan(data, start);
      if (end < 0) {
        if (end === -2) return; // #scan reported the problem
        if (Math.max(len - start, this.#cursor) > this.#maxReplyBytes) {
          return this.#fail(`reply larger than max_reply_bytes (${this.#maxReplyBytes})`);
        }
        this.#rest = data.subarray(start);
        return;
      }
      this.#kind = -1;
      this.#cursor = 0;
      this.#endsAtCursor = false;
      this.#sink.onReply(data.subarray(start, end));
      start = end;
    }
  }

  /** Returns the end offset of a complete reply starting at `start`, -1 if incomplete, -2 on error. */
  #scan(data: Buffer, start: number): number {
    const kind = this.#kind;
    let p = start + this.#cursor;
    if (this.#endsAtCursor) return p <= data.length ? p : -1;
    for (;;) {
      if (p > data.length) {
        this.#cursor = p - start;
        return -1;
      }
      const nl = data.indexOf(10, p);
      if (nl < 0) {
        if (data.length - p > MAX_REPLY_LINE) {
          this.#fail('reply line too long');
          return -2;
        }
        this.#cursor = p - start;
        return -1;
      }
      const lineEnd = nl + 1;
      if (kind === ReplyKind.Line) return lineEnd;
      if (kind === ReplyKind.Meta) {
        if (!isPrefix(data, p, 'VA ')) return lineEnd;
        const bytes = tokenNumber(data, p, nl, 1);
        if (bytes < 0) {
          this.#fail('bad VA line');
          return -2;
        }
        const end = lineEnd + bytes + 2;
        if (end > data.length) {
          this.#cursor = end - start;
          this.#endsAtCursor = true;
          return -1;
        }
        return end;
      }
      if (kind === ReplyKind.Retrieval) {
        if (isPrefix(data, p, 'VALUE ')) {
          const bytes = tokenNumber(data, p, nl, 3);
          if (bytes < 0) {
            this.#fail('bad VALUE line');
            return -2;
          }
          p = lineEnd + bytes + 2;
          continue;
        }
        return lineEnd; // END, or an error line that ends the reply
      }
      // Stats
      if (isPrefix(data, p, 'STAT ')) {
        p = lineEnd;
        continue;
      }
      return lineEnd;
    }
  }

  #fail(reason: string): void {
    this.#stopped = true;
    this.#rest = null;
    this.#sink.onUnexpected(reason);
  }
}

export function isPrefix(buf: Buffer, at: number, ascii: string): boolean {
  if (buf.length - at < ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (buf[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}

/** The decimal value of the `index`-th space-separated token of the line [start, end), or -1. */
export function tokenNumber(buf: Buffer, start: number, end: number, index: number): number {
  let i = start;
  for (let t = 0; t < index; t++) {
    while (i < end && buf[i] !== 0x20) i++;
    while (i < end && buf[i] === 0x20) i++;
  }
  let n = 0;
  let digits = 0;
  while (i < end) {
    const c = buf[i]!;
    if (c === 0x20 || c === 13) break;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
    digits++;
    i++;
  }
  return digits === 0 || digits > 10 ? -1 : n;
}

/** The number of VALUE blocks in a complete retrieval reply. */
export function countValueBlocks(reply: Buffer): number {
  let n = 0;
  let pos = 0;
  while (isPrefix(reply, pos, 'VALUE ')) {
    const nl = reply.indexOf(10, pos);
    const bytes = tokenNumber(reply, pos, nl, 3);
    if (nl < 0 || bytes < 0) break;
    pos = nl + 1 + bytes + 2;
    n++;
  }
  return n;
}
