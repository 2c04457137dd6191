/**
 * TickGate: the deadline ticker skips the first tick after the process stood still (replies that
 * came meanwhile are read first), and never more than one in a row.
 */
import { describe, expect, it } from 'vitest';
import { STALL_MS, TICK_MS, TickGate } from '../../../src/backend/clock.js';

describe('TickGate', () => {
  it('admits ticks that come on time, and late ones up to the stall threshold', () => {
    const g = new TickGate(0);
    let t = 0;
    for (let i = 0; i < 100; i++) expect(g.admit((t += TICK_MS))).toBe(true);
    expect(g.admit(t + STALL_MS)).toBe(true);
  });

  it('skips the first tick after a stall, then admits the next even if it is late too', () => {
    const g = new TickGate(0);
    expect(g.admit(TICK_MS)).toBe(true);
    expect(g.admit(TICK_MS + 6_000)).toBe(false); // stopped for 6 s: read the sockets first
    expect(g.admit(TICK_MS + 6_000 + TICK_MS)).toBe(true);
    // A process that is merely slow (every gap past the threshold) still judges every other tick.
    let t = 10_000;
    const admitted = Array.from({ length: 6 }, () => g.admit((t += STALL_MS + 50)));
    expect(admitted).toEqual([false, true, false, true, false, true]);
  });
});
