import { describe, expect, it } from 'vitest';
import { RouteTable } from '../../../src/routing/route-table.js';

const k = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('RouteTable', () => {
  const table = new RouteTable(
    [
      { prefix: 'user:', pool: 1 },
      { prefix: 'user:vip:', pool: 2 },
      { prefix: 'u', pool: 3 },
      { prefix: 'session/', pool: 4 },
      { prefix: 'ключ', pool: 5 },
      { prefix: Buffer.from([0xff, 0x00]), pool: 6 },
    ],
    0,
  );

  it('takes the longest matching prefix', () => {
    expect(table.lookup(k('user:1'))).toBe(1);
    expect(table.lookup(k('user:vip:1'))).toBe(2);
    expect(table.lookup(k('user:vip:'))).toBe(2);
    expect(table.lookup(k('user:vip'))).toBe(1);
    expect(table.lookup(k('us'))).toBe(3);
    expect(table.lookup(k('u'))).toBe(3);
    expect(table.lookup(k('session/abc'))).toBe(4);
    expect(table.lookup(Buffer.from('ключ:1', 'utf8'))).toBe(5);
    expect(table.lookup(Buffer.from([0xff, 0x00, 0x01]))).toBe(6);
  });

  it('falls back to the default pool', () => {
    expect(table.lookup(k('session'))).toBe(0);
    expect(table.lookup(k('x'))).toBe(0);
    expect(table.lookup(Buffer.alloc(0))).toBe(0);
    expect(table.lookup(Buffer.from([0xff]))).toBe(0);
    expect(table.lookup(Buffer.from('клю', 'utf8'))).toBe(0);
    expect(table.size).toBe(6);
  });

  it('routeOf names the route that takes a key (its index), -1 for the default pool', () => {
    expect(table.routeOf(k('user:1'))).toBe(0);
    expect(table.routeOf(k('user:vip:1'))).toBe(1);
    expect(table.routeOf(k('us'))).toBe(2);
    expect(table.routeOf(Buffer.from([0xff, 0x00, 0x01]))).toBe(5);
    expect(table.routeOf(k('x'))).toBe(-1);
    expect(table.routeOf(Buffer.alloc(0))).toBe(-1);
    expect(new RouteTable([{ prefix: 'a', pool: 1 }, { prefix: '', pool: 2 }], 0).routeOf(k('x'))).toBe(1);
  });

  it('never treats a key as an object property', () => {
    for (const key of ['__proto__', 'constructor', 'hasOwnProperty', 'toString', '0', 'length']) {
      expect(table.lookup(k(key))).toBe(0);
    }
    const proto = new RouteTable([{ prefix: '__proto__', pool: 7 }, { prefix: 'constructor', pool: 8 }], 0);
    expect(proto.lookup(k('__proto__:x'))).toBe(7);
    expect(proto.lookup(k('constructor'))).toBe(8);
    expect(proto.lookup(k('toString'))).toBe(0);
    expect(({} as Record<string, unknown>)['pool']).toBeUndefined();
  });

  it('an empty prefix matches every key', () => {
    const all = new RouteTable([{ prefix: '', pool: 9 }, { prefix: 'a', pool: 1 }], 0);
    expect(all.lookup(k('a1'))).toBe(1);
    expect(all.lookup(k('b'))).toBe(9);
    expect(all.lookup(Buffer.alloc(0))).toBe(9);
  });

  it('refuses a prefix listed twice', () => {
    expect(() => new RouteTable([{ prefix: 'a:', pool: 1 }, { prefix: Buffer.from('a:'), pool: 2 }], 0)).toThrow(/twice/);
  });
});
