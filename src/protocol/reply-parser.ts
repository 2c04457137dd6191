/**
 * Incremental framer for a backend's replies. memshift strips noreply and `q`
 * before it forwards, so every request gets exactly one reply, whose shape
 * depends on the request (the head of the connection's in-flight FIFO):
 *   Line      one line (STORED, DELETED, a number, VERSION x, OK, an error)
 *   Retrieval VALUE <key> <flags> <bytes> [<cas>]\r\n<data>\r\n ... END\r\n, or an error line
 *   Meta      one line; "VA <bytes> ..." is followed by <data>\r\n
 *   Stats     STAT lines until END, or an error line
 *   MetaUntilNoop  a quiet meta command followed by `mn`: any replies, then MN
 * Each whole reply is handed over as one Buffer (a view of the socket bytes when
 * it arrived in one read). No I/O here.
 */

export const ReplyKind = { Line: 0, Retrieval: 1, Meta: 2, Stats: 3, MetaUntilNoop: 4 } as const;
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

/**
 * A streaming scanner: it walks each socket read once, skipping value bytes by
 * count, and joins a reply's pieces only once, when the reply is complete; so a
 * large multi-get costs O(size), whatever the read sizes.
 */
export class ReplyParser {
  readonly #sink: ReplySink;
  /** A reply larger than this is refused (the stream is then reset): memory stays bounded. */
  #maxReplyBytes: number;
  /** The kind of the reply being read, -1 between replies. */
  #kind = -1;
  /** Earlier reads' bytes of the reply being read. */
  #pieces: Buffer[] = [];
  #size = 0;
  /** Bytes of a value block (with its \r\n) still to pass. */
  #skip = 0;
  /** The reply ends with the value block being passed (meta VA). */
  #endsWithValue = false;
  /** The start of a line split across reads (a copy, for parsing it). */
  #lineHead: Buffer | null = null;
  #stopped = false;

  constructor(sink: ReplySink, maxReplyBytes = 64 * 1024 * 1024) {
    this.#sink = sink;
    this.#maxReplyBytes = maxReplyBytes;
  }

  /** A reload's new max_reply_bytes (for the replies after the one being read). */
  set maxReplyBytes(n: number) {
    this.#maxReplyBytes = n;
  }

  reset(): void {
    this.#kind = -1;
    this.#pieces = [];
    this.#size = 0;
    this.#skip = 0;
    this.#endsWithValue = false;
    this.#lineHead = null;
    this.#stopped = false;
  }

  /** Stop parsing until reset() (after the connection is declared out of step). */
  stop(): void {
    this.#stopped = true;
    this.#pieces = [];
    this.#lineHead = null;
  }

  get buffered(): number {
    return this.#size;
  }

  feed(chunk: Buffer): void {
    if (this.#stopped) return;
    const len = chunk.length;
    let pos = 0;
    let replyStart = 0;
    while (pos < len) {
      if (this.#stopped) return; // the sink stopped it while taking a reply
      if (this.#kind < 0) {
        this.#kind = this.#sink.nextReplyKind();
        if (this.#kind < 0) return this.#fail('data from the backend with no request in flight');
        replyStart = pos;
      }
      if (this.#skip > 0) {
        const take = Math.min(this.#skip, len - pos);
        pos += take;
        this.#skip -= take;
        if (this.#skip === 0 && this.#endsWithValue) {
          this.#complete(chunk, replyStart, pos);
        }
        continue;
      }
      const nl = chunk.indexOf(10, pos);
      if (nl < 0) {
        const head = chunk.subarray(pos);
        this.#lineHead = this.#lineHead === null ? Buffer.from(head) : Buffer.concat([this.#lineHead, head]);
        if (this.#lineHead.length > MAX_REPLY_LINE) return this.#fail('reply line too long');
        break;
      }
      const line = this.#lineHead === null ? chunk.subarray(pos, nl) : Buffer.concat([this.#lineHead, chunk.subarray(pos, nl)]);
      this.#lineHead = null;
      pos = nl + 1;
      if (this.#onLine(line)) this.#complete(chunk, replyStart, pos);
      if (this.#stopped) return;
    }
    if (this.#kind >= 0 && !this.#stopped) {
      this.#pieces.push(chunk.subarray(replyStart, len));
      this.#size += len - replyStart;
      if (this.#size + this.#skip > this.#maxReplyBytes) {
        this.#fail(`reply larger than max_reply_bytes (${this.#maxReplyBytes})`);
      }
    }
  }

  /** One whole line of the current reply; true when it ends the reply. */
  #onLine(line: Buffer): boolean {
    switch (this.#kind) {
      case ReplyKind.Line:
        return true;
      case ReplyKind.Meta:
      case ReplyKind.MetaUntilNoop:
        if (isPrefix(line, 0, 'VA ')) {
          const bytes = tokenNumber(line, 0, line.length, 1);
          if (bytes < 0) {
            this.#fail('bad VA line');
            return false;
          }
          this.#skip = bytes + 2;
          this.#endsWithValue = this.#kind === ReplyKind.Meta;
          return false;
        }
        return this.#kind === ReplyKind.Meta || isPrefix(line, 0, 'MN');
      case ReplyKind.Retrieval:
        if (isPrefix(line, 0, 'VALUE ')) {
          const bytes = tokenNumber(line, 0, line.length, 3);
          if (bytes < 0) {
            this.#fail('bad VALUE line');
            return false;
          }
          this.#skip = bytes + 2;
          this.#endsWithValue = false;
          return false;
        }
        return true; // END, or an error line that ends the reply
      default: // Stats
        return !isPrefix(line, 0, 'STAT ');
    }
  }

  #complete(chunk: Buffer, start: number, end: number): void {
    let reply: Buffer;
    if (this.#pieces.length === 0) {
      reply = chunk.subarray(start, end);
    } else {
      this.#pieces.push(chunk.subarray(start, end));
      reply = Buffer.concat(this.#pieces, this.#size + end - start);
      this.#pieces = [];
      this.#size = 0;
    }
    this.#kind = -1;
    this.#skip = 0;
    this.#endsWithValue = false;
    this.#sink.onReply(reply);
  }

  #fail(reason: string): void {
    this.#stopped = true;
    this.#pieces = [];
    this.#size = 0;
    this.#lineHead = null;
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
