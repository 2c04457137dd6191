import { describe, expect, it } from 'vitest';
import { HashTag } from '../../../src/routing/hash-tag.js';
import { createRing } from '../../../src/routing/index.js';
import { decodeKey, loadFixture } from './fixtures.js';

const hashed = (tag: string, key: string): string => new HashTag(tag).hashed(Buffer.from(key, 'latin1')).toString('latin1');

describe('hash_tag (nc_server.c server_pool_idx)', () => {
  it.each([
    ['{user1000}.following', 'user1000'],
    ['a{b}c', 'b'],
    ['{a}{b}', 'a'],
    ['{{a}}', '{a'],
    ['x{\x80\x81}y', '\x80\x81'],
    // Whole key: no opening byte, no closing byte after it, or an empty tag.
    ['plain', 'plain'],
    ['{', '{'],
    ['}', '}'],
    ['}{', '}{'],
    ['{a', '{a'],
    ['a}', 'a}'],
    ['{}', '{}'],
    ['{}x', '{}x'],
    ['a{}b{c}', 'a{}b{c}'],
    ['}{x}', 'x'],
    ['{{}', '{'],
    ['{}}', '{}}'],
  ])('"{}" on %j hashes %j', (key, part) => {
    expect(hashed('{}', key)).toBe(part);
  });

  it('allows two equal bytes', () => {
    expect(hashed('$$', 'a$tag$b')).toBe('tag');
    expect(hashed('$$', 'a$$b')).toBe('a$$b');
  });

  it('needs exactly two bytes', () => {
    expect(() => new HashTag('{')).toThrow(/two bytes/);
    expect(() => new HashTag('{}}')).toThrow(/two bytes/);
    expect(() => new HashTag('«»')).toThrow(/two bytes/);
  });

  it('keys with the same tag share a server', () => {
    const servers = Array.from({ length: 9 }, (_, i) => ({ host: `10.0.0.${i}`, port: 11211, weight: 1, address: '', raw: '' }));
    for (const hash of ['fnv1a_64', 'md5'] as const) {
      const ring = createRing({ servers, hash, distribution: 'ketama', hashTag: '{}' });
      for (let t = 0; t < 50; t++) {
        const owner = ring.ownerOf(Buffer.from(`{tag${t}}`));
        for (const k of [`a{tag${t}}`, `{tag${t}}.x`, `zz{tag${t}}{other}`]) expect(ring.ownerOf(Buffer.from(k))).toBe(owner);
        expect(ring.ownerOf(Buffer.from(`tag${t}`))).toBe(owner);
      }
    }
  });

  it('the live fixture exercises the crafted keys', () => {
    const keys = loadFixture('ketama-fnv1a_64-hashtag-5').keys.map(([k]) => decodeKey(k).toString('latin1'));
    expect(keys).toEqual(expect.arrayContaining(['{}', 'a{}b{c}', '}{x}', '{{a}}', '{']));
  });
});
