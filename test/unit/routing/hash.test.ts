import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { KEY_HASHES, TWEMPROXY_HASH_NAMES, hashKey, isTwemproxyHashName, keyHashOf } from '../../../src/routing/hash.js';
import { hashFnv1a64 } from '../../../src/routing/hashkit/fnv.js';
import { hashMd5, md5Words } from '../../../src/routing/hashkit/md5.js';
import { loadHashVectors } from './fixtures.js';

const vectors = loadHashVectors();

describe('key hashes match twemproxy 0.5.0 C (test/fixtures/ring/hash-vectors.json)', () => {
  it('covers all 12 hashes', () => {
    expect(Object.keys(vectors.hashes).sort()).toEqual([...TWEMPROXY_HASH_NAMES].sort());
    expect(Object.keys(KEY_HASHES).sort()).toEqual([...TWEMPROXY_HASH_NAMES].sort());
  });

  it.each(TWEMPROXY_HASH_NAMES)('%s', (name) => {
    const expected = vectors.hashes[name];
    const actual = vectors.keys.map((hex) => hashKey(name, Buffer.from(hex, 'hex')));
    expect(actual).toEqual(expected);
  });
});

describe('hash ranges', () => {
  it.each(TWEMPROXY_HASH_NAMES)('%s over key[start, end) equals the hash of the copy, an unsigned 32-bit integer', (name) => {
    const hash = keyHashOf(name);
    for (let len = 0; len < 80; len++) {
      const buf = randomBytes(len + 9);
      const h = hash(buf, 4, 4 + len);
      expect(h).toBe(hash(Buffer.from(buf.subarray(4, 4 + len)), 0, len));
      expect(Number.isInteger(h) && h >= 0 && h <= 0xffffffff).toBe(true);
    }
  });
});

describe('md5', () => {
  it('equals node:crypto for every length across the 55/56/64-byte padding edges', () => {
    const words = new Uint32Array(4);
    for (let len = 0; len <= 300; len++) {
      const buf = randomBytes(len + 3);
      const digest = createHash('md5').update(buf.subarray(3)).digest();
      md5Words(buf, 3, 3 + len, words);
      expect(Buffer.from(words.buffer).equals(digest)).toBe(true);
      expect(hashMd5(buf, 3, 3 + len)).toBe(digest.readUInt32LE(0));
    }
  });
});

describe('fnv1a_64', () => {
  it('is textbook FNV-1a 64, low 32 bits, for bytes below 0x80', () => {
    // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; of "foobar" 0x85944171f73967e8.
    expect(hashFnv1a64(Buffer.from('a'), 0, 1)).toBe(0x8601ec8c);
    expect(hashFnv1a64(Buffer.from('foobar'), 0, 6)).toBe(0xf73967e8);
    expect(hashFnv1a64(Buffer.alloc(0), 0, 0)).toBe(0x84222325);
  });

  it('xors bytes >= 0x80 in as sign-extended C chars, as nutcracker on x86-64 does', () => {
    const reference = (key: Buffer, signed: boolean): number => {
      let h = 0xcbf29ce484222325n;
      for (const b of key) {
        const v = signed && b >= 0x80 ? BigInt.asUintN(64, BigInt(b - 256)) : BigInt(b);
        h = BigInt.asUintN(64, (h ^ v) * 0x100000001b3n);
      }
      return Number(h & 0xffffffffn);
    };
    for (let i = 0; i < 200; i++) {
      const key = randomBytes(1 + (i % 40));
      expect(hashFnv1a64(key, 0, key.length)).toBe(reference(key, true));
    }
    const high = Buffer.from([0xff]);
    expect(hashFnv1a64(high, 0, 1)).not.toBe(reference(high, false));
  });
});

describe('the table', () => {
  it('knows twemproxy names only', () => {
    expect(isTwemproxyHashName('fnv1a_64')).toBe(true);
    expect(isTwemproxyHashName('sha1')).toBe(false);
    expect(isTwemproxyHashName('__proto__')).toBe(false);
    expect(() => keyHashOf('sha1' as never)).toThrow(/unknown key hash/);
    expect(() => keyHashOf('constructor' as never)).toThrow(/unknown key hash/);
  });

  it('hashKey defaults to the whole key', () => {
    const key = Buffer.from('user:1');
    expect(hashKey('md5', key)).toBe(createHash('md5').update(key).digest().readUInt32LE(0));
    expect(hashKey('md5', key, 5)).toBe(hashKey('md5', Buffer.from('1')));
  });
});
