/**
 * One text-protocol command line -> a Request or memcached's exact error reply.
 * This mirrors proto_text.c (memcached 1.6.18) process_command_ascii and the
 * process_*_command functions: the same token-count checks, the same order of
 * checks and the same reply strings, so every bad input answers as memcached does.
 */
import { Cmd, Request } from './request.js';
import { isGetAndTouch } from './command-class.js';
import { R } from './replies.js';
import { type Tokens } from './tokenizer.js';
import { parseInt32, parseUint32, parseUint64, isPlainDecimal } from './numbers.js';
import { processMeta } from './meta.js';

export const KEY_MAX_LENGTH = 250;

/** What the framing layer does after a line. */
export interface LineOutcome {
  /** A command ready to route (no data block) */
  request?: Request;
  /** A storage command that waits for `dataBytes` bytes (value + \r\n). */
  pending?: Request;
  dataBytes?: number;
  /** Bytes to discard after the line (memcached's conn_swallow). */
  swallow?: number;
  /** A reply memshift gives itself; null when noreply hides it. */
  reply?: Buffer | null;
  /** Close the connection at once (memcached's conn_closing). */
  close?: boolean;
  /** Close after the replies before it are written (quit). */
  quit?: boolean;
}

export interface CommandLimits {
  maxItemSize: number;
}

const ERROR: LineOutcome = { reply: R.ERROR };
const out = (reply: Buffer, noreply = false): LineOutcome => ({ reply: noreply ? null : reply });

/** memcached's set_noreply_maybe: the last real token is "noreply". */
function noreplyMaybe(t: Tokens): boolean {
  return t.equals(t.count - 2, 'noreply');
}

export function processLine(t: Tokens, limits: CommandLimits): LineOutcome {
  const n = t.count;
  if (n < 2 || t.length(0) < 2) return ERROR;
  const buf = t.buf;
  const c0 = buf[t.starts[0]!]!;
  if (c0 === 0x6d /* m */ && t.length(0) === 2) return processMeta(t, limits);
  switch (c0) {
    case 0x67: // g
      if (n < 3) return ERROR;
      if (t.equals(0, 'get')) return getCommand(t, Cmd.Get);
      if (t.equals(0, 'gets')) return getCommand(t, Cmd.Gets);
      if (t.equals(0, 'gat')) return getCommand(t, Cmd.Gat);
      if (t.equals(0, 'gats')) return getCommand(t, Cmd.Gats);
      return ERROR;
    case 0x73: // s
      if (t.equals(0, 'set')) return n === 6 || n === 7 ? updateCommand(t, Cmd.Set, limits) : ERROR;
      if (t.equals(0, 'stats')) return statsCommand(t);
      if (t.equals(0, 'shutdown')) return { reply: R.SHUTDOWN_DISABLED };
      if (t.equals(0, 'slabs')) {
        const valid = (n === 5 && t.equals(1, 'reassign')) || (n >= 4 && t.equals(1, 'automove'));
        return valid ? { reply: R.NOT_SUPPORTED } : ERROR;
      }
      return ERROR;
    case 0x61: // a
      if (t.equals(0, 'add')) return n === 6 || n === 7 ? updateCommand(t, Cmd.Add, limits) : ERROR;
      if (t.equals(0, 'append')) return n === 6 || n === 7 ? updateCommand(t, Cmd.Append, limits) : ERROR;
      return ERROR;
    case 0x63: // c
      if (t.equals(0, 'cas')) return n === 7 || n === 8 ? updateCommand(t, Cmd.Cas, limits) : ERROR;
      if (t.equals(0, 'cache_memlimit')) return n === 3 || n === 4 ? { reply: R.NOT_SUPPORTED } : ERROR;
      return ERROR;
    case 0x69: // i
      if (t.equals(0, 'incr')) return n === 4 || n === 5 ? arithmeticCommand(t, Cmd.Incr) : ERROR;
      return ERROR;
    case 0x64: // d
      if (t.equals(0, 'delete')) return n >= 3 && n <= 5 ? deleteCommand(t) : ERROR;
      if (t.equals(0, 'decr')) return n === 4 || n === 5 ? arithmeticCommand(t, Cmd.Decr) : ERROR;
      return ERROR;
    case 0x74: // t
      if (t.equals(0, 'touch')) return n === 4 || n === 5 ? touchCommand(t) : ERROR;
      return ERROR;
  }
  if (t.equals(0, 'replace')) return n === 6 || n === 7 ? updateCommand(t, Cmd.Replace, limits) : ERROR;
  if (t.equals(0, 'prepend')) return n === 6 || n === 7 ? updateCommand(t, Cmd.Prepend, limits) : ERROR;
  if (t.equals(0, 'bget')) return n < 3 ? ERROR : getCommand(t, Cmd.Get);
  if (t.equals(0, 'flush_all')) return n >= 2 && n <= 4 ? flushAllCommand(t) : ERROR;
  if (t.equals(0, 'version')) return { request: new Request(Cmd.Version) };
  if (t.equals(0, 'quit')) return { quit: true };
  if (t.equals(0, 'verbosity')) return n === 3 || n === 4 ? verbosityCommand(t) : ERROR;
  if (t.equals(0, 'lru_crawler')) return lruCrawlerForm(t) ? { reply: R.NOT_SUPPORTED } : ERROR;
  if (t.equals(0, 'watch')) return { reply: R.NOT_SUPPORTED };
  if (t.equals(0, 'lru')) return n < 3 ? ERROR : { reply: R.NOT_SUPPORTED };
  // memcached closes the connection on what looks like an HTTP request.
  if (t.startsWith(n - 2, 'HTTP/')) return { close: true };
  return ERROR;
}

/** get/gets/gat/gats/bget: every key, possibly past memcached's 24-token window. */
function getCommand(t: Tokens, cmd: Cmd): LineOutcome {
  const req = new Request(cmd);
  let first = 1;
  if (isGetAndTouch(cmd)) {
    const exptime = parseInt32(t.buf, t.starts[1]!, t.ends[1]!);
    if (exptime === undefined) return { reply: R.INVALID_EXPTIME };
    req.exptime = exptime;
    first = 2;
  }
  const keys = req.keys;
  const buf = t.buf;
  for (let i = first; i < t.real; i++) {
    if (t.ends[i]! - t.starts[i]! > KEY_MAX_LENGTH) return { reply: R.BAD_FORMAT };
    keys.push(buf.subarray(t.starts[i]!, t.ends[i]!));
  }
  // Past 23 tokens memcached tokenizes the rest of the line again; so do we, without a token cap.
  if (t.rest >= 0) {
    let s = t.rest;
    const end = t.lineEnd;
    for (let e = s; e <= end; e++) {
      if (e === end || buf[e] === 0x20) {
        if (e > s) {
          if (e - s > KEY_MAX_LENGTH) return { reply: R.BAD_FORMAT };
          keys.push(buf.subarray(s, e));
        }
        s = e + 1;
      }
    }
  }
  if (keys.length > 0) req.hashKey = keys[0]!;
  return { request: req };
}

/** set/add/replace/append/prepend/cas (process_update_command). */
function updateCommand(t: Tokens, cmd: Cmd, limits: CommandLimits): LineOutcome {
  const noreply = noreplyMaybe(t);
  if (t.length(1) > KEY_MAX_LENGTH) return out(R.BAD_FORMAT, noreply);
  const buf = t.buf;
  const flags = parseUint32(buf, t.starts[2]!, t.ends[2]!);
  const exptime = flags === undefined ? undefined : parseInt32(buf, t.starts[3]!, t.ends[3]!);
  const vlen = exptime === undefined ? undefined : parseInt32(buf, t.starts[4]!, t.ends[4]!);
  if (vlen === undefined) return out(R.BAD_FORMAT, noreply);
  const req = new Request(cmd);
  if (cmd === Cmd.Cas) {
    const cas = canonicalUint64(buf, t.starts[5]!, t.ends[5]!);
    if (cas === undefined) return out(R.BAD_FORMAT, noreply);
    req.number = cas;
  }
  if (vlen < 0 || vlen > 0x7fffffff - 2) return out(R.BAD_FORMAT, noreply);
  req.keys.push(t.slice(1));
  req.hashKey = req.keys[0]!;
  req.noreply = noreply;
  req.flags = flags!;
  req.exptime = exptime!;
  if (vlen > limits.maxItemSize) {
    // memcached swallows the value; only a refused `set` also drops the old value.
    if (cmd !== Cmd.Set) return { reply: noreply ? null : R.TOO_LARGE, swallow: vlen + 2 };
    req.tooLarge = true;
    return { request: req, swallow: vlen + 2 };
  }
  return { pending: req, dataBytes: vlen + 2 };
}

/** The digits memcached would read from a u64 token, for forwarding; undefined when it refuses it. */
function canonicalUint64(buf: Buffer, start: number, end: number): Buffer | undefined {
  if (isPlainDecimal(buf, start, end) && end - start < 20) return buf.subarray(start, end);
  const v = parseUint64(buf, start, end);
  return v === undefined ? undefined : Buffer.from(v.toString(), 'latin1');
}

function arithmeticCommand(t: Tokens, cmd: Cmd): LineOutcome {
  const noreply = noreplyMaybe(t);
  if (t.length(1) > KEY_MAX_LENGTH) return out(R.BAD_FORMAT, noreply);
  const delta = canonicalUint64(t.buf, t.starts[2]!, t.ends[2]!);
  if (delta === undefined) return out(R.INVALID_DELTA, noreply);
  const req = new Request(cmd);
  req.keys.push(t.slice(1));
  req.hashKey = req.keys[0]!;
  req.number = delta;
  req.noreply = noreply;
  return { request: req };
}

function touchCommand(t: Tokens): LineOutcome {
  const noreply = noreplyMaybe(t);
  if (t.length(1) > KEY_MAX_LENGTH) return out(R.BAD_FORMAT, noreply);
  const exptime = parseInt32(t.buf, t.starts[2]!, t.ends[2]!);
  if (exptime === undefined) return out(R.INVALID_EXPTIME, noreply);
  const req = new Request(Cmd.Touch);
  req.keys.push(t.slice(1));
  req.hashKey = req.keys[0]!;
  req.exptime = exptime;
  req.noreply = noreply;
  return { request: req };
}

function deleteCommand(t: Tokens): LineOutcome {
  const n = t.count;
  let noreply = false;
  if (n > 3) {
    const holdIsZero = t.equals(2, '0');
    noreply = noreplyMaybe(t);
    const valid = (n === 4 && (holdIsZero || noreply)) || (n === 5 && holdIsZero && noreply);
    if (!valid) return out(R.BAD_DELETE, noreply);
  }
  if (t.length(1) > KEY_MAX_LENGTH) return out(R.BAD_FORMAT, noreply);
  const req = new Request(Cmd.Delete);
  req.keys.push(t.slice(1));
  req.hashKey = req.keys[0]!;
  req.noreply = noreply;
  return { request: req };
}

function verbosityCommand(t: Tokens): LineOutcome {
  const noreply = noreplyMaybe(t);
  if (parseUint32(t.buf, t.starts[1]!, t.ends[1]!) === undefined) return out(R.BAD_FORMAT, noreply);
  return out(R.OK, noreply);
}

function flushAllCommand(t: Tokens): LineOutcome {
  const noreply = noreplyMaybe(t);
  const req = new Request(Cmd.FlushAll);
  req.noreply = noreply;
  if (t.count !== (noreply ? 3 : 2)) {
    const delay = parseInt32(t.buf, t.starts[1]!, t.ends[1]!);
    if (delay === undefined) return out(R.INVALID_EXPTIME, noreply);
    req.exptime = delay;
    req.hasArg = true;
  }
  return { request: req };
}

/** The lru_crawler forms memcached accepts (anything else is ERROR). */
function lruCrawlerForm(t: Tokens): boolean {
  const n = t.count;
  if (n === 4) return t.equals(1, 'crawl') || t.equals(1, 'metadump') || t.equals(1, 'tocrawl') || t.equals(1, 'sleep');
  return n === 3 && (t.equals(1, 'enable') || t.equals(1, 'disable'));
}

function statsCommand(t: Tokens): LineOutcome {
  const req = new Request(Cmd.Stats);
  if (t.count > 2) {
    const sub = t.slice(1).toString('latin1');
    if (sub === 'detail') {
      // memshift keeps no per-prefix stats: on/off are accepted as memcached accepts them, and the dump is empty.
      if (t.count < 4) return { reply: R.STATS_DETAIL_USAGE };
      if (t.equals(2, 'on') || t.equals(2, 'off')) return { reply: R.OK };
      if (t.equals(2, 'dump')) return { reply: R.END };
      return { reply: R.STATS_DETAIL_USAGE };
    }
    req.sub = sub;
  }
  return { request: req };
}
