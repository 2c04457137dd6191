/**
 * A parsed client command. Keys and values are `subarray` views of the bytes the
 * client sent (copied only when a value spans socket reads), never strings.
 */

export const Cmd = {
  Get: 0,
  Gets: 1,
  Gat: 2,
  Gats: 3,
  Set: 4,
  Add: 5,
  Replace: 6,
  Append: 7,
  Prepend: 8,
  Cas: 9,
  Delete: 10,
  Incr: 11,
  Decr: 12,
  Touch: 13,
  MetaGet: 14,
  MetaSet: 15,
  MetaDelete: 16,
  MetaArithmetic: 17,
  MetaNoop: 18,
  MetaDebug: 19,
  Version: 20,
  Verbosity: 21,
  FlushAll: 22,
  Stats: 23,
  Quit: 24,
} as const;
export type Cmd = (typeof Cmd)[keyof typeof Cmd];

/** memcached's command names, indexed by Cmd, for stats and metrics. */
export const CMD_NAMES: readonly string[] = [
  'get', 'gets', 'gat', 'gats', 'set', 'add', 'replace', 'append', 'prepend', 'cas', 'delete',
  'incr', 'decr', 'touch', 'mg', 'ms', 'md', 'ma', 'mn', 'me', 'version', 'verbosity', 'flush_all',
  'stats', 'quit',
];

export class Request {
  readonly cmd: Cmd;
  /** Every key, in the client's order (get family); one key for the others; empty for keyless commands. */
  keys: Buffer[] = [];
  /** The bytes that are hashed for routing: the key, base64-decoded for meta `b`. */
  hashKey: Buffer | null = null;
  /** The client asked for no reply (`noreply`, or meta `q` for the replies it hides). */
  noreply = false;
  /** Storage: flags (u32, already wrapped as memcached wraps it). */
  flags = 0;
  /** Storage/touch/gat/flush_all delay: exptime (i32). */
  exptime = 0;
  /** Storage: the value without its trailing \r\n. Meta set: the value too. */
  value: Buffer | null = null;
  /** cas: the compare token, as canonical decimal digits; incr/decr: the delta. */
  number: Buffer | null = null;
  /** Meta commands: the line to send to the backend (command, key and flags, `q` removed), without \r\n. */
  line: Buffer | null = null;
  /** Storage over max_item_size: memcached replies SERVER_ERROR and (for set) deletes the old value. */
  tooLarge = false;
  /**
   * Quiet meta arithmetic: memcached's `q` hides a reply memshift cannot tell apart after the fact,
   * so the command goes to the backend with its `q` and an `mn`, and the reply runs up to MN.
   */
  untilNoop = false;
  /** Whether flush_all carried a delay argument. */
  hasArg = false;
  /** stats: the sub-command, '' for plain stats. */
  sub = '';

  constructor(cmd: Cmd) {
    this.cmd = cmd;
  }
}
