import { describe, expect, it } from 'vitest';
import { LoopLagWatch } from '../../../src/copy/loop-lag.js';

describe('LoopLagWatch', () => {
  it('halves the copy rate while the event loop lags and recovers step by step', () => {
    const factors: number[] = [];
    const w = new LoopLagWatch({ maxLagMs: 20, recoverStep: 0.25, onFactor: (f) => factors.push(f) });
    w.judge(5);
    expect(w.factor).toBe(1);
    w.judge(45);
    w.judge(30);
    expect(w.factor).toBe(0.25);
    w.judge(1);
    w.judge(0, 0); // no samples in the interval: no judgement
    w.judge(1);
    expect(factors).toEqual([0.5, 0.25, 0.5, 0.75]);
    expect(w.slowdowns).toBe(2);
  });
});
