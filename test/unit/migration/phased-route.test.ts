/**
 * PhasedRoute's cutover hold: read-modify-writes of moved keys wait in cutover until `rmwFrom`
 * (settle after this sidecar's first read of cutover was sent, runtime.ts), then run; the wait is
 * counted in the hold histogram. Fake timers and clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { RequestParser, type ParserSink, type Request } from '../../../src/protocol/index.js';
import { PhasedRoute } from '../../../src/migration/phased-route.js';
import type { MovedArcs } from '../../../src/migration/arcs.js';
import { LocalSlot, type Slot, type SlotOwner } from '../../../src/proxy/reply-slots.js';
import { LIMITS } from '../protocol/parse-helpers.js';

function request(text: string): Request {
  let req: Request | undefined;
  const sink: ParserSink = { onRequest: (r) => (req = r), onReply: () => undefined, onClose: () => undefined, onQuit: () => undefined, wantsMore: () => true };
  new RequestParser(sink, LIMITS).feed(Buffer.from(text));
  return req!;
}

/** Holds a read-modify-write while rmwHeld(), as route.ts and group-remap.ts do; records what ran. */
class Route extends PhasedRoute {
  readonly ran: string[] = [];

  constructor() {
    super({ movesAny: () => true } as unknown as MovedArcs);
  }

  protected redispatch(req: Request, owner: SlotOwner): Slot {
    return this.send(req, owner);
  }

  send(req: Request, owner: SlotOwner): Slot {
    const waiting = this.waits(req, owner);
    if (waiting !== null) return waiting;
    if (this.rmwHeld()) return this.held.hold(req, owner);
    this.ran.push(req.keys[0]!.toString());
    return new LocalSlot(owner, Buffer.from('1\r\n'));
  }
}

const owner: SlotOwner = { slotDone: () => undefined };

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PhasedRoute cutover hold', () => {
  it('holds read-modify-writes in cutover until rmwFrom, then runs them in order and counts the wait', () => {
    const r = new Route();
    r.rmwFrom = performance.now() + 1_000;
    r.mode = 'cutover';
    r.send(request('incr a 1\r\n'), owner);
    vi.advanceTimersByTime(400);
    r.send(request('incr b 1\r\n'), owner);
    vi.advanceTimersByTime(599);
    expect(r.ran).toEqual([]);
    vi.advanceTimersByTime(2);
    expect(r.ran).toEqual(['a', 'b']);
    // From then on nothing waits, still in cutover.
    r.send(request('incr c 1\r\n'), owner);
    expect(r.ran).toEqual(['a', 'b', 'c']);
    expect(r.holds.count).toBe(2);
    expect(r.holds.sumSec).toBeCloseTo(1.001 + 0.601, 2);
    // The longest hold was at most settle (and the timer's millisecond).
    expect(r.holds.counts.slice(r.holds.bucketsSec.indexOf(1) + 1).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('a request sent after rmwFrom is checked by the clock, not the timer (a stalled event loop)', () => {
    const r = new Route();
    r.rmwFrom = performance.now() + 500;
    r.mode = 'cutover';
    vi.advanceTimersByTime(500);
    r.send(request('incr a 1\r\n'), owner);
    expect(r.ran).toEqual(['a']);
  });

  it('without rmwFrom a cutover holds until the next phase; leaving cutover releases and resets it', () => {
    const r = new Route();
    r.mode = 'cutover';
    r.send(request('incr a 1\r\n'), owner);
    vi.advanceTimersByTime(60_000);
    expect(r.ran).toEqual([]);
    r.mode = 'new_deletes_both';
    expect(r.ran).toEqual(['a']);
    expect(r.rmwFrom).toBe(Infinity);
  });

  it('a stale phase view holds even past rmwFrom, until a read confirms it', () => {
    const r = new Route();
    r.rmwFrom = performance.now() + 100;
    r.mode = 'cutover';
    r.validUntil = performance.now() + 50;
    vi.advanceTimersByTime(200);
    r.send(request('incr a 1\r\n'), owner);
    expect(r.ran).toEqual([]);
    r.validUntil = performance.now() + 1_000;
    expect(r.ran).toEqual(['a']);
  });

  it('close (its migration stopped: memshift stops, a reload replaced it): held requests fail at once, and later ones do not wait', async () => {
    const r = new Route();
    r.mode = 'cutover';
    const held = r.send(request('incr a 1\r\n'), owner);
    r.validUntil = performance.now() + 50;
    vi.advanceTimersByTime(100);
    const waiting = r.whenCurrent();
    expect(held.done).toBe(false);
    r.close();
    expect(held.done).toBe(true);
    expect(held.reply?.toString()).toMatch(/^SERVER_ERROR /);
    await expect(waiting).resolves.toBe(false);
    // Nothing is queued behind a route nobody polls any more.
    const later = r.send(request('incr b 1\r\n'), owner);
    expect(later.done).toBe(true);
    expect(later.reply?.toString()).toMatch(/^SERVER_ERROR /);
    await expect(r.whenCurrent()).resolves.toBe(false);
    expect(r.ran).toEqual([]);
  });
});
