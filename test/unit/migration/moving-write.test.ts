/**
 * MovingWriteSlot (a write of a moved key during a migration): the authority's reply waits until
 * the other owner followed; and when this sidecar's phase may be out of date by the time the write
 * ran (phase-view.ts), the follow waits for a current phase and goes by it: the same authority
 * follows as usual, a moved authority gets the write taken back where it ran and SERVER_ERROR.
 * A fake route (MovingKey) and the first leg's reply fed by hand; no sockets.
 */
import { describe, expect, it } from 'vitest';
import { RequestParser, ReplyKind, type ParserSink, type Request } from '../../../src/protocol/index.js';
import { Op, type Backend } from '../../../src/backend/index.js';
import { MovingWriteSlot, type MovingKey, type WritePlan } from '../../../src/migration/moving-slots.js';
import type { SyncOutcome } from '../../../src/copy/index.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import type { Slot } from '../../../src/proxy/reply-slots.js';
import { LIMITS } from '../protocol/parse-helpers.js';

function request(text: string): Request {
  let req: Request | undefined;
  const sink: ParserSink = { onRequest: (r) => (req = r), onReply: () => undefined, onClose: () => undefined, onQuit: () => undefined, wantsMore: () => true };
  new RequestParser(sink, LIMITS).feed(Buffer.from(text));
  return req!;
}

const OLD = { address: 'old:11211' } as unknown as Backend;
const NEW = { address: 'new:11211' } as unknown as Backend;
const flush = (): Promise<void> => new Promise((r) => setImmediate(r));
const BUSY = 'SERVER_ERROR migration busy, retry\r\n';

interface Fake {
  current: boolean;
  /** What whenCurrent resolves to, once `wake()` is called. */
  wake: (current: boolean) => void;
  now: WritePlan | { first: Backend; second: null };
  syncs: string[];
  drops: string[];
  syncOutcomes: SyncOutcome[];
}

function moving(text: string, plan: WritePlan) {
  const done: Slot[] = [];
  let wakers: ((c: boolean) => void)[] = [];
  const f: Fake = {
    current: true,
    wake: (c) => {
      const w = wakers;
      wakers = [];
      for (const r of w) r(c);
    },
    now: plan,
    syncs: [],
    drops: [],
    syncOutcomes: [],
  };
  const ctx: MovingKey = {
    stats: new ProxyStats(),
    backfill: async () => undefined,
    sync: async (_k, from, to) => {
      f.syncs.push(`${from.address}->${to.address}`);
      return f.syncOutcomes.shift() ?? 'synced';
    },
    drop: async (_k, on) => void f.drops.push(on.address),
    current: () => f.current,
    whenCurrent: () => (f.current ? Promise.resolve(true) : new Promise((r) => wakers.push(r))),
    planNow: () => f.now,
  };
  const slot = new MovingWriteSlot({ slotDone: (s) => done.push(s) }, request(text), ctx, plan);
  const first = (reply: string): void => slot.onOpReply(new Op(slot, ReplyKind.Line, 0), Buffer.from(reply));
  const sent = (): string | null | undefined => (done.length === 0 ? undefined : done[0]!.reply === null ? null : String(done[0]!.reply));
  /** The first leg's reply comes while the phase is out of date. */
  const stalledFirst = (reply: string): void => {
    f.current = false;
    first(reply);
  };
  /** The phase is current again, with `plan` for the key under it. */
  const resume = async (plan: Fake['now']): Promise<void> => {
    f.current = true;
    f.now = plan;
    f.wake(true);
    await flush();
  };
  return { f, first, sent, stalledFirst, resume };
}

describe('MovingWriteSlot', () => {
  it('answers the authority reply once the other owner followed it', async () => {
    const m = moving('set k 0 0 1\r\nv\r\n', { first: OLD, second: NEW });
    m.first('STORED\r\n');
    expect(m.sent()).toBeUndefined();
    await flush();
    expect(m.f.syncs).toEqual(['old:11211->new:11211']);
    expect(m.sent()).toBe('STORED\r\n');
  });

  it('a phase gone out of date before the follow: waits, then follows as usual when the authority stayed', async () => {
    const m = moving('set k 0 0 1\r\nv\r\n', { first: OLD, second: NEW });
    m.stalledFirst('STORED\r\n');
    await flush();
    expect(m.f.syncs).toEqual([]);
    expect(m.sent()).toBeUndefined();
    await m.resume({ first: OLD, second: NEW }); // dual_read, say: the old owner is still the authority
    expect(m.f.syncs).toEqual(['old:11211->new:11211']);
    expect(m.sent()).toBe('STORED\r\n');
  });

  it('the authority moved meanwhile: what it wrote is taken back there, nothing is synced, SERVER_ERROR', async () => {
    const m = moving('set k 0 0 1\r\nv\r\n', { first: OLD, second: NEW });
    m.stalledFirst('STORED\r\n');
    await m.resume({ first: NEW, second: null }); // the migration is done by the time this sidecar knows
    expect(m.f.syncs).toEqual([]);
    expect(m.f.drops).toEqual(['old:11211']);
    expect(m.sent()).toBe(BUSY);
  });

  it('the same for a noreply write: no reply at all', async () => {
    const m = moving('set k 0 0 1 noreply\r\nv\r\n', { first: OLD, second: NEW });
    m.stalledFirst('STORED\r\n');
    await m.resume({ first: NEW, second: OLD, dropSecond: true });
    expect(m.f.drops).toEqual(['old:11211']);
    expect(m.sent()).toBeNull();
  });

  it('a sync that stopped (stale) is done again under the phase now', async () => {
    const m = moving('delete k\r\n', { first: OLD, second: NEW });
    m.f.syncOutcomes.push('stale');
    m.first('DELETED\r\n');
    await flush();
    expect(m.f.syncs).toEqual(['old:11211->new:11211', 'old:11211->new:11211']);
    expect(m.sent()).toBe('DELETED\r\n');
  });

  it('the authority now has no one to follow it (one owner): the reply goes out without a sync', async () => {
    const m = moving('set k 0 0 1\r\nv\r\n', { first: OLD, second: NEW });
    m.stalledFirst('STORED\r\n');
    await m.resume({ first: OLD, second: null }); // rolled back: the old ring again
    expect(m.f.syncs).toEqual([]);
    expect(m.f.drops).toEqual([]);
    expect(m.sent()).toBe('STORED\r\n');
  });

  it('a phase that does not become current in time: SERVER_ERROR, nothing synced or dropped', async () => {
    const m = moving('set k 0 0 1\r\nv\r\n', { first: OLD, second: NEW });
    m.stalledFirst('STORED\r\n');
    m.f.wake(false);
    await flush();
    expect(m.f.syncs).toEqual([]);
    expect(m.f.drops).toEqual([]);
    expect(m.sent()).toBe(BUSY);
  });
});
