/**
 * fast-check arbitraries for memcached client byte streams, shared by the codec fuzz tests
 * (test/unit/protocol/parser-fuzz.test.ts) and the differential fuzz against a real memcached
 * (test/integration/protocol-fuzz.test.ts).
 *
 * A stream is built from valid text and meta commands (get, gets, gat, gats, set, add, replace,
 * append, prepend, cas, incr, decr, delete, touch, mg, ms, md, ma, mn, verbosity, flush_all,
 * version, stats, quit) with odd but well-formed choices mixed in (numbers memcached reads
 * strangely, keys of 249 to 1000 bytes, declared lengths that do not match the data or are huge,
 * lines longer than 2048 bytes), and then mutated byte by byte (bytes inserted, replaced or
 * deleted, a `\r` dropped, the stream truncated).
 *
 * Streams are latin1 templates in which keys are placeholders, so that every stream can get
 * its own key prefix when it is played: `{k}` is the prefix, `{K:n}` a key of exactly n bytes
 * that starts with the prefix, `{B:x}` the base64 of the prefix followed by x (a meta `b` key).
 * `renderStream` substitutes them. A mutation may break a placeholder; what is left is then a
 * literal key, which is fine.
 */
import fc from 'fast-check';

const { constantFrom, oneof, nat, integer, tuple, record, array, subarray } = fc;

// ---------------------------------------------------------------- keys and numbers

/** A short key; three per stream, so commands in one stream meet each other's keys. */
const shortKey = constantFrom('a', 'b', 'c').map((s) => `{k}${s}`);
/** Keys around memcached's 250-byte limit, and far over it. */
const longKey = constantFrom(249, 250, 251, 252, 300, 1000).map((n) => `{K:${n}}`);
const key = oneof({ weight: 14, arbitrary: shortKey }, { weight: 1, arbitrary: longKey });
const metaKey = oneof({ weight: 12, arbitrary: key }, { weight: 2, arbitrary: constantFrom('a', 'b').map((s) => `{B:${s}}`) });

/**
 * Numbers memcached parses in surprising ways (strtol with a sign, 32-bit wrap, overflow), minus
 * any that could become a small positive expiry time: a 1-second TTL would make the differential
 * test race the servers' clocks.
 */
const oddNumber = constantFrom('-1', '-0', 'abc', '1a', '0x10', '4294967296', '18446744073709551615', '18446744073709551616', '99999999999999999999');
const withOdd = (common: string[]): fc.Arbitrary<string> => oneof({ weight: 8, arbitrary: constantFrom(...common) }, { weight: 1, arbitrary: oddNumber });
const flags = withOdd(['0', '5', '4294967295']);
/** 0, long, already expired (-1, 2^31 wraps negative) or a relative time over 30 days read as a past absolute time. */
const exptime = oneof({ weight: 8, arbitrary: constantFrom('0', '1000', '-1', '3000000') }, { weight: 1, arbitrary: constantFrom('-0', 'abc', '1a', '2147483648', '99999999999999999999', '+1000') });
/** CAS uniques that no stored item can have on either server (their counters differ). */
const casUnique = withOdd(['0', '99999999999', '18446744073709551615']);
const delta = withOdd(['1', '5', '0', '18446744073709551615']);
const noreply = oneof({ weight: 3, arbitrary: constantFrom('') }, { weight: 1, arbitrary: constantFrom(' noreply') });

/** Value bytes: printable, CR, LF, NUL, high bytes, and the words a reply parser looks for. */
const valueUnit = constantFrom('a', 'b', 'z', '0', '9', ' ', '\r', '\n', '\0', '\x80', '\xff', 'END', 'VALUE ', 'MN');
const value = fc.string({ unit: valueUnit, maxLength: 12 });

/** Declared lengths that do not fit memcached's limits (or wrap: 4294967297 reads as 1). */
const hugeLength = constantFrom('1048576', '1048577', '2000000', '2147483645', '2147483647', '2147483648', '4294967297', '-1', 'abc');
/** The declared length for `data`: right most of the time, off by a little, or huge. */
const declaredLength = (data: string): fc.Arbitrary<string> =>
  oneof(
    { weight: 12, arbitrary: constantFrom(String(data.length)) },
    { weight: 2, arbitrary: integer({ min: -2, max: 2 }).map((d) => String(Math.max(0, data.length + d))) },
    { weight: 1, arbitrary: hugeLength },
  );

const CRLF = '\r\n';
const join = (...parts: string[]): string => parts.filter((p) => p !== '').join(' ');

// ---------------------------------------------------------------- text commands

const retrieval = oneof(
  tuple(constantFrom('get', 'gets'), array(key, { minLength: 1, maxLength: 4 })).map(([c, ks]) => join(c, ...ks) + CRLF),
  tuple(constantFrom('gat', 'gats'), exptime, array(key, { minLength: 1, maxLength: 3 })).map(([c, e, ks]) => join(c, e, ...ks) + CRLF),
);

const storage = tuple(constantFrom('set', 'add', 'replace', 'append', 'prepend', 'cas'), key, flags, exptime, value, casUnique, noreply)
  .chain(([cmd, k, f, e, data, cas, nr]) =>
    declaredLength(data).map((len) => join(cmd, k, f, e, len, cmd === 'cas' ? cas : '') + nr + CRLF + data + CRLF),
  );

const keyed = oneof(
  tuple(constantFrom('incr', 'decr'), key, delta, noreply).map(([c, k, d, nr]) => join(c, k, d) + nr + CRLF),
  tuple(key, constantFrom('', ' 0', ' 10'), noreply).map(([k, hold, nr]) => `delete ${k}${hold}${nr}${CRLF}`),
  tuple(key, exptime, noreply).map(([k, e, nr]) => join('touch', k, e) + nr + CRLF),
);

/** Commands without a key. Never a positive flush_all delay: a delayed flush would hit later streams at a clock tick. */
const keyless = oneof(
  constantFrom('version\r\n', 'mn\r\n', 'flush_all\r\n', 'flush_all 0\r\n', 'flush_all -1\r\n', 'flush_all noreply\r\n', 'flush_all abc\r\n'),
  constantFrom('verbosity 0\r\n', 'verbosity 1\r\n', 'verbosity 1 noreply\r\n', 'verbosity x\r\n', 'verbosity\r\n'),
  constantFrom('stats\r\n', 'stats nosuch\r\n', 'stats reset\r\n'),
);

/** Lines memcached does not understand, including empty ones. */
const junk = constantFrom('foo bar\r\n', '\r\n', '\n', 'x\r\n', '   \r\n', 'SET {k}a 0 0 1\r\n', 'foo noreply\r\n', 'get\r\n', 'set {k}a 0 0\r\n');

// ---------------------------------------------------------------- meta commands

const META_FLAGS = {
  mg: ['v', 'f', 's', 'k', 'c', 't', 'h', 'l', 'O123', 'q', 'N30', 'T1000', 'R10', 'u'],
  ms: ['T0', 'T1000', 'F5', 'C0', 'q', 'I', 'MS', 'ME', 'MA', 'MP', 'MR', 'O9', 'k', 'c', 'b'],
  md: ['q', 'I', 'T30', 'C0', 'O1', 'k', 'b'],
  ma: ['N0', 'N1000', 'J10', 'D5', 'MI', 'M+', 'MD', 'M-', 'q', 'v', 't', 'c', 'O7', 'k', 'T0'],
};
/** Flags that are wrong: unknown, duplicated, malformed, an opaque over 32 bytes, a bad mode. */
const badFlag = constantFrom('zz', 'v', 'q', 'Tabc', 'Cabc', 'M', 'MX', 'E5', `O${'1'.repeat(40)}`, 'b', 'N', 'J-1', 'Dabc');
const metaFlags = (pool: string[]): fc.Arbitrary<string[]> =>
  tuple(subarray(pool), oneof({ weight: 6, arbitrary: constantFrom<string[]>([]) }, { weight: 1, arbitrary: array(badFlag, { minLength: 1, maxLength: 2 }) })).map(
    ([good, bad]) => [...good, ...bad],
  );

const meta = oneof(
  tuple(metaKey, metaFlags(META_FLAGS.mg)).map(([k, fl]) => join('mg', k, ...fl) + CRLF),
  tuple(metaKey, metaFlags(META_FLAGS.ms), value).chain(([k, fl, data]) =>
    declaredLength(data).map((len) => join('ms', k, len, ...fl) + CRLF + data + CRLF),
  ),
  tuple(metaKey, metaFlags(META_FLAGS.md)).map(([k, fl]) => join('md', k, ...fl) + CRLF),
  tuple(metaKey, metaFlags(META_FLAGS.ma)).map(([k, fl]) => join('ma', k, ...fl) + CRLF),
  constantFrom('mn\r\n', 'mg\r\n', 'ms {k}a\r\n', 'mz {k}a\r\n'),
);

// ---------------------------------------------------------------- long lines

/** Lines around and over memcached's 2048 bytes without a newline. */
const longLine = oneof(
  integer({ min: 2040, max: 5000 }).map((n) => `${'z'.repeat(n)}\r\n`),
  integer({ min: 2040, max: 5000 }).map((n) => 'z'.repeat(n)),
  integer({ min: 2000, max: 4000 }).map((n) => `set {k}a 0 0 1${' '.repeat(n)}\r\nx\r\n`),
  integer({ min: 300, max: 900 }).map((n) => `get${' {k}a {k}b'.repeat(n)}\r\n`),
);

// ---------------------------------------------------------------- streams and mutations

export interface CommandOptions {
  /** Include `quit` (it ends the stream). */
  quit?: boolean;
  /** Include lines longer than 2048 bytes. */
  longLines?: boolean;
}

export function command(opts: CommandOptions = {}): fc.Arbitrary<string> {
  const choices: fc.WeightedArbitrary<string>[] = [
    { weight: 5, arbitrary: retrieval },
    { weight: 6, arbitrary: storage },
    { weight: 4, arbitrary: keyed },
    { weight: 2, arbitrary: keyless },
    { weight: 6, arbitrary: meta },
    { weight: 1, arbitrary: junk },
  ];
  if (opts.longLines ?? true) choices.push({ weight: 1, arbitrary: longLine });
  if (opts.quit ?? false) choices.push({ weight: 1, arbitrary: constantFrom('quit\r\n') });
  return oneof(...choices);
}

export type Mutation =
  | { kind: 'insert'; at: number; bytes: string }
  | { kind: 'replace'; at: number; byte: string }
  | { kind: 'delete'; at: number; length: number }
  | { kind: 'dropCR'; nth: number }
  | { kind: 'truncate'; at: number };

/** Bytes a mutation inserts: separators, line ends, NUL, digits, letters of flags, high bytes. */
const mutationByte = constantFrom(' ', '\r', '\n', '\0', '0', '1', '9', '-', 'a', 'k', 'q', 'v', 'T', '\x80', '\xff', '\t');

export const mutation: fc.Arbitrary<Mutation> = oneof(
  record({ kind: constantFrom('insert' as const), at: nat(), bytes: fc.string({ unit: mutationByte, minLength: 1, maxLength: 4 }) }),
  record({ kind: constantFrom('replace' as const), at: nat(), byte: mutationByte }),
  record({ kind: constantFrom('delete' as const), at: nat(), length: integer({ min: 1, max: 8 }) }),
  record({ kind: constantFrom('dropCR' as const), nth: nat() }),
  record({ kind: constantFrom('truncate' as const), at: nat() }),
);

/** Applies the mutations in order; positions are taken modulo the current length. */
export function mutate(template: string, mutations: readonly Mutation[]): string {
  let s = template;
  for (const m of mutations) {
    const at = (n: number): number => n % (s.length + 1);
    if (m.kind === 'insert') s = s.slice(0, at(m.at)) + m.bytes + s.slice(at(m.at));
    else if (m.kind === 'replace' && s.length > 0) s = s.slice(0, at(m.at) % s.length) + m.byte + s.slice((at(m.at) % s.length) + 1);
    else if (m.kind === 'delete') s = s.slice(0, at(m.at)) + s.slice(at(m.at) + m.length);
    else if (m.kind === 'truncate') s = s.slice(0, at(m.at));
    else if (m.kind === 'dropCR') {
      const crs = [...s.matchAll(/\r\n/g)].map((x) => x.index);
      if (crs.length > 0) {
        const i = crs[m.nth % crs.length]!;
        s = s.slice(0, i) + s.slice(i + 1);
      }
    }
  }
  return s;
}

export interface Stream {
  /** The commands as generated, before mutation. */
  commands: string[];
  mutations: Mutation[];
  /** The mutated template (placeholders not yet substituted). */
  template: string;
}

export interface StreamOptions extends CommandOptions {
  maxCommands?: number;
  maxMutations?: number;
}

/** Valid commands, then (in about half the streams) up to `maxMutations` byte mutations. */
export function stream(opts: StreamOptions = {}): fc.Arbitrary<Stream> {
  const mutations = oneof(constantFrom<Mutation[]>([]), array(mutation, { minLength: 1, maxLength: opts.maxMutations ?? 3 }));
  return tuple(array(command(opts), { minLength: 1, maxLength: opts.maxCommands ?? 10 }), mutations).map(([commands, ms]) => ({
    commands,
    mutations: ms,
    template: mutate(commands.join(''), ms),
  }));
}

/** Substitutes the key placeholders with `prefix` (see the header). */
export function renderStream(template: string, prefix: string): Buffer {
  const text = template.replace(/\{K:(\d+)\}|\{B:([a-z])\}|\{k\}/g, (_m, n: string | undefined, b: string | undefined) => {
    if (n !== undefined) return prefix.padEnd(Number(n), 'x');
    if (b !== undefined) return Buffer.from(prefix + b, 'latin1').toString('base64');
    return prefix;
  });
  return Buffer.from(text, 'latin1');
}

/** Cut points for splitting `length` bytes into chunks: a few random ones, or every byte. */
export const splitPlan = oneof(
  { weight: 8, arbitrary: array(nat(), { maxLength: 24 }) },
  { weight: 1, arbitrary: constantFrom<number[] | 'bytes'>('bytes') },
);

/** `buf` cut at the plan's points (modulo its length), in order. */
export function split(buf: Buffer, plan: number[] | 'bytes'): Buffer[] {
  if (plan === 'bytes') return [...buf].map((b) => Buffer.from([b]));
  const cuts = [...new Set(plan.map((p) => p % (buf.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const c of [...cuts, buf.length]) {
    out.push(buf.subarray(from, c));
    from = c;
  }
  return out;
}
