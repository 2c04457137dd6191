/**
 * The reply-memory accounting (src/proxy/reply-memory.ts): the worst case counted for a request in
 * flight, and the process-wide bound that wakes waiting clients once it is back under.
 */
import { describe, expect, it } from 'vitest';
import { Cmd, Request } from '../../../src/protocol/index.js';
import { DeferredSlot, ReplyMemory, replyBytes, worstReplyBytes } from '../../../src/proxy/reply-memory.js';
import { LocalSlot, type Slot } from '../../../src/proxy/reply-slots.js';
import { DEFAULTS } from '../../../src/config/schema.js';

const limits = { ...DEFAULTS.limits };
const req = (cmd: Cmd, keys: number): Request => {
  const r = new Request(cmd);
  r.keys = Array.from({ length: keys }, (_, i) => Buffer.from(`k${i}`));
  return r;
};

describe('worstReplyBytes', () => {
  it('counts a get at max_item_size and a VALUE line per key; anything without a value at a line', () => {
    expect(worstReplyBytes(req(Cmd.Get, 1), limits)).toBe(limits.maxItemSize + 320 + 5);
    expect(worstReplyBytes(req(Cmd.Gets, 3), limits)).toBe(3 * (limits.maxItemSize + 320) + 5);
    expect(worstReplyBytes(req(Cmd.MetaGet, 1), limits)).toBe(limits.maxItemSize + 1024);
    expect(worstReplyBytes(req(Cmd.Set, 1), limits)).toBe(1024);
    expect(worstReplyBytes(req(Cmd.Stats, 0), limits)).toBe(1024);
  });

  it('32 gets, or 3 multi-gets of 10 keys, fill the default 32 MiB client budget', () => {
    expect(32 * worstReplyBytes(req(Cmd.Get, 1), limits)).toBeGreaterThanOrEqual(limits.maxQueuedBytesPerClient);
    expect(31 * worstReplyBytes(req(Cmd.Get, 1), limits)).toBeLessThan(limits.maxQueuedBytesPerClient);
    expect(4 * worstReplyBytes(req(Cmd.Get, 10), limits)).toBeGreaterThanOrEqual(limits.maxQueuedBytesPerClient);
    expect(3 * worstReplyBytes(req(Cmd.Get, 10), limits)).toBeLessThan(limits.maxQueuedBytesPerClient);
  });

  it('replyBytes sums a reply in parts', () => {
    expect(replyBytes(null)).toBe(0);
    expect(replyBytes([Buffer.alloc(3), Buffer.alloc(4)])).toBe(7);
  });
});

describe('ReplyMemory', () => {
  it('wakes the waiting clients once it is under the bound again, until it is full again', async () => {
    const m = new ReplyMemory(100);
    m.add(120);
    expect(m.full).toBe(true);
    const woken: string[] = [];
    m.wait({
      memoryFreed: () => {
        woken.push('a');
        m.add(50);
      },
    });
    m.wait({ memoryFreed: () => woken.push('b') });
    m.add(-10); // still over: nobody
    await Promise.resolve();
    expect(woken).toEqual([]);
    m.add(-60); // 50: a, which takes 50 more (full again): not b
    await Promise.resolve();
    expect(woken).toEqual(['a']);
    expect(m.waits).toBe(2);
    m.add(-50);
    await Promise.resolve();
    expect(woken).toEqual(['a', 'b']);
  });
});

describe('DeferredSlot', () => {
  it('holds its place until started, then takes the reply of the slot it was dispatched to', () => {
    const done: Slot[] = [];
    const owner = { slotDone: (s: Slot) => done.push(s) };
    const d = new DeferredSlot(owner, req(Cmd.Get, 1), 42);
    expect(d.done).toBe(false);
    d.start((_r, o) => new LocalSlot(o, Buffer.from('END\r\n')));
    expect(d.done).toBe(true);
    expect(d.reply?.toString()).toBe('END\r\n');
    expect(done).toEqual([d]);
  });
});
