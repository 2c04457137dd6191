/**
 * Meta commands (mg ms md ma mn me): memcached 1.6.18's checks, in its order,
 * with its error strings (proto_text.c process_m*_command and
 * _meta_flag_preparse). A valid command is forwarded with its flags untouched,
 * except `q`, which memshift strips so the backend always replies; the reply
 * that `q` hides (EN for mg, HD for ms/md/ma) is then dropped here.
 */
import { Cmd, Request } from './request.js';
import { R, clientError } from './replies.js';
import { type Tokens } from './tokenizer.js';
import { parseInt32, parseUint32, parseUint64 } from './numbers.js';
import type { CommandLimits, LineOutcome } from './commands.js';

const KEY_MAX_LENGTH = 250;
const MFLAG_MAX_OPT_LENGTH = 20;
const MFLAG_MAX_OPAQUE_LENGTH = 32;
const ERROR: LineOutcome = { reply: R.ERROR };

const E_DUPLICATE = clientError('duplicate flag');
const E_DECODE = clientError('error decoding key');
const E_BAD_TOKEN = clientError('bad token in command line format');
const E_M_LENGTH = clientError('incorrect length for M token');
const E_INITIAL = clientError('invalid numeric initial value');
const E_DELTA = clientError('invalid numeric delta value');
const E_INVALID_FLAG = clientError('invalid flag');
const E_OPAQUE = clientError('opaque token too long');
const E_MS_MODE = clientError('invalid mode for ms M token');
const E_MA_MODE = clientError('invalid mode for ma M token');

interface MetaFlags {
  /** The error reply, when a flag was bad. */
  error: Buffer | null;
  quiet: boolean;
  mode: number;
  decodedKey: Buffer | null;
  opaqueTooLong: boolean;
}

/** memcached's base64 dtable: the value of each byte, 0x80 for a byte outside the alphabet ('=' is 0). */
const B64 = new Uint8Array(256).fill(0x80);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => (B64[c.charCodeAt(0)] = i));
B64[0x3d] = 0;

/**
 * memcached's base64_decode (base64.c), byte for byte; null where it returns 0 (the key fails to
 * decode). It is lenient: bytes outside the alphabet are skipped, the others must be a positive
 * multiple of 4, and decoding stops after the first group of four that holds an '=' (one or two
 * drop as many bytes; more fail). So `fz8_a` decodes as `fz8a`, and `Zg==Zm9v` as `f`.
 */
export function decodeBase64Key(key: Buffer): Buffer | null {
  let count = 0;
  for (let i = 0; i < key.length; i++) if (B64[key[i]!] !== 0x80) count++;
  if (count === 0 || count % 4 !== 0) return null;
  const out = Buffer.alloc((count / 4) * 3);
  const block = [0, 0, 0, 0];
  let n = 0;
  let pad = 0;
  let pos = 0;
  for (let i = 0; i < key.length; i++) {
    const v = B64[key[i]!]!;
    if (v === 0x80) continue;
    if (key[i] === 0x3d) pad++;
    block[n++] = v;
    if (n < 4) continue;
    n = 0;
    out[pos++] = (block[0]! << 2) | (block[1]! >> 4);
    out[pos++] = ((block[1]! << 4) | (block[2]! >> 2)) & 0xff;
    out[pos++] = ((block[2]! << 6) | block[3]!) & 0xff;
    if (pad > 0) {
      if (pad > 2) return null;
      pos -= pad;
      break;
    }
  }
  return pos === 0 ? null : out.subarray(0, pos);
}

/** _meta_flag_preparse; `defaultError` is the caller's errstr before preparse. */
function preparse(t: Tokens, start: number, defaultError: Buffer): MetaFlags {
  const f: MetaFlags = { error: null, quiet: false, mode: 0, decodedKey: null, opaqueTooLong: false };
  const seen = new Uint8Array(128);
  const buf = t.buf;
  let errstr = defaultError;
  let hasError = false;
  for (let i = start; i < t.real; i++) {
    const s = t.starts[i]!;
    const e = t.ends[i]!;
    const o = buf[s]!;
    if (o >= 127 || seen[o] !== 0) {
      f.error = E_DUPLICATE;
      return f;
    }
    seen[o] = 1;
    switch (o) {
      case 0x62: // b
        f.decodedKey = decodeBase64Key(t.slice(1));
        if (f.decodedKey === null) {
          errstr = E_DECODE;
          hasError = true;
        }
        break;
      case 0x4e: // N
      case 0x54: // T
      case 0x52: // R
        if (parseInt32(buf, s + 1, e) === undefined) {
          errstr = E_BAD_TOKEN;
          hasError = true;
        }
        break;
      case 0x46: // F
        if (parseUint32(buf, s + 1, e) === undefined) hasError = true;
        break;
      case 0x43: // C
        if (parseUint64(buf, s + 1, e) === undefined) {
          errstr = E_BAD_TOKEN;
          hasError = true;
        }
        break;
      case 0x4d: // M
        if (e - s !== 2) {
          errstr = E_M_LENGTH;
          hasError = true;
        } else {
          f.mode = buf[s + 1]!;
        }
        break;
      case 0x4a: // J
        if (parseUint64(buf, s + 1, e) === undefined) {
          errstr = E_INITIAL;
          hasError = true;
        }
        break;
      case 0x44: // D
        if (parseUint64(buf, s + 1, e) === undefined) {
          errstr = E_DELTA;
          hasError = true;
        }
        break;
      case 0x71: // q
        f.quiet = true;
        break;
      case 0x4f: // O
        if (e - s > MFLAG_MAX_OPAQUE_LENGTH) f.opaqueTooLong = true;
        break;
      case 0x6c: case 0x50: case 0x4c: case 0x6b: case 0x73: case 0x74: case 0x63: case 0x66:
      case 0x76: case 0x68: case 0x75: case 0x49:
        break;
      default:
        f.error = E_INVALID_FLAG;
        return f;
    }
  }
  if (hasError) f.error = errstr;
  return f;
}

/** The line for the backend: every token but the `q` flags. */
function forwardLine(t: Tokens, flagsStart: number): Buffer {
  const buf = t.buf;
  let drop = 0;
  for (let i = flagsStart; i < t.real; i++) if (buf[t.starts[i]!] === 0x71) drop++;
  if (drop === 0 && t.rest < 0) return buf.subarray(t.starts[0]!, t.ends[t.real - 1]!);
  const parts: Buffer[] = [];
  for (let i = 0; i < t.real; i++) {
    if (i >= flagsStart && buf[t.starts[i]!] === 0x71) continue;
    if (parts.length > 0) parts.push(SPACE);
    parts.push(t.slice(i));
  }
  return Buffer.concat(parts);
}
const SPACE = Buffer.from(' ');

function metaRequest(cmd: Cmd, t: Tokens, f: MetaFlags, flagsStart: number): Request {
  const req = new Request(cmd);
  req.keys.push(t.slice(1));
  req.hashKey = f.decodedKey ?? req.keys[0]!;
  req.noreply = f.quiet;
  req.line = forwardLine(t, flagsStart);
  return req;
}

const MD = Buffer.from('md ');
const BASE64_FLAG = Buffer.from(' b');

export function processMeta(t: Tokens, limits: CommandLimits): LineOutcome {
  const n = t.count;
  switch (t.buf[t.starts[0]! + 1]) {
    case 0x67: // mg
      return metaGet(t, n);
    case 0x73: // ms
      return metaSet(t, n, limits);
    case 0x64: // md
      return metaDeleteOrArithmetic(t, n, Cmd.MetaDelete);
    case 0x61: // ma
      return metaDeleteOrArithmetic(t, n, Cmd.MetaArithmetic);
    case 0x6e: // mn
      return { reply: R.MN };
    case 0x65: // me
      return metaDebug(t, n);
    default:
      return ERROR;
  }
}

function metaGet(t: Tokens, n: number): LineOutcome {
  if (n < 3) return ERROR;
  if (t.length(1) > KEY_MAX_LENGTH) return { reply: R.BAD_FORMAT };
  if (n > MFLAG_MAX_OPT_LENGTH) return { reply: R.OPTIONS_TOO_LONG_MG };
  const f = preparse(t, 2, R.BAD_FORMAT);
  if (f.error) return { reply: f.error };
  if (f.opaqueTooLong) return { reply: E_OPAQUE };
  return { request: metaRequest(Cmd.MetaGet, t, f, 2) };
}

function metaSet(t: Tokens, n: number, limits: CommandLimits): LineOutcome {
  if (n < 3) return ERROR;
  if (t.length(1) > KEY_MAX_LENGTH || n === 3) return { reply: R.BAD_FORMAT };
  if (n > MFLAG_MAX_OPT_LENGTH) return { reply: R.OPTIONS_TOO_LONG };
  const vlen = parseInt32(t.buf, t.starts[2]!, t.ends[2]!);
  if (vlen === undefined || vlen < 0 || vlen > 0x7fffffff - 2) return { reply: R.BAD_FORMAT };
  const f = preparse(t, 3, R.BAD_FORMAT);
  // memcached's order: flag errors, then the mode, then the opaque length, then the size.
  let error = f.error;
  if (!error && f.mode !== 0 && !'EAPRS'.includes(String.fromCharCode(f.mode))) error = E_MS_MODE;
  if (!error && f.opaqueTooLong) error = E_OPAQUE;
  if (error) return { reply: error, swallow: vlen + 2 };
  if (vlen > limits.maxItemSize) {
    // memcached unlinks the old item of a refused ms, whatever the mode; `q` does not hide the error.
    const req = metaRequest(Cmd.MetaSet, t, f, 3);
    req.tooLarge = true;
    req.noreply = false;
    req.line = Buffer.concat(f.decodedKey ? [MD, req.keys[0]!, BASE64_FLAG] : [MD, req.keys[0]!]);
    return { request: req, swallow: vlen + 2 };
  }
  return { pending: metaRequest(Cmd.MetaSet, t, f, 3), dataBytes: vlen + 2 };
}

function metaDeleteOrArithmetic(t: Tokens, n: number, cmd: Cmd): LineOutcome {
  if (n < 3) return ERROR;
  if (t.length(1) > KEY_MAX_LENGTH) return { reply: R.BAD_FORMAT };
  if (n > MFLAG_MAX_OPT_LENGTH) return { reply: R.OPTIONS_TOO_LONG };
  const f = preparse(t, 2, R.BAD_FORMAT);
  if (f.error) return { reply: R.INVALID_OR_DUPLICATE_FLAG };
  if (cmd === Cmd.MetaArithmetic && f.mode !== 0 && !'I+D-'.includes(String.fromCharCode(f.mode))) {
    return { reply: E_MA_MODE };
  }
  if (f.opaqueTooLong) return { reply: E_OPAQUE };
  const req = metaRequest(cmd, t, f, 2);
  if (cmd === Cmd.MetaArithmetic && f.quiet) {
    req.line = t.buf.subarray(t.starts[0]!, t.ends[t.real - 1]!);
    req.untilNoop = true;
  }
  return { request: req };
}

function metaDebug(t: Tokens, n: number): LineOutcome {
  if (n < 3 || t.length(1) > KEY_MAX_LENGTH) return { reply: R.BAD_FORMAT };
  const f: MetaFlags = { error: null, quiet: false, mode: 0, decodedKey: null, opaqueTooLong: false };
  if (n >= 4 && t.equals(2, 'b')) {
    f.decodedKey = decodeBase64Key(t.slice(1));
    if (f.decodedKey === null) return { reply: R.BAD_FORMAT };
  }
  const req = metaRequest(Cmd.MetaDebug, t, f, t.real);
  return { request: req };
}
