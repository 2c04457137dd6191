import { describe, expect, it } from 'vitest';
import type { VerifyPassReport } from '../../../src/copy/index.js';
import { passTimes } from '../../../src/migration/jobs.js';

const pass = (p: Partial<VerifyPassReport> & Pick<VerifyPassReport, 'pass' | 'kind'>): VerifyPassReport => ({
  casAbove: {},
  checked: 0,
  equal: 0,
  mismatched: 0,
  repaired: 0,
  left: 0,
  errors: 0,
  swept: 0,
  orphansDeleted: 0,
  durationMs: 0,
  ...p,
});

describe('passTimes: the verify passes of parts that ran side by side', () => {
  it('sums the keys of pass i over the parts and takes the slowest part\'s time', () => {
    const a = [pass({ pass: 0, kind: 'full', checked: 100, swept: 40, durationMs: 1234 }), pass({ pass: 1, kind: 'incremental', checked: 5, durationMs: 300 })];
    const b = [pass({ pass: 0, kind: 'full', checked: 60, swept: 70, durationMs: 2001 }), pass({ pass: 1, kind: 'incremental', checked: 7, durationMs: 250 }), pass({ pass: 2, kind: 'incremental', checked: 1, durationMs: 90 })];
    expect(passTimes([a, b])).toEqual([
      { kind: 'full', checked: 160, swept: 110, seconds: 2.001 },
      { kind: 'incremental', checked: 12, swept: 0, seconds: 0.3 },
      { kind: 'incremental', checked: 1, swept: 0, seconds: 0.09 },
    ]);
  });

  it('is empty when no part verified', () => {
    expect(passTimes([[], []])).toEqual([]);
  });
});
