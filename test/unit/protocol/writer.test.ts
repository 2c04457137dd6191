/** The batching writer (src/protocol/writer.ts): small pieces copied into one block, large values by reference, in order. */
import { describe, expect, it } from 'vitest';
import { BY_REFERENCE, Writer } from '../../../src/protocol/writer.js';

describe('Writer', () => {
  it('copies small pieces into one chunk, in order', () => {
    const w = new Writer();
    const key = Buffer.from('k1');
    w.ascii('get ');
    w.bytes(key);
    w.ascii('\r\n');
    w.int(-12);
    expect(w.size).toBe(11);
    const out = w.take();
    expect(out).toHaveLength(1);
    expect(Buffer.concat(out).toString()).toBe('get k1\r\n-12');
    key[0] = 0x78; // the copy does not follow the source
    expect(out[0]!.toString()).toBe('get k1\r\n-12');
    expect(w.size).toBe(0);
    expect(w.take()).toEqual([]);
  });

  it(`keeps a value of ${BY_REFERENCE} bytes or more by reference, between the small pieces around it`, () => {
    const w = new Writer();
    const value = Buffer.alloc(BY_REFERENCE, 0x61);
    const small = Buffer.alloc(BY_REFERENCE - 1, 0x62);
    w.ascii('VALUE k 0 4096\r\n');
    w.bytes(value);
    w.ascii('\r\nVALUE j 0 4095\r\n');
    w.bytes(small);
    w.ascii('\r\nEND\r\n');
    const out = w.take();
    expect(out).toHaveLength(3);
    expect(out[1]).toBe(value); // the caller's buffer itself, not a copy
    expect(out[2]!.buffer).not.toBe(small.buffer);
    expect(Buffer.concat(out).toString()).toBe(`VALUE k 0 4096\r\n${'a'.repeat(4096)}\r\nVALUE j 0 4095\r\n${'b'.repeat(4095)}\r\nEND\r\n`);
    expect(w.size).toBe(0);
  });

  it('starts a new block when one is full, and the chunks handed out stay intact', () => {
    const w = new Writer();
    const piece = 'x'.repeat(1000);
    for (let i = 0; i < 70; i++) w.ascii(piece);
    const first = w.take();
    expect(Buffer.concat(first).toString()).toBe(piece.repeat(70));
    w.ascii('y'.repeat(70_000)); // longer than a block: a block of its own
    const second = w.take();
    expect(Buffer.concat(first).toString()).toBe(piece.repeat(70));
    expect(Buffer.concat(second).toString()).toBe('y'.repeat(70_000));
  });
});
