import { describe, expect, it } from 'vitest';
import { cpuSeconds, workerCounts } from '../../../bench/workers.js';

describe('bench --workers', () => {
  it('reads the list of worker counts', () => {
    expect(workerCounts('1,2')).toEqual([1, 2]);
    expect(workerCounts(' 1, 4 ')).toEqual([1, 4]);
    expect(() => workerCounts('1,0')).toThrow(/--workers must be a positive integer/);
  });

  it("reads a process's CPU time from /proc (this one's grows as it works)", () => {
    const before = cpuSeconds(process.pid);
    const until = performance.now() + 50;
    while (performance.now() < until) Math.sqrt(Math.random());
    expect(cpuSeconds(process.pid)).toBeGreaterThanOrEqual(before);
    expect(cpuSeconds(2 ** 30)).toBe(0);
  });
});
