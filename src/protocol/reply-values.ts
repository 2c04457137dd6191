/**
 * What memshift reads out of the replies to its own requests (the copy engine's, the migration
 * record's and lease's, health and `stats` probes), once ReplyParser has framed each into one
 * buffer: a meta reply's status, returned flags and value; `stats` as a map; the items of a
 * `get`/`gets` reply. The one place these shapes are parsed (no regexes over reply text elsewhere).
 */
import { isPrefix, tokenNumber } from './reply-parser.js';

/** One meta reply: the status word, the returned flags (`c12`, `f5`, `t-1`…) and the value of a `VA`. */
export interface MetaReply {
  readonly status: string;
  readonly flags: readonly string[];
  readonly value: Buffer | null;
}

/** A framed meta reply (`HD c12`, `EN`, `VA 3 f0`\r\n data\r\n…). The value is a view of `reply`. */
export function parseMetaReply(reply: Buffer): MetaReply {
  let nl = reply.indexOf(10);
  if (nl < 0) nl = reply.length;
  const end = nl > 0 && reply[nl - 1] === 13 ? nl - 1 : nl;
  const words = reply.toString('latin1', 0, end).split(' ');
  const status = words[0]!;
  if (status === 'VA') {
    const len = Number(words[1]);
    return { status, flags: words.slice(2), value: reply.subarray(nl + 1, nl + 1 + len) };
  }
  return { status, flags: words.slice(1), value: null };
}

/** The value of a returned flag (`flagValue(r, 'c')` → '12'), or undefined. */
export function flagValue(reply: MetaReply, flag: string): string | undefined {
  for (const f of reply.flags) if (f.startsWith(flag)) return f.slice(flag.length);
  return undefined;
}

/** A returned numeric flag, or NaN when it is missing or not a number. */
export function flagNumber(reply: MetaReply, flag: string): number {
  const v = flagValue(reply, flag);
  return v === undefined || !/^-?\d+$/.test(v) ? Number.NaN : Number(v);
}

/** A framed `stats` reply: `STAT name value` lines (a value may hold spaces) up to END. */
export function parseStats(reply: Buffer): Map<string, string> {
  const stats = new Map<string, string>();
  for (const line of reply.toString('latin1').split('\r\n')) {
    if (!line.startsWith('STAT ')) continue;
    const sp = line.indexOf(' ', 5);
    stats.set(sp < 0 ? line.slice(5) : line.slice(5, sp), sp < 0 ? '' : line.slice(sp + 1));
  }
  return stats;
}

/** One item of a retrieval reply. */
export interface ValueItem {
  readonly flags: number;
  /** The CAS unique of a `gets` reply (as text: it may exceed 2^53), or null. */
  readonly cas: string | null;
  /** A view of the reply's bytes. */
  readonly value: Buffer;
}

/**
 * A framed `get`/`gets` reply (`VALUE key flags bytes [cas]`\r\n data\r\n … END), by key (latin1,
 * as the key bytes were sent). Empty for END alone or an error line; a malformed block ends it.
 */
export function parseValues(reply: Buffer): Map<string, ValueItem> {
  const items = new Map<string, ValueItem>();
  let pos = 0;
  while (isPrefix(reply, pos, 'VALUE ')) {
    const nl = reply.indexOf(10, pos);
    if (nl < 0) break;
    const end = reply[nl - 1] === 13 ? nl - 1 : nl;
    const words = reply.toString('latin1', pos, end).split(' ');
    const bytes = tokenNumber(reply, pos, end, 3);
    if (words.length < 4 || bytes < 0 || nl + 1 + bytes > reply.length) break;
    items.set(words[1]!, { flags: Number(words[2]), cas: words[4] ?? null, value: reply.subarray(nl + 1, nl + 1 + bytes) });
    pos = nl + 1 + bytes + 2;
  }
  return items;
}
