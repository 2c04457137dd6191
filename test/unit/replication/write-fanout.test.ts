/**
 * FanoutWriteSlot (a write to every replica group): when the reply is sent, with and without the
 * shadow parts of a migrating group (the reply waits until every shadow landed, or failed and was
 * dropped there), and which parts count for the write policy.
 */
import { describe, expect, it } from 'vitest';
import { RequestParser, ReplyKind, type ParserSink, type Request } from '../../../src/protocol/index.js';
import { Backend, Op } from '../../../src/backend/index.js';
import { FanoutWriteSlot, type ShadowParts } from '../../../src/replication/write-fanout.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import type { Slot } from '../../../src/proxy/reply-slots.js';
import { LIMITS } from '../protocol/parse-helpers.js';

function request(text: string): Request {
  let req: Request | undefined;
  const sink: ParserSink = { onRequest: (r) => (req = r), onReply: () => undefined, onClose: () => undefined, onQuit: () => undefined, wantsMore: () => true };
  new RequestParser(sink, LIMITS).feed(Buffer.from(text));
  return req!;
}

function fanout(groups: number, policy: 'all' | 'majority' | 'one', shadows?: ShadowParts, uncounted = 0, waitFor = 0) {
  const done: Slot[] = [];
  const missed: number[] = [];
  const slot = new FanoutWriteSlot({ slotDone: (s) => done.push(s) }, request('set k 0 0 1\r\nv\r\n'), new ProxyStats(), groups, policy, (g) => missed.push(g), uncounted, shadows, waitFor);
  const reply = (part: number, text: string): void => slot.onOpReply(new Op(slot, ReplyKind.Line, part), Buffer.from(text));
  const error = (part: number): void => slot.onOpError(new Op(slot, ReplyKind.Line, part), Buffer.from('SERVER_ERROR backend unavailable\r\n'));
  const sent = (): string | null => (done.length === 0 ? null : String(done[0]!.reply));
  return { slot, reply, error, sent, missed, done };
}

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('FanoutWriteSlot', () => {
  it('logs a failed part for the server it was sent to, not the group\'s owner of the key now', () => {
    const targets = [new Backend('127.0.0.1:1', []), new Backend('127.0.0.1:2', [])];
    const logged: [number, string | undefined][] = [];
    const slot = new FanoutWriteSlot({ slotDone: () => undefined }, request('set k 0 0 1\r\nv\r\n'), new ProxyStats(), 2, 'one', (g, _req, b) => logged.push([g, b?.address]), 0, undefined, 0, targets);
    slot.onOpReply(new Op(slot, ReplyKind.Line, 0), Buffer.from('STORED\r\n'));
    slot.onOpError(new Op(slot, ReplyKind.Line, 1), Buffer.from('SERVER_ERROR backend unavailable\r\n'));
    slot.onOpReply(new Op(slot, ReplyKind.Line, 0), Buffer.from('SERVER_ERROR out of memory\r\n'));
    expect(logged).toEqual([[1, '127.0.0.1:2'], [0, '127.0.0.1:1']]);
  });

  it('answers with write: all once every group replied, the worst reply', () => {
    const f = fanout(2, 'all');
    f.reply(0, 'STORED\r\n');
    expect(f.sent()).toBeNull();
    f.error(1);
    expect(f.sent()).toBe('SERVER_ERROR backend unavailable\r\n');
    expect(f.missed).toEqual([1]);
  });

  it('answers with write: one at the first success', () => {
    const f = fanout(2, 'one');
    f.reply(1, 'STORED\r\n');
    expect(f.sent()).toBe('STORED\r\n');
  });

  it('waits for a shadow part to land before it answers, and never counts it', () => {
    const dropped: number[] = [];
    const f = fanout(2, 'all', { count: 1, failed: async (p) => void dropped.push(p) });
    f.reply(0, 'STORED\r\n');
    f.reply(1, 'STORED\r\n');
    expect(f.sent()).toBeNull();
    f.reply(2, 'STORED\r\n');
    expect(f.sent()).toBe('STORED\r\n');
    expect(f.done).toHaveLength(1);
    expect(dropped).toEqual([]);
    expect(f.missed).toEqual([]);
  });

  it('answers after a failed shadow only once the key was dropped there; the shadow is not a missed write', async () => {
    let release!: () => void;
    const dropped: number[] = [];
    const f = fanout(2, 'all', {
      count: 2,
      failed: (p) => {
        dropped.push(p);
        return new Promise<void>((r) => (release = r));
      },
    });
    f.reply(2, 'STORED\r\n');
    f.error(3);
    f.reply(0, 'STORED\r\n');
    f.reply(1, 'STORED\r\n');
    expect(dropped).toEqual([3]);
    await flush();
    expect(f.sent()).toBeNull();
    release();
    await flush();
    expect(f.sent()).toBe('STORED\r\n');
    expect(f.missed).toEqual([]);
  });

  it('leaves a filling group (uncounted) out of the policy', () => {
    const f = fanout(2, 'all', undefined, 0b10);
    f.reply(0, 'STORED\r\n');
    expect(f.sent()).toBe('STORED\r\n');
    f.reply(1, 'NOT_FOUND\r\n');
    expect(f.done).toHaveLength(1);
  });

  it('with write: one waits for the group reads go to first as well (or its failure)', () => {
    const f = fanout(2, 'one', undefined, 0, 0b01);
    f.reply(1, 'STORED\r\n');
    expect(f.sent()).toBeNull();
    f.reply(0, 'STORED\r\n');
    expect(f.sent()).toBe('STORED\r\n');
    const g = fanout(2, 'one', undefined, 0, 0b01);
    g.reply(1, 'STORED\r\n');
    g.error(0);
    expect(g.sent()).toBe('STORED\r\n');
    expect(g.missed).toEqual([0]);
    const h = fanout(3, 'one', undefined, 0, 0b011);
    h.error(0);
    expect(h.sent()).toBeNull();
    h.reply(2, 'STORED\r\n');
    expect(h.sent()).toBeNull();
    h.reply(1, 'NOT_FOUND\r\n');
    expect(h.sent()).toBe('NOT_FOUND\r\n');
  });

  it('with write: one the reply is what the group reads go to first answered, not another group (a touch that group 1 lacks)', () => {
    const f = fanout(2, 'one', undefined, 0, 0b01);
    f.reply(1, 'NOT_FOUND\r\n');
    expect(f.sent()).toBeNull();
    f.reply(0, 'TOUCHED\r\n');
    expect(f.sent()).toBe('TOUCHED\r\n');
  });

  describe('write: one, every counted group failed, an uncounted (recovering) group applied it', () => {
    // Group 1's owner of the key is recovering (uncounted); group 0's died (the reported bug: its refusal was the answer).
    it('answers the uncounted group\'s success, whichever replies first', () => {
      const f = fanout(2, 'one', undefined, 0b10, 0);
      f.error(0);
      expect(f.sent()).toBeNull(); // the recovering group has yet to reply
      f.reply(1, 'STORED\r\n');
      expect(f.sent()).toBe('STORED\r\n');
      expect(f.missed).toEqual([0]); // the dead group's part goes to its failed-write log
      const g = fanout(2, 'one', undefined, 0b10, 0);
      g.reply(1, 'DELETED\r\n');
      expect(g.sent()).toBeNull(); // a counted group may still answer
      g.error(0);
      expect(g.sent()).toBe('DELETED\r\n');
      expect(g.done).toHaveLength(1);
    });

    it('answers the counted group\'s error when the uncounted one only says NOT_FOUND (it may lack the key) or failed too', () => {
      const f = fanout(2, 'one', undefined, 0b10, 0);
      f.error(0);
      f.reply(1, 'NOT_FOUND\r\n');
      expect(f.sent()).toBe('SERVER_ERROR backend unavailable\r\n');
      const g = fanout(2, 'one', undefined, 0b10, 0);
      g.reply(1, 'NOT_FOUND\r\n');
      g.error(0);
      expect(g.sent()).toBe('SERVER_ERROR backend unavailable\r\n');
      const h = fanout(2, 'one', undefined, 0b10, 0);
      h.error(1);
      expect(h.sent()).toBeNull();
      h.error(0);
      expect(h.sent()).toBe('SERVER_ERROR backend unavailable\r\n');
      expect(h.missed).toEqual([1, 0]);
    });

    it('a counted group\'s success still wins, and its NOT_FOUND is no failure (no fallback)', () => {
      const f = fanout(3, 'one', undefined, 0b100, 0);
      f.reply(2, 'STORED\r\n');
      f.error(0);
      expect(f.sent()).toBeNull();
      f.reply(1, 'NOT_FOUND\r\n');
      expect(f.sent()).toBe('NOT_FOUND\r\n');
    });

    it('waits for every counted group first, the one reads go to first included', () => {
      const f = fanout(3, 'one', undefined, 0b100, 0b001);
      f.reply(2, 'STORED\r\n');
      f.error(1);
      expect(f.sent()).toBeNull();
      f.error(0);
      expect(f.sent()).toBe('STORED\r\n');
    });

    it('keeps write: all and majority as they were: an uncounted group\'s success answers nothing', () => {
      const f = fanout(2, 'all', undefined, 0b10);
      f.reply(1, 'STORED\r\n');
      f.error(0);
      expect(f.sent()).toBe('SERVER_ERROR backend unavailable\r\n');
      const g = fanout(3, 'majority', undefined, 0b100);
      g.reply(2, 'STORED\r\n');
      g.reply(0, 'STORED\r\n');
      expect(g.sent()).toBeNull();
      g.error(1);
      expect(g.sent()).toBe('SERVER_ERROR backend unavailable\r\n');
    });
  });
});
