/**
 * PrimaryWriteSlot (a read-modify-write in a pool with replica groups): the reply waits for the
 * other groups to follow, unless the policy is `one`, and a follow that gave up (a migration's
 * phase moved on while the command ran) answers in its place.
 */
import { describe, expect, it } from 'vitest';
import { R, RequestParser, ReplyKind, type ParserSink, type Request } from '../../../src/protocol/index.js';
import { Op } from '../../../src/backend/index.js';
import { PrimaryWriteSlot } from '../../../src/replication/primary-write.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import { LocalSlot, type Slot, type SlotOwner } from '../../../src/proxy/reply-slots.js';
import { LIMITS } from '../protocol/parse-helpers.js';

function request(text: string): Request {
  let req: Request | undefined;
  const sink: ParserSink = { onRequest: (r) => (req = r), onReply: () => undefined, onClose: () => undefined, onQuit: () => undefined, wantsMore: () => true };
  new RequestParser(sink, LIMITS).feed(Buffer.from(text));
  return req!;
}

const BUSY = Buffer.from('SERVER_ERROR migration busy, retry\r\n');
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

function primary(text: string, retry?: (failed: number, owner: SlotOwner) => Slot | null) {
  const done: Slot[] = [];
  let settle!: (instead: Buffer | null) => void;
  let follows = 0;
  const follow = (): Promise<Buffer | null> => {
    follows++;
    return new Promise((r) => (settle = r));
  };
  const missed: number[] = [];
  const slot = new PrimaryWriteSlot({ slotDone: (s) => done.push(s) }, request(text), new ProxyStats(), follow, (g) => missed.push(g), retry);
  const reply = (text: string): void => slot.onOpReply(new Op(slot, ReplyKind.Line, 0), Buffer.from(text));
  const sent = (): string | null | undefined => (done.length === 0 ? undefined : done[0]!.reply === null ? null : String(done[0]!.reply));
  const error = (part: number): void => slot.onOpError(new Op(slot, ReplyKind.Line, part), Buffer.from('SERVER_ERROR backend timeout\r\n'));
  return { reply, error, sent, missed, settle: (b: Buffer | null) => settle(b), follows: () => follows };
}

describe('PrimaryWriteSlot', () => {
  it('answers once the other groups followed', async () => {
    const p = primary('incr k 1\r\n');
    p.reply('2\r\n');
    expect(p.sent()).toBeUndefined();
    p.settle(null);
    await flush();
    expect(p.sent()).toBe('2\r\n');
  });

  it('a follow that gave up answers in the reply place; with noreply nothing is sent', async () => {
    const p = primary('incr k 1\r\n');
    p.reply('2\r\n');
    p.settle(BUSY);
    await flush();
    expect(p.sent()).toBe(BUSY.toString());
    const q = primary('add k 0 0 1 noreply\r\nv\r\n');
    q.reply('STORED\r\n');
    q.settle(BUSY);
    await flush();
    expect(q.sent()).toBeNull();
  });

  it('whatever the write policy, an applied result is not answered before the groups followed; a lost source answers outcome unknown', async () => {
    const p = primary('incr k 1\r\n');
    p.reply('2\r\n');
    expect(p.follows()).toBe(1);
    await flush();
    expect(p.sent()).toBeUndefined();
    p.settle(R.OUTCOME_UNKNOWN);
    await flush();
    expect(p.sent()).toBe('SERVER_ERROR backend failed, outcome unknown\r\n');
  });

  it('a command that did not apply (NOT_FOUND) is answered without a follow', () => {
    const p = primary('incr k 1\r\n');
    p.reply('NOT_FOUND\r\n');
    expect(p.sent()).toBe('NOT_FOUND\r\n');
    expect(p.follows()).toBe(0);
  });

  it('no reply from the primary (a timeout): the error is the reply, and the key goes to the failed-write log of that group', () => {
    const p = primary('incr k 1\r\n');
    p.error(1);
    expect(p.sent()).toBe('SERVER_ERROR backend timeout\r\n');
    expect(p.missed).toEqual([1]);
    expect(p.follows()).toBe(0);
  });

  it('a primary that failed with the command in flight: it runs on the next group, whose reply the client gets', () => {
    const failed: number[] = [];
    const p = primary('incr k 1\r\n', (g, owner) => {
      failed.push(g);
      return new LocalSlot(owner, Buffer.from('7\r\n'));
    });
    p.error(0);
    expect(failed).toEqual([0]);
    expect(p.missed).toEqual([0]);
    expect(p.sent()).toBe('7\r\n');
  });

  it('a primary that died before the others followed (outcome unknown): the next group runs it; without one the client hears so', async () => {
    const p = primary('incr k 1\r\n', (_g, owner) => new LocalSlot(owner, Buffer.from('7\r\n')));
    p.reply('7\r\n');
    p.settle(R.OUTCOME_UNKNOWN);
    await flush();
    expect(p.sent()).toBe('7\r\n');
    const q = primary('incr k 1\r\n', () => null);
    q.reply('7\r\n');
    q.settle(R.OUTCOME_UNKNOWN);
    await flush();
    expect(q.sent()).toBe('SERVER_ERROR backend failed, outcome unknown\r\n');
  });
});
