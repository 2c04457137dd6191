/**
 * memcached's tokenize_command (proto_text.c), on a Buffer range, storing token
 * offsets instead of strings. Tokens are split on ' ' only; at most
 * MAX_TOKENS - 1 real tokens are taken, and the remainder (if any) starts at
 * `rest`. `count` mirrors memcached's `ntokens`, which counts the terminal token.
 */

export const MAX_TOKENS = 24;

export class Tokens {
  /** starts[i], ends[i] for i < real. */
  readonly starts = new Int32Array(MAX_TOKENS);
  readonly ends = new Int32Array(MAX_TOKENS);
  /** Number of real tokens. */
  real = 0;
  /** Offset of the first unprocessed byte, or -1 when the whole line was consumed. */
  rest = -1;
  buf: Buffer = Buffer.alloc(0);

  /** memcached's ntokens: the real tokens plus the terminal one. */
  get count(): number {
    return this.real + 1;
  }

  length(i: number): number {
    return i < this.real ? this.ends[i]! - this.starts[i]! : 0;
  }

  equals(i: number, ascii: string): boolean {
    if (i >= this.real) return false;
    const s = this.starts[i]!;
    const len = this.ends[i]! - s;
    if (len !== ascii.length) return false;
    for (let j = 0; j < len; j++) if (this.buf[s + j] !== ascii.charCodeAt(j)) return false;
    return true;
  }

  slice(i: number): Buffer {
    return this.buf.subarray(this.starts[i]!, this.ends[i]!);
  }

  /** The value pointer of memcached's token i, even for the terminal token (used by the HTTP check). */
  startsWith(i: number, ascii: string): boolean {
    let s: number;
    let end: number;
    if (i < this.real) {
      s = this.starts[i]!;
      end = this.lineEnd;
    } else if (i === this.real && this.rest >= 0) {
      s = this.rest;
      end = this.lineEnd;
    } else {
      return false;
    }
    if (end - s < ascii.length) return false;
    for (let j = 0; j < ascii.length; j++) if (this.buf[s + j] !== ascii.charCodeAt(j)) return false;
    return true;
  }

  lineEnd = 0;
}

/** Tokenizes buf[start, end) into `t`. */
export function tokenize(buf: Buffer, start: number, end: number, t: Tokens): void {
  t.buf = buf;
  t.lineEnd = end;
  t.real = 0;
  t.rest = -1;
  let s = start;
  let e = start;
  for (; e < end; e++) {
    if (buf[e] === 0x20) {
      if (s !== e) {
        t.starts[t.real] = s;
        t.ends[t.real] = e;
        t.real++;
        if (t.real === MAX_TOKENS - 1) {
          e++;
          s = e;
          break;
        }
      }
      s = e + 1;
    }
  }
  if (s !== e) {
    t.starts[t.real] = s;
    t.ends[t.real] = e;
    t.real++;
  }
  t.rest = e < end ? e : -1;
}
