import { describe, expect, it } from 'vitest';
import { etaSeconds, Progress, span } from '../../../src/copy/index.js';

describe('Progress', () => {
  it('gives T_copy, T_sync, T_verify and T_total = their sum', () => {
    let now = 1_000_000;
    const p = new Progress(() => now);
    expect(p.snapshot()).toMatchObject({ phase: 'idle', elapsedMs: 0, durations: { copyMs: null, totalMs: null } });
    p.start();
    now += 4_000;
    p.markCopyDone();
    now += 1_500;
    p.markSyncDone();
    now += 500;
    p.markVerifyDone();
    const s = p.snapshot();
    expect(s.phase).toBe('done');
    expect(s.times).toEqual({ t0: 1_000_000, t1: 1_004_000, t2: 1_005_500, t3: 1_006_000 });
    expect(s.durations).toEqual({ copyMs: 4_000, syncMs: 1_500, verifyMs: 500, totalMs: 6_000 });
    expect(s.elapsedMs).toBe(6_000);
  });

  it('keeps the first mark of each instant', () => {
    let now = 10;
    const p = new Progress(() => now);
    p.start();
    now = 20;
    p.start();
    p.markCopyDone();
    now = 30;
    p.markCopyDone();
    expect(p.snapshot().times).toMatchObject({ t0: 10, t1: 20 });
  });

  it('counts, and snapshots are copies (JSON-able)', () => {
    const p = new Progress(() => 0);
    p.add('copied');
    p.add('bytes', 100);
    const s = p.snapshot();
    p.add('copied');
    expect(s.counts.copied).toBe(1);
    expect(s.counts.bytes).toBe(100);
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });

  it('estimates the ETA of the copy from the walk rate', () => {
    let now = 0;
    const p = new Progress(() => now);
    p.expected = 10_000;
    p.start();
    now = 2_000;
    p.counts.walked = 2_000; // 1000/s
    const s = p.snapshot();
    expect(s.walkRate).toBe(1_000);
    expect(s.etaSec).toBe(8);
    p.markCopyDone();
    expect(p.snapshot().etaSec).toBeNull();
  });
});

describe('etaSeconds and span', () => {
  it('is null when unknown and never negative', () => {
    expect(etaSeconds(0, 100, 1_000)).toBeNull();
    expect(etaSeconds(10, null, 1_000)).toBeNull();
    expect(etaSeconds(10, 100, 0)).toBeNull();
    expect(etaSeconds(200, 100, 1_000)).toBe(0);
    expect(etaSeconds(50, 100, 1_000)).toBe(1);
  });

  it('span needs both ends', () => {
    expect(span(null, 5)).toBeNull();
    expect(span(5, null)).toBeNull();
    expect(span(5, 8)).toBe(3);
  });
});
