import { describe, expect, it } from 'vitest';
import { EvictionWatch, evictionsGrew, nextFactor, RateLimiter, TokenBucket, type Clock } from '../../../src/copy/index.js';

/** Virtual time: sleep() advances the clock at once. */
function fakeClock(): Clock & { t: number } {
  const c = {
    t: 0,
    now: () => c.t,
    sleep: (ms: number) => {
      c.t += ms;
      return Promise.resolve();
    },
  };
  return c;
}

describe('TokenBucket', () => {
  it('paces sequential takes to the rate after a burst of burstSeconds worth', async () => {
    const clock = fakeClock();
    const b = new TokenBucket(100, { clock, burstSeconds: 0.05 });
    expect(b.burst).toBe(5);
    for (let i = 0; i < 105; i++) await b.take(1);
    expect(clock.t).toBeCloseTo(1_000, 6);
  });

  it('queues concurrent reservations fairly without a lock', () => {
    const clock = fakeClock();
    const b = new TokenBucket(10, { clock, burstSeconds: 0 }); // burst 1
    const waits = Array.from({ length: 5 }, () => b.reserve(1));
    expect(waits.map((w) => Math.round(w))).toEqual([0, 100, 200, 300, 400]);
  });

  it('lets an item larger than the burst through, then makes it pay', () => {
    const clock = fakeClock();
    const b = new TokenBucket(100, { clock, burstSeconds: 0.05 });
    expect(b.reserve(1_000)).toBeCloseTo(9_950, 6);
    clock.t += 9_950;
    expect(b.reserve(1)).toBeCloseTo(10, 6);
  });

  it('refills only up to the burst', () => {
    const clock = fakeClock();
    const b = new TokenBucket(100, { clock, burstSeconds: 0.05 });
    clock.t += 60_000;
    for (let i = 0; i < 5; i++) expect(b.reserve(1)).toBe(0);
    expect(b.reserve(1)).toBeGreaterThan(0);
  });

  it('a factor scales the rate', () => {
    const clock = fakeClock();
    const b = new TokenBucket(100, { clock, burstSeconds: 0 });
    b.factor = 0.5;
    expect(b.rate).toBe(50);
    b.reserve(1);
    expect(b.reserve(1)).toBeCloseTo(20, 6);
    b.factor = 7; // clamped
    expect(b.factor).toBe(1);
  });

  it('Infinity is unlimited; 0 and negatives are refused', () => {
    const b = new TokenBucket(Infinity, { clock: fakeClock() });
    for (let i = 0; i < 1_000; i++) expect(b.reserve(1_000_000)).toBe(0);
    expect(() => new TokenBucket(0)).toThrow(RangeError);
    expect(() => new TokenBucket(-5)).toThrow(RangeError);
    expect(() => new TokenBucket(Number.NaN)).toThrow(RangeError);
  });
});

describe('RateLimiter', () => {
  it('paces keys and bytes with one factor', async () => {
    const clock = fakeClock();
    const r = new RateLimiter({ keysPerSec: 10, bytesPerSec: 1_000, burstSeconds: 0, clock });
    await r.acquireKey();
    await r.acquireBytes(1);
    await r.acquireBytes(500);
    expect(clock.t).toBeCloseTo(500, 6);
    r.factor = 0.25;
    expect(r.snapshot()).toEqual({ keysPerSec: 2.5, bytesPerSec: 250, factor: 0.25 });
    const noBytes = new RateLimiter({ keysPerSec: 10, clock });
    const before = clock.t;
    await noBytes.acquireBytes(1e9);
    expect(clock.t).toBe(before);
  });
});

describe('eviction slowdown', () => {
  it('evictionsGrew: first reading and a reset counter are no growth', () => {
    expect(evictionsGrew(null, 10)).toBe(false);
    expect(evictionsGrew(10, 10)).toBe(false);
    expect(evictionsGrew(10, 11)).toBe(true);
    expect(evictionsGrew(10, 0)).toBe(false);
  });

  it('nextFactor halves while evictions grow and recovers slowly', () => {
    let f = 1;
    for (let i = 0; i < 3; i++) f = nextFactor(true, f);
    expect(f).toBe(0.125);
    for (let i = 0; i < 10; i++) f = nextFactor(true, f);
    expect(f).toBe(1 / 64);
    f = nextFactor(false, f);
    expect(f).toBeCloseTo(1 / 64 + 0.05, 10);
    for (let i = 0; i < 100; i++) f = nextFactor(false, f);
    expect(f).toBe(1);
    expect(nextFactor(true, 1, { minFactor: 0.6 })).toBe(0.6);
    expect(nextFactor(false, 0.5, { recoverStep: 0.2 })).toBeCloseTo(0.7, 10);
  });

  it('EvictionWatch polls every target and reports factor changes', async () => {
    const factors: number[] = [];
    const watch = new EvictionWatch({ onFactor: (f) => factors.push(f) });
    let a = 0;
    let b = 100;
    watch.add('a', () => Promise.resolve(a));
    watch.add('b', () => Promise.resolve(b));
    watch.add('a', () => Promise.reject(new Error('not registered twice')));
    await watch.poll(); // first readings: no growth, factor already 1
    expect(factors).toEqual([]);
    b += 5;
    await watch.poll();
    a += 1;
    await watch.poll();
    await watch.poll(); // quiet: recovers a step
    expect(factors).toEqual([0.5, 0.25, 0.3]);
    expect(watch.slowdowns).toBe(2);
  });

  it('a target that fails to answer stats does not slow the copy', async () => {
    const factors: number[] = [];
    const watch = new EvictionWatch({ onFactor: (f) => factors.push(f) });
    watch.add('x', () => Promise.reject(new Error('down')));
    await watch.poll();
    await watch.poll();
    expect(factors).toEqual([]);
    expect(watch.factor).toBe(1);
  });
});
