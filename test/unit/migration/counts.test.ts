/** A migration's counts only grow (issue 14): each job run adds its growth; two views combine by their maximum. */
import { expect, it } from 'vitest';
import { addGrowth, emptyCounts, maxCounts } from '../../../src/migration/record.js';

it('a run that starts over adds to the counts instead of replacing them', () => {
  let counts = { ...emptyCounts(), copied: 4434, scanned: 4500, cleaned: 3 };
  // A run (after a resume) reports its own totals, from 0.
  let last = {};
  for (const run of [{ copied: 0, scanned: 10 }, { copied: 100, scanned: 150 }, { copied: 100, scanned: 150 }]) {
    counts = addGrowth(counts, run, last);
    last = run;
  }
  expect(counts).toEqual({ ...emptyCounts(), copied: 4534, scanned: 4650, cleaned: 3 });
});

it('two views of one migration combine into the larger of each count', () => {
  const a = { ...emptyCounts(), copied: 10, verified: 5 };
  expect(maxCounts(a, { copied: 7, verified: 9, errors: 1 })).toEqual({ ...emptyCounts(), copied: 10, verified: 9, errors: 1 });
  // A record from an older memshift may lack a count.
  expect(maxCounts(a, {})).toEqual(a);
});
