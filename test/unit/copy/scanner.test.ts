import { describe, expect, it } from 'vitest';
import { decodeDumpKey, parseMetadumpLine } from '../../../src/copy/index.js';

describe('decodeDumpKey', () => {
  it('leaves unreserved characters alone', () => {
    expect(decodeDumpKey('user:42')).toEqual(Buffer.from('user:42'));
    expect(decodeDumpKey('A-z_0.9~')).toEqual(Buffer.from('A-z_0.9~'));
  });

  it('decodes %XX to bytes, upper and lower case hex', () => {
    expect(decodeDumpKey('k%01%FF%fe')).toEqual(Buffer.from([0x6b, 0x01, 0xff, 0xfe]));
    expect(decodeDumpKey('%C3%A9t%FF')).toEqual(Buffer.from([0xc3, 0xa9, 0x74, 0xff])); // UTF-8 é, then a lone 0xff
  });

  it('decodes exactly once: a key that itself holds %20 is dumped as %2520', () => {
    expect(decodeDumpKey('a%2520b')).toEqual(Buffer.from('a%20b'));
    expect(decodeDumpKey('a%20b')).toEqual(Buffer.from('a b'));
    expect(decodeDumpKey('%25%25')).toEqual(Buffer.from('%%'));
  });

  it('rejects malformed escapes and non-latin1 text', () => {
    expect(decodeDumpKey('a%2')).toBeNull();
    expect(decodeDumpKey('a%zz')).toBeNull();
    expect(decodeDumpKey('%')).toBeNull();
    expect(decodeDumpKey('\u20ac')).toBeNull();
  });

  it('round-trips every byte value as memcached encodes it', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const encoded = [...all].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
    expect(decodeDumpKey(encoded)).toEqual(all);
  });
});

describe('parseMetadumpLine', () => {
  it('parses a memcached 1.6.18 line', () => {
    expect(parseMetadumpLine('key=k%01%FF%FE exp=1795825789 la=1795825689 cas=2 fetch=no cls=1 size=69')).toEqual({
      key: Buffer.from([0x6b, 0x01, 0xff, 0xfe]),
      exp: 1795825789,
      la: 1795825689,
      cas: 2,
      fetched: false,
      cls: 1,
      size: 69,
    });
  });

  it('reads exp=-1 as no expiry and fetch=yes', () => {
    const e = parseMetadumpLine('key=a%2520b exp=-1 la=1 cas=18446744 fetch=yes cls=12 size=1000');
    expect(e?.key.toString()).toBe('a%20b');
    expect(e?.exp).toBe(-1);
    expect(e?.cas).toBe(18446744);
    expect(e?.fetched).toBe(true);
  });

  it('ignores unknown fields and field order', () => {
    const e = parseMetadumpLine('key=x cas=5 flags=3 exp=-1 size=1');
    expect(e).toMatchObject({ exp: -1, cas: 5, size: 1, la: 0, cls: 0 });
  });

  it('rejects lines that are not item lines', () => {
    expect(parseMetadumpLine('END')).toBeNull();
    expect(parseMetadumpLine('BUSY currently processing crawler request')).toBeNull();
    expect(parseMetadumpLine('key= exp=-1 cas=1')).toBeNull(); // empty key
    expect(parseMetadumpLine('key=a exp=-1')).toBeNull(); // no cas
    expect(parseMetadumpLine('key=a cas=1')).toBeNull(); // no exp
    expect(parseMetadumpLine('key=a%2 exp=-1 cas=1')).toBeNull(); // bad escape
    expect(parseMetadumpLine('key=a exp=soon cas=1')).toBeNull();
  });
});
