/**
 * Incremental request parser for memcached's text and meta protocols.
 *
 * Bytes go in through `feed()` in any split; commands come out through the sink
 * in order, exactly as memcached's conn state machine would see them:
 *   LINE  -> a command line ends at '\n' (a '\r' before it is dropped, a NUL ends it)
 *   DATA  -> a storage command's value plus its "\r\n"
 *   SWALLOW -> bytes memcached discards after refusing a value (conn_swallow)
 * A line with no newline past 2048 bytes closes the connection unless it starts
 * with "get " or "gets " (memcached's try_read_command_ascii); those may grow to
 * `maxGetLineBytes`. The parser never throws on any input and does no I/O.
 */
import { type Request } from './request.js';
import { R } from './replies.js';
import { Tokens, tokenize } from './tokenizer.js';
import { processLine, type CommandLimits } from './commands.js';
import { isMeta } from './command-class.js';

export interface ParserSink {
  /** A valid command to route. */
  onRequest(req: Request): void;
  /**
   * Asked before each command: false holds the rest of the input (nothing more is dispatched)
   * until `resume()`, so a client over its limits cannot queue a whole socket read of requests.
   */
  wantsMore(): boolean;
  /** A reply memshift gives itself, in order with the replies of earlier requests. */
  onReply(bytes: Buffer): void;
  /** memcached closes the connection here, at once. */
  onClose(reason: string): void;
  /** `quit`: close once every earlier reply is written. */
  onQuit(): void;
}

export interface ParserLimits extends CommandLimits {
  maxGetLineBytes: number;
}

/** memcached closes a connection that buffers this much with no newline (unless it is a get). */
export const MAX_LINE_WITHOUT_NEWLINE = 2048;

const LINE = 0;
const DATA = 1;
const SWALLOW = 2;
const DONE = 3;

export class RequestParser {
  readonly #sink: ParserSink;
  readonly #limits: ParserLimits;
  readonly #tokens = new Tokens();
  #state = LINE;
  /** A partial line (no newline yet), as the pieces that arrived: joined once, when the newline comes. */
  #partial: Buffer[] = [];
  #partialLength = 0;
  /** Whether the partial line is a get/gets line (decided once it passes 2048 bytes). */
  #partialIsGet: boolean | undefined = undefined;
  /** Input held while the sink wants no more. */
  #held: Buffer | null = null;
  /** DATA: the request waiting for its value, and what has arrived of it. */
  #pending: Request | null = null;
  #need = 0;
  #have = 0;
  #chunks: Buffer[] = [];
  /** SWALLOW: bytes still to discard. */
  #swallow = 0;

  constructor(sink: ParserSink, limits: ParserLimits) {
    this.#sink = sink;
    this.#limits = limits;
  }

  /** True after quit or a close: further input is ignored. */
  get done(): boolean {
    return this.#state === DONE;
  }

  /** Bytes buffered for a partial line or value (for backpressure accounting). */
  get buffered(): number {
    return this.#partialLength + this.#have + (this.#held?.length ?? 0);
  }

  feed(chunk: Buffer): void {
    if (this.#state === DONE) return;
    if (this.#held !== null) {
      this.#held = Buffer.concat([this.#held, chunk]);
      return;
    }
    this.#run(chunk);
  }

  /** Parse the input held back by `wantsMore()`. */
  resume(): void {
    const held = this.#held;
    if (held === null || this.#state === DONE) return;
    this.#held = null;
    this.#run(held);
  }

  #run(chunk: Buffer): void {
    let data = chunk;
    let scanFrom = 0;
    if (this.#partialLength > 0) {
      if (chunk.indexOf(10) < 0) return this.#partialLine(chunk, 0);
      scanFrom = this.#partialLength;
      this.#partial.push(chunk);
      data = Buffer.concat(this.#partial, this.#partialLength + chunk.length);
      this.#partial = [];
      this.#partialLength = 0;
      this.#partialIsGet = undefined;
    }
    let pos = 0;
    let nul = -2; // next NUL at or after pos; -1 when there is none in `data`
    const len = data.length;
    while (pos < len) {
      const state = this.#state;
      if (state === SWALLOW) {
        const take = Math.min(this.#swallow, len - pos);
        pos += take;
        this.#swallow -= take;
        if (this.#swallow === 0) this.#state = LINE;
      } else if (state === DATA) {
        pos = this.#takeData(data, pos);
      } else if (state === LINE) {
        if (!this.#sink.wantsMore()) {
          this.#held = data.subarray(pos);
          return;
        }
        const nl = data.indexOf(10, Math.max(pos, scanFrom));
        if (nl < 0) {
          this.#partialLine(data, pos);
          return;
        }
        let el = nl;
        if (nl - pos > 1 && data[nl - 1] === 13) el = nl - 1;
        if (nul !== -1 && nul < pos) nul = data.indexOf(0, pos);
        if (nul >= 0 && nul < el) el = nul;
        const lineStart = pos;
        pos = nl + 1;
        this.#line(data, lineStart, el);
      } else {
        return;
      }
    }
  }

  /** Bytes from `pos` on hold no newline: keep them, unless memcached would close here. */
  #partialLine(data: Buffer, pos: number): void {
    const piece = data.length - pos;
    // Copy a small piece so it does not pin a large socket chunk.
    this.#partial.push(piece > 4096 ? data.subarray(pos) : Buffer.from(data.subarray(pos)));
    const total = (this.#partialLength += piece);
    if (total <= Math.min(MAX_LINE_WITHOUT_NEWLINE, this.#limits.maxGetLineBytes)) return;
    this.#partialIsGet ??= isGetLine(this.#partial);
    if (!this.#partialIsGet && total > MAX_LINE_WITHOUT_NEWLINE) return this.#close('line too long without a newline');
    if (this.#partialIsGet && total > this.#limits.maxGetLineBytes) return this.#close('get line over max_get_line');
  }

  #line(data: Buffer, start: number, end: number): void {
    tokenize(data, start, end, this.#tokens);
    const o = processLine(this.#tokens, this.#limits);
    if (o.request) {
      this.#sink.onRequest(o.request);
    } else if (o.pending) {
      this.#pending = o.pending;
      this.#need = o.dataBytes!;
      this.#have = 0;
      this.#state = DATA;
      return;
    } else if (o.close) {
      return this.#close('HTTP request');
    } else if (o.quit) {
      this.#state = DONE;
      return this.#sink.onQuit();
    } else if (o.reply) {
      this.#sink.onReply(o.reply);
    }
    if (o.swallow !== undefined && o.swallow > 0) {
      this.#swallow = o.swallow;
      this.#state = SWALLOW;
    }
  }

  #takeData(data: Buffer, pos: number): number {
    const avail = data.length - pos;
    const missing = this.#need - this.#have;
    if (this.#have === 0 && avail >= missing) {
      this.#value(data.subarray(pos, pos + missing));
      return pos + missing;
    }
    const take = Math.min(missing, avail);
    this.#chunks.push(data.subarray(pos, pos + take));
    this.#have += take;
    if (this.#have === this.#need) {
      const value = Buffer.concat(this.#chunks, this.#need);
      this.#chunks = [];
      this.#value(value);
    }
    return pos + take;
  }

  /** complete_nread_ascii: the value must end in "\r\n". */
  #value(block: Buffer): void {
    const req = this.#pending!;
    this.#pending = null;
    this.#have = 0;
    this.#state = LINE;
    const n = block.length;
    if (block[n - 2] !== 13 || block[n - 1] !== 10) {
      // meta set always shows this error; the text commands hide it under noreply.
      if (isMeta(req.cmd) || !req.noreply) this.#sink.onReply(R.BAD_DATA_CHUNK);
      return;
    }
    req.value = block.subarray(0, n - 2);
    this.#sink.onRequest(req);
  }

  #close(reason: string): void {
    this.#state = DONE;
    this.#partial = [];
    this.#partialLength = 0;
    this.#partialIsGet = undefined;
    this.#held = null;
    this.#chunks = [];
    this.#sink.onClose(reason);
  }
}

/** memcached's exception for long lines: up to 100 spaces, then "get " or "gets ". */
function isGetLine(pieces: readonly Buffer[]): boolean {
  const head: number[] = [];
  for (const piece of pieces) {
    for (let i = 0; i < piece.length && head.length < 110; i++) head.push(piece[i]!);
    if (head.length >= 110) break;
  }
  const buf = Buffer.from(head);
  let p = 0;
  while (p < buf.length && buf[p] === 0x20) p++;
  return p <= 100 && (startsWith(buf, p, 'get ') || startsWith(buf, p, 'gets '));
}

function startsWith(buf: Buffer, at: number, ascii: string): boolean {
  if (buf.length - at < ascii.length) return false;
  for (let i = 0; i < ascii.length; i++) if (buf[at + i] !== ascii.charCodeAt(i)) return false;
  return true;
}
