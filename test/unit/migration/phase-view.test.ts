/**
 * PhaseView: until when a sidecar may route by the phase it last read (the route's validUntil; past
 * it the route holds moved keys), and when it says so in the log. Fake timers and clock.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { PhaseView } from '../../../src/migration/phase-view.js';
import type { MoveRoute } from '../../../src/migration/space.js';

function setup(validMs = 1_500) {
  const route = { mode: 'dual_old', validUntil: Infinity, counters: {}, expireHeld: () => {} } as unknown as MoveRoute;
  const spells: number[] = [];
  const view = new PhaseView(route, validMs, (age) => spells.push(Math.round(age)));
  /** What the route checks on each request. */
  const stale = (): boolean => performance.now() > route.validUntil;
  return { route, view, spells, stale };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('PhaseView', () => {
  it('a view is good for validMs from when the confirming read was sent; then the log says so once', () => {
    const { view, spells, stale } = setup();
    const sent = performance.now();
    vi.advanceTimersByTime(200); // the read took 200 ms to answer
    view.confirmed(sent, true);
    vi.advanceTimersByTime(1_300);
    expect(stale()).toBe(false);
    expect(spells).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(stale()).toBe(true);
    vi.advanceTimersByTime(10_000);
    expect(spells).toEqual([1_501]);
  });

  it('a newer confirmation moves the deadline and ends a stale spell; an older one changes nothing', () => {
    const { view, spells, stale } = setup();
    view.confirmed(performance.now(), true);
    vi.advanceTimersByTime(1_000);
    view.confirmed(performance.now(), true);
    view.confirmed(performance.now() - 900, true); // a slow read answered late: sent before the last one
    vi.advanceTimersByTime(1_500);
    expect(stale()).toBe(false);
    vi.advanceTimersByTime(1);
    expect(stale()).toBe(true);
    view.confirmed(performance.now(), true);
    expect(stale()).toBe(false);
    vi.advanceTimersByTime(1_501);
    expect(stale()).toBe(true);
    expect(spells).toEqual([1_501, 1_501]);
  });

  it('a read sent longer ago than validMs confirms nothing', () => {
    const { view, stale } = setup();
    vi.advanceTimersByTime(5_000);
    view.confirmed(performance.now() - 2_000, true);
    expect(stale()).toBe(true);
  });

  it('a finished migration (guard false) is never stale, and ends a stale spell', () => {
    const { view, spells, stale, route } = setup();
    view.confirmed(performance.now(), true);
    vi.advanceTimersByTime(2_000);
    expect(stale()).toBe(true);
    view.confirmed(performance.now(), false);
    expect(route.validUntil).toBe(Infinity);
    vi.advanceTimersByTime(60_000);
    expect(stale()).toBe(false);
    expect(spells).toHaveLength(1);
  });

  it('settle 0 (validMs 0) turns the guard off', () => {
    const { view, stale, spells } = setup(0);
    view.unconfirmed();
    view.confirmed(performance.now(), true);
    vi.advanceTimersByTime(60_000);
    expect(stale()).toBe(false);
    expect(spells).toEqual([]);
  });

  it('unconfirmed() holds at once when no read ever answered, and is a no-op after one did', () => {
    const a = setup();
    a.view.unconfirmed();
    expect(a.stale()).toBe(true);
    expect(a.spells).toEqual([Infinity]);
    a.view.confirmed(performance.now(), true);
    expect(a.stale()).toBe(false);

    const b = setup();
    b.view.confirmed(performance.now(), true);
    b.view.unconfirmed();
    expect(b.stale()).toBe(false);
  });

  it('close() stops the log timer', () => {
    const { view, spells } = setup();
    view.confirmed(performance.now(), true);
    view.close();
    vi.advanceTimersByTime(60_000);
    expect(spells).toEqual([]);
  });
});
