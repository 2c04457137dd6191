/**
 * Reading the replies memshift's own requests get (reply-values.ts), from byte fixtures as
 * ReplyParser frames them: meta replies, `stats` and `get`/`gets` items.
 */
import { describe, expect, it } from 'vitest';
import { flagNumber, flagValue, parseMetaReply, parseStats, parseValues } from '../../../src/protocol/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('parseMetaReply', () => {
  it('reads a status line with its flags', () => {
    expect(parseMetaReply(b('HD c12 t-1\r\n'))).toEqual({ status: 'HD', flags: ['c12', 't-1'], value: null });
    expect(parseMetaReply(b('EN\r\n'))).toEqual({ status: 'EN', flags: [], value: null });
  });

  it('reads a VA value, whatever bytes it holds, as a view of the reply', () => {
    const reply = b('VA 7 f5 c3\r\nab\r\nc\x00d\r\n');
    const r = parseMetaReply(reply);
    expect(r).toEqual({ status: 'VA', flags: ['f5', 'c3'], value: b('ab\r\nc\x00d') });
    expect(r.value!.buffer).toBe(reply.buffer);
    expect(flagNumber(r, 'f')).toBe(5);
    expect(flagValue(r, 'c')).toBe('3');
    expect(flagNumber(r, 's')).toBeNaN();
  });
});

describe('parseStats', () => {
  it('maps STAT lines up to END, values with spaces kept whole', () => {
    const s = parseStats(b('STAT pid 42\r\nSTAT version 1.6.18\r\nSTAT rusage_user 0.1 s\r\nSTAT empty\r\nEND\r\n'));
    expect([...s]).toEqual([
      ['pid', '42'],
      ['version', '1.6.18'],
      ['rusage_user', '0.1 s'],
      ['empty', ''],
    ]);
    expect(parseStats(b('END\r\n')).size).toBe(0);
  });
});

describe('parseValues', () => {
  it('reads get and gets items by key, values as views, binary bytes and CRLF inside intact', () => {
    const reply = b('VALUE a 5 4\r\nx\r\ny\r\nVALUE bb 0 0 18446744073709551615\r\n\r\nEND\r\n');
    const items = parseValues(reply);
    expect([...items.keys()]).toEqual(['a', 'bb']);
    expect(items.get('a')).toEqual({ flags: 5, cas: null, value: b('x\r\ny') });
    expect(items.get('bb')).toEqual({ flags: 0, cas: '18446744073709551615', value: b('') });
  });

  it('is empty for END alone or an error line, and stops at a malformed block', () => {
    expect(parseValues(b('END\r\n')).size).toBe(0);
    expect(parseValues(b('SERVER_ERROR out of memory\r\n')).size).toBe(0);
    expect([...parseValues(b('VALUE a 0 1\r\nx\r\nVALUE b 0 zz\r\nEND\r\n')).keys()]).toEqual(['a']);
    expect(parseValues(b('VALUE a 0 10\r\nshort\r\n')).size).toBe(0);
  });
});
