import { describe, expect, it } from 'vitest';
import { itemState, sameItem, showKey } from '../../../src/copy/index.js';

const item = (value: string, flags = 0, ttl = -1, cas = 1) => ({ present: true, value: Buffer.from(value), flags, ttl, cas });
const absent = { present: false, value: null, flags: 0, ttl: -1, cas: 0 };

describe('itemState', () => {
  it('reads VA and EN replies', () => {
    expect(itemState({ status: 'VA', flags: ['f5', 't10', 'c7'], value: Buffer.from('v') })).toEqual(item('v', 5, 10, 7));
    expect(itemState({ status: 'EN', flags: [], value: null }).present).toBe(false);
    expect(() => itemState({ status: 'HD', flags: [], value: null })).toThrow();
  });
});

describe('sameItem', () => {
  it('compares value, flags and TTL within the tolerance, never CAS', () => {
    expect(sameItem(item('v', 1, 100, 1), item('v', 1, 99, 9), 2)).toBe(true);
    expect(sameItem(item('v'), item('w'), 2)).toBe(false);
    expect(sameItem(item('v', 1), item('v', 2), 2)).toBe(false);
    expect(sameItem(item('v', 0, 100), item('v', 0, 90), 2)).toBe(false);
    expect(sameItem(item('v', 0, -1), item('v', 0, 90), 2)).toBe(false);
    expect(sameItem(absent, absent, 2)).toBe(true);
    expect(sameItem(absent, item('v'), 2)).toBe(false);
    expect(sameItem(item('v'), absent, 2)).toBe(false);
  });
});

describe('showKey', () => {
  it('prints text keys and base64 for the rest', () => {
    expect(showKey(Buffer.from('user:1'))).toBe('user:1');
    expect(showKey(Buffer.from([0, 1]))).toBe('b64:AAE=');
  });
});
