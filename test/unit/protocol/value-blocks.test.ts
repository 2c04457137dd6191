import { describe, expect, it } from 'vitest';
import { placeValueBlocks } from '../../../src/protocol/index.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('placeValueBlocks', () => {
  const keys = ['a', 'b', 'c', 'd'].map(b);
  const reply = b('VALUE b 0 1\r\n2\r\nVALUE d 0 3\r\nE\r\n\r\nEND\r\n');
  it('puts each block at the index of its key, skipping misses', () => {
    const blocks: (Buffer | undefined)[] = [];
    expect(placeValueBlocks(reply, keys, [0, 1, 2, 3], blocks)).toBe(2);
    expect(blocks.map((x) => x?.toString())).toEqual([undefined, 'VALUE b 0 1\r\n2\r\n', undefined, 'VALUE d 0 3\r\nE\r\n\r\n']);
  });
  it('lists the asked keys without a block, in order', () => {
    const missing: number[] = [];
    placeValueBlocks(reply, keys, [0, 1, 2, 3], [], missing);
    expect(missing).toEqual([0, 2]);
    const none: number[] = [];
    placeValueBlocks(b('END\r\n'), keys, [3, 1], [], none);
    expect(none).toEqual([3, 1]);
  });
  it('handles duplicate keys (get a a)', () => {
    const blocks: (Buffer | undefined)[] = [];
    expect(placeValueBlocks(b('VALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n'), [b('a'), b('a')], [0, 1], blocks)).toBe(2);
    expect(blocks.length).toBe(2);
  });
});
