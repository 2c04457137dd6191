/**
 * Property tests (fast-check) for the two codecs in src/protocol:
 *  - RequestParser, on random and mutated command streams (test/support/protocol-arbitraries.ts)
 *    fed whole and cut into random chunks;
 *  - ReplyParser, on random reply streams, valid and mutated, fed whole and in chunks.
 *
 * Runs are bounded and seeded. A failure prints fast-check's seed and path and the shrunk input;
 * rerun it with FUZZ_SEED=<seed> (and FUZZ_RUNS=<n> for more or fewer runs).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_LINE_WITHOUT_NEWLINE, ReplyKind, ReplyParser, RequestParser, type ParserLimits, type ParserSink, type ReplySink } from '../../../src/protocol/index.js';
import { renderStream, split, splitPlan, stream, mutation, mutate } from '../../support/protocol-arbitraries.js';
import { describe as describeRequest } from './parse-helpers.js';

const SEED = Number(process.env.FUZZ_SEED ?? 20_240_613);
const runs = (n: number): number => Number(process.env.FUZZ_RUNS ?? n);
const options = (numRuns: number): fc.Parameters<unknown> => ({ seed: SEED, numRuns: runs(numRuns) });
/** Each property takes about a second alone; a loaded machine running every unit file at once is far slower. */
const TIMEOUT_MS = 60_000;

// ---------------------------------------------------------------- RequestParser

/** Small item and get-line limits next to the defaults, so the limits are reached often. */
const limitsArb: fc.Arbitrary<ParserLimits> = fc.record({
  maxItemSize: fc.constantFrom(16, 100, 1024, 1024 * 1024),
  maxGetLineBytes: fc.constantFrom(2048, 3000, 8192, 1024 * 1024),
});

interface ParseRun {
  events: string[];
  /** The largest `buffered` seen after a feed. */
  maxBuffered: number;
}

/**
 * Feeds `chunks` to a fresh parser and records every event in order. `holds` are the answers of
 * `wantsMore()` (true: hold the rest of the input), one per question, then "go on" forever; after
 * every feed `resume()` is called until every hold is used up, as the proxy does when it drains.
 */
function parse(chunks: Buffer[], limits: ParserLimits, holds: readonly boolean[] = []): ParseRun {
  const events: string[] = [];
  let asked = 0;
  const sink: ParserSink = {
    onRequest: (r) => events.push(describeRequest(r)),
    onReply: (b) => events.push(`reply ${JSON.stringify(b.toString('latin1'))}`),
    onClose: (reason) => events.push(`close (${reason})`),
    onQuit: () => events.push('quit'),
    wantsMore: () => holds[asked++] !== true,
  };
  const p = new RequestParser(sink, limits);
  let maxBuffered = 0;
  for (const chunk of chunks) {
    p.feed(chunk);
    if (holds.length === 0) maxBuffered = Math.max(maxBuffered, p.buffered);
    for (let i = 0; i <= holds.length; i++) p.resume();
  }
  return { events, maxBuffered };
}

/** The longest run of bytes with no '\n' (a line can never be longer than this). */
function longestLine(buf: Buffer): number {
  let longest = 0;
  let from = 0;
  for (let nl = buf.indexOf(10); ; nl = buf.indexOf(10, from)) {
    const end = nl < 0 ? buf.length : nl;
    longest = Math.max(longest, end - from);
    if (nl < 0) return longest;
    from = nl + 1;
  }
}

const LONG_LINE_CLOSE = /^close \((line too long without a newline|get line over max_get_line)\)$/;

/**
 * Chunked events must equal the one-chunk events. The one exception is memcached's own rule: a
 * line that has more than 2048 bytes buffered without its newline closes the connection, so a
 * cut inside a long line may close where the whole line (newline included) would not. Then the
 * chunked run must be the whole run's events up to that point, followed by that close, and the
 * input must hold a line that long.
 */
function expectSameEvents(chunked: string[], whole: string[], input: Buffer): void {
  if (JSON.stringify(chunked) === JSON.stringify(whole)) return;
  const last = chunked.at(-1) ?? '';
  expect(last, `chunked events differ from one chunk:\n${chunked.join('\n')}\nvs\n${whole.join('\n')}`).toMatch(LONG_LINE_CLOSE);
  expect(chunked.slice(0, -1)).toEqual(whole.slice(0, chunked.length - 1));
  expect(longestLine(input)).toBeGreaterThan(MAX_LINE_WITHOUT_NEWLINE);
}

describe('RequestParser fuzz', () => {
  it('never throws, stays within its limits, and gives the same events in any chunks as in one', () => {
    fc.assert(
      fc.property(stream({ quit: true }), splitPlan, limitsArb, (s, plan, limits) => {
        const input = renderStream(s.template, 'u:');
        const whole = parse([input], limits);
        const chunked = parse(split(input, plan), limits);
        expectSameEvents(chunked.events, whole.events, input);
        // A partial line is closed past 2048 bytes (a get line past max_get_line) and a value is
        // buffered only when it fits max_item_size: nothing else is ever held.
        const isGet = input.includes('get ');
        const lineBound = isGet ? Math.max(limits.maxGetLineBytes, MAX_LINE_WITHOUT_NEWLINE) : MAX_LINE_WITHOUT_NEWLINE;
        for (const run of [whole, chunked]) expect(run.maxBuffered).toBeLessThanOrEqual(Math.max(lineBound, limits.maxItemSize + 2));
        // Every value handed on fits max_item_size.
        for (const e of [...whole.events, ...chunked.events]) {
          const m = /value="((?:[^"\\]|\\.)*)"/.exec(e);
          if (m) expect((JSON.parse(`"${m[1]}"`) as string).length).toBeLessThanOrEqual(limits.maxItemSize);
        }
      }),
      options(1000),
    );
  }, TIMEOUT_MS);

  it('gives the same events when the sink holds the input back (wantsMore false) and resumes', () => {
    fc.assert(
      fc.property(stream({ quit: true }), splitPlan, fc.array(fc.boolean(), { maxLength: 16 }), limitsArb, (s, plan, holds, limits) => {
        const input = renderStream(s.template, 'u:');
        const chunks = split(input, plan);
        expectSameEvents(parse(chunks, limits, holds).events, parse([input], limits).events, input);
      }),
      options(500),
    );
  }, TIMEOUT_MS);

  it('random bytes: never throws and chunking changes nothing but memcached long-line closes', () => {
    const bytes = fc.uint8Array({ maxLength: 3000 }).map((a) => Buffer.from(a));
    fc.assert(
      fc.property(bytes, splitPlan, limitsArb, (input, plan, limits) => {
        expectSameEvents(parse(split(input, plan), limits).events, parse([input], limits).events, input);
      }),
      options(500),
    );
  }, TIMEOUT_MS);
});

// ---------------------------------------------------------------- ReplyParser

interface Reply {
  kind: ReplyKind;
  bytes: string;
}

const CRLF = '\r\n';
const binary = (maxLength: number): fc.Arbitrary<string> => fc.uint8Array({ maxLength }).map((a) => Buffer.from(a).toString('latin1'));
const errorLine = fc.constantFrom('ERROR', 'CLIENT_ERROR bad command line format', 'SERVER_ERROR out of memory storing object');
const line = (kind: ReplyKind, words: string[]): fc.Arbitrary<Reply> =>
  fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...words) }, { weight: 1, arbitrary: errorLine }).map((w) => ({ kind, bytes: w + CRLF }));

const valueBlock = fc
  .tuple(fc.constantFrom('a', 'k1', 'some:key'), fc.constantFrom('0', '5', '4294967295'), binary(40), fc.option(fc.constantFrom('1', '18446744073709551615')))
  .map(([k, f, data, cas]) => `VALUE ${k} ${f} ${data.length}${cas === null ? '' : ` ${cas}`}${CRLF}${data}${CRLF}`);
/** `VA <len> <flags>` and its data. */
const va = fc.tuple(binary(40), fc.subarray(['f5', 'c77', 't-1', 's3', 'kfoo', 'O1', 'W', 'Z'])).map(([data, fl]) => `VA ${[data.length, ...fl].join(' ')}${CRLF}${data}${CRLF}`);
const metaLine = fc.constantFrom('HD', 'HD c5 f0', 'EN', 'NF', 'NS', 'EX', 'HD O12 kfoo', 'CLIENT_ERROR bad command line format').map((l) => l + CRLF);

/** One reply of each kind the backend framer knows, as memcached 1.6 sends them. */
const reply: fc.Arbitrary<Reply> = fc.oneof(
  line(ReplyKind.Line, ['STORED', 'NOT_STORED', 'EXISTS', 'NOT_FOUND', 'DELETED', 'TOUCHED', 'OK', '0', '18446744073709551615', 'VERSION 1.6.18']),
  fc.oneof(
    { weight: 5, arbitrary: fc.array(valueBlock, { maxLength: 4 }).map((bs) => `${bs.join('')}END${CRLF}`) },
    { weight: 1, arbitrary: errorLine.map((l) => l + CRLF) },
  ).map((bytes) => ({ kind: ReplyKind.Retrieval, bytes })),
  fc.oneof(va, metaLine, fc.constant(`MN${CRLF}`)).map((bytes) => ({ kind: ReplyKind.Meta, bytes })),
  fc.array(fc.tuple(fc.constantFrom('pid', 'uptime', 'version', 'curr_items'), fc.constantFrom('1', '1.6.18', '0 0')), { maxLength: 5 })
    .map((ss) => ({ kind: ReplyKind.Stats, bytes: `${ss.map(([n, v]) => `STAT ${n} ${v}${CRLF}`).join('')}END${CRLF}` })),
  fc.array(fc.oneof(va, metaLine), { maxLength: 3 }).map((rs) => ({ kind: ReplyKind.MetaUntilNoop, bytes: `${rs.join('')}MN${CRLF}` })),
);

/** Frames `chunks` as the replies of requests of `kinds`; returns every reply and problem, in order. */
function frame(kinds: readonly ReplyKind[], chunks: Buffer[], maxReplyBytes?: number): { events: string[]; maxBuffered: number } {
  const events: string[] = [];
  let next = 0;
  const sink: ReplySink = {
    nextReplyKind: () => kinds[next] ?? -1,
    onReply: (r) => {
      next++;
      events.push(r.toString('latin1'));
    },
    onUnexpected: (reason) => events.push(`unexpected: ${reason}`),
  };
  const p = new ReplyParser(sink, maxReplyBytes);
  let maxBuffered = 0;
  for (const c of chunks) {
    p.feed(c);
    maxBuffered = Math.max(maxBuffered, p.buffered);
  }
  return { events, maxBuffered };
}

const replies = fc.array(reply, { minLength: 1, maxLength: 12 });

describe('ReplyParser fuzz', () => {
  it('frames a valid reply stream into exactly its replies, in any chunks', () => {
    fc.assert(
      fc.property(replies, splitPlan, (rs, plan) => {
        const kinds = rs.map((r) => r.kind);
        const input = Buffer.from(rs.map((r) => r.bytes).join(''), 'latin1');
        const expected = rs.map((r) => r.bytes);
        expect(frame(kinds, [input]).events).toEqual(expected);
        expect(frame(kinds, split(input, plan)).events).toEqual(expected);
      }),
      options(1000),
    );
  }, TIMEOUT_MS);

  it('mutated reply streams: never throws, and any chunks give the same replies and errors as one', () => {
    fc.assert(
      fc.property(replies, fc.array(mutation, { minLength: 1, maxLength: 4 }), splitPlan, (rs, ms, plan) => {
        const kinds = rs.map((r) => r.kind);
        const input = Buffer.from(mutate(rs.map((r) => r.bytes).join(''), ms), 'latin1');
        expect(frame(kinds, split(input, plan)).events).toEqual(frame(kinds, [input]).events);
      }),
      options(1000),
    );
  }, TIMEOUT_MS);

  it('never buffers more than max_reply_bytes of an unfinished reply', () => {
    fc.assert(
      fc.property(replies, fc.array(mutation, { maxLength: 4 }), splitPlan, fc.integer({ min: 8, max: 300 }), (rs, ms, plan, max) => {
        const kinds = rs.map((r) => r.kind);
        const input = Buffer.from(mutate(rs.map((r) => r.bytes).join(''), ms), 'latin1');
        expect(frame(kinds, split(input, plan), max).maxBuffered).toBeLessThanOrEqual(max);
      }),
      options(500),
    );
  }, TIMEOUT_MS);
});
