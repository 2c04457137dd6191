import { describe, expect, it } from 'vitest';
import { ReplyParser, ReplyKind, countValueBlocks, type ReplySink } from '../../../src/protocol/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Frames `input` for the given kinds (one per expected reply); returns the replies and problems. */
function frame(kinds: number[], chunks: Buffer[]): string[] {
  const out: string[] = [];
  let next = 0;
  const sink: ReplySink = {
    nextReplyKind: () => (next < kinds.length ? kinds[next]! : -1),
    onReply: (r) => {
      next++;
      out.push(r.toString('latin1'));
    },
    onUnexpected: (reason) => out.push(`unexpected: ${reason}`),
  };
  const p = new ReplyParser(sink);
  for (const c of chunks) p.feed(c);
  return out;
}

function everySplit(kinds: number[], input: string): string[] {
  const buf = b(input);
  const whole = frame(kinds, [buf]);
  expect(frame(kinds, [...buf].map((x) => Buffer.from([x])))).toEqual(whole);
  for (let i = 1; i < buf.length; i++) expect(frame(kinds, [buf.subarray(0, i), buf.subarray(i)])).toEqual(whole);
  return whole;
}

describe('ReplyParser frames one reply per request at every split point', () => {
  it('single lines', () => {
    expect(everySplit([ReplyKind.Line, ReplyKind.Line, ReplyKind.Line], 'STORED\r\nNOT_FOUND\r\n42\r\n')).toEqual(['STORED\r\n', 'NOT_FOUND\r\n', '42\r\n']);
  });
  it('retrieval replies with binary values that contain CRLF and "END"', () => {
    const r1 = 'VALUE a 0 8\r\nx\r\nEND\r\n\r\nVALUE b 5 0 99\r\n\r\nEND\r\n';
    expect(everySplit([ReplyKind.Retrieval, ReplyKind.Retrieval, ReplyKind.Line], `${r1}END\r\nDELETED\r\n`)).toEqual([r1, 'END\r\n', 'DELETED\r\n']);
  });
  it('a retrieval that fails with SERVER_ERROR ends at that line', () => {
    expect(everySplit([ReplyKind.Retrieval, ReplyKind.Line], 'SERVER_ERROR out of memory\r\nSTORED\r\n')).toEqual(['SERVER_ERROR out of memory\r\n', 'STORED\r\n']);
  });
  it('meta replies: VA with data, HD, EN', () => {
    expect(everySplit([ReplyKind.Meta, ReplyKind.Meta, ReplyKind.Meta], 'VA 4 f0\r\nHD\r\n\r\nEN\r\nHD c5\r\n')).toEqual(['VA 4 f0\r\nHD\r\n\r\n', 'EN\r\n', 'HD c5\r\n']);
  });
  it('stats until END', () => {
    expect(everySplit([ReplyKind.Stats], 'STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n')).toEqual(['STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n']);
  });
  it('bytes with nothing in flight are out of step', () => {
    expect(frame([ReplyKind.Line], [b('STORED\r\nSTORED\r\n')])).toEqual(['STORED\r\n', 'unexpected: data from the backend with no request in flight']);
  });
  it('a VALUE line with a bad length is out of step', () => {
    expect(frame([ReplyKind.Retrieval], [b('VALUE a 0 zz\r\n')])).toEqual(['unexpected: bad VALUE line']);
  });
  it('counts VALUE blocks', () => {
    expect(countValueBlocks(b('VALUE a 0 1\r\n1\r\nVALUE b 0 3\r\nVAL\r\nEND\r\n'))).toBe(2);
    expect(countValueBlocks(b('END\r\n'))).toBe(0);
  });
});

describe('ReplyParser memory bound', () => {
  it('refuses a reply larger than max_reply_bytes, whether it arrives or is only declared', () => {
    const out: string[] = [];
    const sink: ReplySink = { nextReplyKind: () => ReplyKind.Retrieval, onReply: (r) => out.push(r.toString()), onUnexpected: (r) => out.push(`unexpected: ${r}`) };
    const p = new ReplyParser(sink, 1000);
    p.feed(b('VALUE a 0 5000\r\nxx'));
    expect(out).toEqual(['unexpected: reply larger than max_reply_bytes (1000)']);
    const out2: string[] = [];
    const p2 = new ReplyParser({ ...sink, onReply: (r) => out2.push(r.toString()), onUnexpected: (r) => out2.push(r) }, 1000);
    p2.feed(b('VALUE a 0 500\r\n'));
    p2.feed(b(`${'y'.repeat(500)}\r\n`));
    p2.feed(b('END\r\n'));
    expect(out2).toEqual([`VALUE a 0 500\r\n${'y'.repeat(500)}\r\nEND\r\n`]);
  });
});
