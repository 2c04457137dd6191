import { describe, expect, it } from 'vitest';
import { MAX_RELATIVE_TTL, storeTtl, ttlMatches } from '../../../src/copy/index.js';

const NOW = 1_800_000_000;

describe('storeTtl', () => {
  it('no expiry (-1) is T0, never T-1 (memcached reads that as already expired)', () => {
    expect(storeTtl(-1, NOW)).toBe(0);
    expect(storeTtl(-1, NOW, -1)).toBe(0);
  });

  it('up to 30 days is the seconds left', () => {
    expect(storeTtl(1, NOW)).toBe(1);
    expect(storeTtl(100, NOW)).toBe(100);
    expect(storeTtl(MAX_RELATIVE_TTL, NOW)).toBe(2_592_000);
  });

  it('beyond 30 days is an absolute unix time', () => {
    expect(storeTtl(MAX_RELATIVE_TTL + 1, NOW)).toBe(NOW + MAX_RELATIVE_TTL + 1);
    expect(storeTtl(3_000_000, NOW + 0.7)).toBe(NOW + 3_000_000);
  });

  it('prefers the exact dump exp when it agrees with the seconds left', () => {
    expect(storeTtl(3_000_000, NOW, NOW + 3_000_001)).toBe(NOW + 3_000_001);
    expect(storeTtl(3_000_000, NOW, NOW + 2_999_998)).toBe(NOW + 2_999_998);
  });

  it('ignores a dump exp that no longer matches (the item was touched or re-set since the dump)', () => {
    expect(storeTtl(3_000_000, NOW, NOW + 100)).toBe(NOW + 3_000_000);
    expect(storeTtl(3_000_000, NOW, -1)).toBe(NOW + 3_000_000);
    expect(storeTtl(3_000_000, NOW, 50)).toBe(NOW + 3_000_000);
  });

  it('an item with no time left is not copied', () => {
    expect(storeTtl(0, NOW)).toBeNull();
    expect(storeTtl(-2, NOW)).toBeNull();
    expect(storeTtl(Number.NaN, NOW)).toBeNull();
  });
});

describe('ttlMatches', () => {
  it('compares within a tolerance, and no-expiry only with no-expiry', () => {
    expect(ttlMatches(-1, -1, 2)).toBe(true);
    expect(ttlMatches(-1, 100, 2)).toBe(false);
    expect(ttlMatches(100, -1, 2)).toBe(false);
    expect(ttlMatches(100, 98, 2)).toBe(true);
    expect(ttlMatches(100, 103, 2)).toBe(false);
    expect(ttlMatches(3_000_000, 2_999_999, 2)).toBe(true);
  });
});
