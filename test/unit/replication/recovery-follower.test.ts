/**
 * A follower worker's recovery (workers: N): a backend that comes up here serves no reads until
 * worker 0 answers that it is readable there (up, and neither replayed nor rebuilt any more).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Backend } from '../../../src/backend/index.js';
import { ReadinessFollower, readinessOf } from '../../../src/replication/recovery-follower.js';

const backend = (address: string, state = 'up'): Backend => ({ address, state }) as unknown as Backend;

describe('ReadinessFollower', () => {
  afterEach(() => vi.useRealTimers());

  it('holds a backend from its up until a report answers the ask made after it, which names it', () => {
    const asks: number[] = [];
    const ups: unknown[] = [];
    const f = new ReadinessFollower((id, up) => {
      asks.push(id);
      ups.push(up);
    });
    const [a, b] = [backend('a:1'), backend('b:1')];
    const held = new Set<Backend>();
    const pool = f.follow('main', [a, b], held);
    expect(held.size).toBe(0);
    pool.onUp(0, a);
    expect([...held]).toEqual([a]);
    expect(asks).toEqual([1]);
    expect(ups).toEqual([[{ pool: 'main', backend: 'a:1' }]]);
    // A report sent before worker 0 read the ask (a change it broadcast) does not release it.
    f.report({ main: [] });
    expect([...held]).toEqual([a]);
    f.report({ main: [] }, 0);
    expect([...held]).toEqual([a]);
    f.report({ main: [] }, 1);
    expect(held.size).toBe(0);
    f.close();
  });

  it('holds what worker 0 reports unreadable, and releases it when a later report no longer does', () => {
    const f = new ReadinessFollower(() => undefined);
    const [a, b] = [backend('a:1'), backend('b:1')];
    const held = new Set<Backend>();
    f.follow('main', [a, b], held);
    f.report({ main: ['b:1'], other: ['a:1'] });
    expect([...held]).toEqual([b]);
    f.report({ main: [] });
    expect(held.size).toBe(0);
    f.close();
  });

  it('keeps a backend held that worker 0 still reports unreadable after answering', () => {
    const f = new ReadinessFollower(() => undefined);
    const a = backend('a:1');
    const held = new Set<Backend>();
    f.follow('main', [a], held).onUp(0, a);
    f.report({ main: ['a:1'] }, 1);
    expect([...held]).toEqual([a]);
    f.close();
  });

  it('asks again every retry interval while an up waits (worker 0 may be restarting)', () => {
    vi.useFakeTimers();
    const asks: number[] = [];
    const ups: unknown[] = [];
    const f = new ReadinessFollower((id, up) => {
      asks.push(id);
      ups.push(up);
    }, 1_000);
    const a = backend('a:1');
    f.follow('main', [a], new Set()).onUp(0, a);
    vi.advanceTimersByTime(2_500);
    expect(asks).toEqual([1, 2, 3]);
    expect(ups.slice(1)).toEqual([[], []]);
    f.report({ main: [] }, 3);
    vi.advanceTimersByTime(5_000);
    expect(asks).toEqual([1, 2, 3]);
    f.close();
  });
});

describe('readinessOf', () => {
  it('lists, per pool, the backends down in worker 0 or held by its recovery', () => {
    const [a, b, c] = [backend('a:1'), backend('b:1', 'tko'), backend('c:1')];
    expect(readinessOf([{ pool: 'main', backends: [a, b, c], held: new Set([c]) }])).toEqual({ main: ['b:1', 'c:1'] });
  });
});
