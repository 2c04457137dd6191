import { describe, expect, it } from 'vitest';
import { initialWatchState, nextResolveInMs, watchNext, watchSettings, type WatchEvent, type WatchInput, type WatchState } from '../../../src/discovery/watch-state.js';
import type { DiscoveredServer } from '../../../src/discovery/resolve.js';

/** mc-<i> at 10.0.0.<ip>:11211, named by its DNS name. */
const pod = (i: number, ip = 10 + i): DiscoveredServer => ({ host: `10.0.0.${ip}`, port: 11211, address: `10.0.0.${ip}:11211`, dnsName: `mc-${i}.mc.test`, name: `mc-${i}.mc.test` });
const pods = (...ids: number[]): DiscoveredServer[] => ids.map((i) => pod(i));
const names = (list: readonly DiscoveredServer[] | undefined): string[] | undefined => list?.map((s) => s.name ?? s.address);

const SETTINGS = watchSettings({ intervalMs: 10_000, minStableMs: 30_000 });

/** A watch on a fake clock: each step is an answer (or a failure) at a time in seconds. */
class Sim {
  state: WatchState;
  events: WatchEvent[] = [];
  constructor(
    initial?: DiscoveredServer[],
    readonly settings = SETTINGS,
  ) {
    this.state = initialWatchState(initial);
  }
  feed(atSeconds: number, input: WatchInput | readonly DiscoveredServer[]): WatchEvent[] {
    const i: WatchInput = Array.isArray(input) ? { type: 'resolved', servers: input as DiscoveredServer[], ttlSeconds: undefined } : (input as WatchInput);
    const r = watchNext(this.state, i, atSeconds * 1000, this.settings);
    this.state = r.state;
    this.events.push(...r.events);
    return r.events;
  }
  get stable(): string[] | undefined {
    return names(this.state.stable?.servers);
  }
  types(): string[] {
    return this.events.map((e) => e.type);
  }
}

const fail = (error = 'A mc.test: ETIMEOUT'): WatchInput => ({ type: 'failed', error });

describe('the discovery watch state', () => {
  it('takes the first answer as stable at once when no initial set is given', () => {
    const w = new Sim();
    expect(w.feed(0, pods(0, 1, 2))).toEqual([{ type: 'initial', servers: pods(0, 1, 2) }]);
    expect(w.stable).toEqual(['mc-0.mc.test', 'mc-1.mc.test', 'mc-2.mc.test']);
  });

  it('changes the stable set only after the new set was seen unchanged for min_stable', () => {
    const w = new Sim(pods(0, 1, 2));
    expect(w.feed(0, pods(0, 1, 2))).toEqual([]);
    expect(w.feed(10, pods(0, 1, 2, 3))).toEqual([{ type: 'candidate', servers: pods(0, 1, 2, 3), stableInMs: 30_000 }]);
    w.feed(20, pods(0, 1, 2, 3));
    w.feed(39.999, pods(0, 1, 2, 3));
    expect(w.stable).toHaveLength(3);
    expect(w.feed(40, pods(0, 1, 2, 3))).toEqual([{ type: 'stable', from: pods(0, 1, 2), to: pods(0, 1, 2, 3) }]);
    expect(w.stable).toHaveLength(4);
  });

  it('restarts min_stable when the candidate changes again, and drops a change that goes back', () => {
    const w = new Sim(pods(0, 1, 2));
    w.feed(0, pods(0, 1, 2, 3));
    w.feed(20, pods(0, 1, 2, 3, 4)); // a second pod while the first change waits
    w.feed(40, pods(0, 1, 2, 3, 4));
    expect(w.stable).toHaveLength(3);
    w.feed(50, pods(0, 1, 2, 3, 4));
    expect(w.stable).toHaveLength(5);
    const back = new Sim(pods(0, 1, 2));
    back.feed(0, pods(0, 1, 2, 3));
    expect(back.feed(10, pods(0, 1, 2))).toEqual([{ type: 'withdrawn' }]);
    back.feed(45, pods(0, 1, 2));
    expect(back.stable).toHaveLength(3);
    expect(back.state.flapping).toBe(false); // one blip is not flapping
  });

  it('a promotion needs an answer: time alone, or failures, promote nothing', () => {
    const w = new Sim(pods(0, 1, 2));
    w.feed(0, pods(0, 1, 2, 3));
    w.feed(35, fail());
    w.feed(40, fail());
    expect(w.stable).toHaveLength(3);
    expect(w.feed(41, pods(0, 1, 2, 3)).map((e) => e.type)).toEqual(['recovered', 'stable']);
  });

  it('keeps the last good set on every failure, an empty answer included, and reports a failure once per outage', () => {
    const w = new Sim();
    w.feed(0, pods(0, 1));
    expect(w.feed(10, fail())).toEqual([{ type: 'failure', error: 'A mc.test: ETIMEOUT', first: true }]);
    expect(w.feed(20, fail('mc.test: the answer holds no records'))).toEqual([{ type: 'failure', error: 'mc.test: the answer holds no records', first: false }]);
    expect(w.stable).toHaveLength(2);
    expect(w.state).toMatchObject({ failing: 2, lastError: 'mc.test: the answer holds no records' });
    expect(w.feed(30, pods(0, 1))).toEqual([{ type: 'recovered', failures: 2 }]);
    expect(w.state).toMatchObject({ failing: 0, lastError: undefined });
    const never = new Sim();
    never.feed(0, fail());
    expect(never.state.stable).toBeUndefined(); // nothing to keep yet: still no set, never an empty one
  });

  it('follows a new address under the same name at once: the ring is the same', () => {
    const w = new Sim(pods(0, 1, 2));
    const moved = [pod(0), pod(1, 99), pod(2)];
    expect(w.feed(5, moved)).toEqual([{ type: 'addresses', servers: moved }]);
    expect(w.state.stable?.servers[1]?.address).toBe('10.0.0.99:11211');
    expect(w.state.flapping).toBe(false);
  });

  it('while a change waits, the servers it keeps still follow their new addresses', () => {
    const w = new Sim(pods(0, 1, 2));
    w.feed(0, pods(0, 1, 2, 3));
    const events = w.feed(10, [pod(0), pod(1, 77), pod(2), pod(3)]);
    expect(events).toEqual([{ type: 'addresses', servers: [pod(0), pod(1, 77), pod(2)] }]);
    expect(names(w.state.stable?.servers)).toHaveLength(3);
    expect(w.feed(30, [pod(0), pod(1, 77), pod(2), pod(3)]).map((e) => e.type)).toEqual(['stable']);
  });

  it('holds the stable set while the answer flaps, and lets the change through once it is steady for the window', () => {
    const w = new Sim(pods(0, 1, 2));
    w.feed(0, pods(0, 1, 2, 3)); // A → B
    w.feed(10, pods(0, 1, 2)); // B → A: one return
    expect(w.feed(20, pods(0, 1, 2, 3))).toEqual([{ type: 'candidate', servers: pods(0, 1, 2, 3), stableInMs: 30_000 }, { type: 'flapping', returns: 2 }]);
    // B stays far beyond min_stable, but the returns are still in the window (120 s): held.
    for (let t = 30; t <= 110; t += 10) w.feed(t, pods(0, 1, 2, 3));
    expect(w.stable).toHaveLength(3);
    expect(w.state.flapping).toBe(true);
    // At 120 s the change at 0 s leaves the window, one return is left: steady, and B has held for 100 s.
    expect(w.feed(120, pods(0, 1, 2, 3)).map((e) => e.type)).toEqual(['steady', 'stable']);
    expect(w.stable).toHaveLength(4);
    expect(w.types().filter((t) => t === 'flapping')).toHaveLength(1);
  });

  it('a growth step by step never flaps', () => {
    const w = new Sim(pods(0, 1, 2));
    for (let n = 4, t = 0; n <= 8; n++, t += 5) w.feed(t, pods(...Array.from({ length: n }, (_, i) => i)));
    expect(w.state.flapping).toBe(false);
    w.feed(50, pods(0, 1, 2, 3, 4, 5, 6, 7));
    expect(w.stable).toHaveLength(8);
  });

  it('is deterministic: the same answers at the same times give the same states on every sidecar', () => {
    const run = (): WatchState => {
      const w = new Sim(pods(0, 1));
      const answers = [pods(0, 1, 2), pods(0, 1), pods(0, 1, 2), pods(0, 1, 2, 3)];
      answers.forEach((a, i) => w.feed(i * 7, a));
      w.feed(70, fail());
      w.feed(200, pods(0, 1, 2, 3));
      return w.state;
    };
    expect(run()).toEqual(run());
  });

  it('resolves again after the interval, sooner for a short TTL or a change about to be stable, never under the floor', () => {
    const s = watchSettings({ intervalMs: 10_000, minStableMs: 30_000 });
    let st = initialWatchState(pods(0, 1));
    expect(nextResolveInMs(st, 0, s)).toBe(10_000);
    st = watchNext(st, { type: 'resolved', servers: pods(0, 1), ttlSeconds: 4 }, 0, s).state;
    expect(nextResolveInMs(st, 0, s)).toBe(4_000);
    st = watchNext(st, { type: 'resolved', servers: pods(0, 1), ttlSeconds: 0 }, 0, s).state;
    expect(nextResolveInMs(st, 0, s)).toBe(1_000);
    st = watchNext(st, { type: 'resolved', servers: pods(0, 1, 2), ttlSeconds: 60 }, 100_000, s).state;
    expect(nextResolveInMs(st, 125_000, s)).toBe(5_000); // the change is due at 130 s
    expect(nextResolveInMs(st, 129_500, s)).toBe(1_000);
    expect(nextResolveInMs(st, 129_500, { ...s, floorMs: 100 })).toBe(500);
  });

  it('defaults: floor 1 s, two returns, a window of the longer of 10 intervals and 4 × min_stable', () => {
    expect(watchSettings({ intervalMs: 10_000, minStableMs: 30_000 })).toEqual({ intervalMs: 10_000, minStableMs: 30_000, floorMs: 1_000, flapReturns: 2, flapWindowMs: 120_000 });
    expect(watchSettings({ intervalMs: 20_000, minStableMs: 0 }).flapWindowMs).toBe(200_000);
  });
});
