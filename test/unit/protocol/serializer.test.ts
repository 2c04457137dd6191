import { describe, expect, it } from 'vitest';
import { RequestParser, Writer, isRetrieval, writeKeyed, writeRetrieval, writeFlushAll, type Request } from '../../../src/protocol/index.js';
import { LIMITS } from './parse-helpers.js';

function parse(input: string): Request[] {
  const reqs: Request[] = [];
  const p = new RequestParser({ onRequest: (r) => reqs.push(r), onReply: () => {}, onClose: () => {}, onQuit: () => {}, wantsMore: () => true }, LIMITS);
  p.feed(Buffer.from(input, 'latin1'));
  return reqs;
}

function backendBytes(input: string): string {
  const w = new Writer();
  for (const r of parse(input)) {
    if (isRetrieval(r.cmd)) writeRetrieval(w, r, null);
    else if (r.keys.length) writeKeyed(w, r);
    else writeFlushAll(w, r);
  }
  return Buffer.concat(w.take()).toString('latin1');
}

describe('what memshift sends to a backend', () => {
  it('strips noreply so the backend always answers', () => {
    expect(backendBytes('set k 1 2 3 noreply\r\nabc\r\ndelete k noreply\r\nincr k 5 noreply\r\ntouch k 9 noreply\r\n')).toBe(
      'set k 1 2 3\r\nabc\r\ndelete k\r\nincr k 5\r\ntouch k 9\r\n',
    );
  });
  it('writes numbers as memcached read them', () => {
    expect(backendBytes('set k 4294967297 +5 1\r\nx\r\ncas k 0 0 1 +00012\r\ny\r\ndelete k 0\r\n')).toBe('set k 1 5 1\r\nx\r\ncas k 0 0 1 12\r\ny\r\ndelete k\r\n');
  });
  it('turns a refused oversized set into a delete of the old value', () => {
    expect(backendBytes(`set k 0 0 2000000\r\n${'x'.repeat(2_000_000)}\r\n`)).toBe('delete k\r\n');
  });
  it('strips meta q and keeps every other flag', () => {
    expect(backendBytes('mg k v q k O1\r\nms k 2 q T5\r\nhi\r\n')).toBe('mg k v k O1\r\nms k 2 T5\r\nhi\r\n');
  });
  it('retrieval commands keep the key order and the gat exptime', () => {
    expect(backendBytes('get a b a\r\ngats 10 x y\r\n')).toBe('get a b a\r\ngats 10 x y\r\n');
    const [r] = parse('get a b c d\r\n');
    const w = new Writer();
    writeRetrieval(w, r!, [3, 1]);
    expect(Buffer.concat(w.take()).toString()).toBe('get d b\r\n');
  });
  it('flush_all with and without a delay', () => {
    expect(backendBytes('flush_all\r\nflush_all 30 noreply\r\n')).toBe('flush_all\r\nflush_all 30\r\n');
  });
  it('keeps large values by reference, unchanged', () => {
    const v = 'y'.repeat(100_000);
    const w = new Writer();
    for (const r of parse(`set big 0 0 ${v.length}\r\n${v}\r\n`)) writeKeyed(w, r);
    expect(Buffer.concat(w.take()).toString()).toBe(`set big 0 0 ${v.length}\r\n${v}\r\n`);
  });
});
