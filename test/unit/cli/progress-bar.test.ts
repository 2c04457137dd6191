import { describe, expect, it } from 'vitest';
import { bar, progressLine } from '../../../src/cli/progress-bar.js';
import { Progress } from '../../../src/copy/index.js';

describe('progress bar', () => {
  it('draws the share done, clamped to 0..100%', () => {
    expect(bar(0, 10)).toBe('[----------]   0%');
    expect(bar(0.5, 10)).toBe('[#####-----]  50%');
    expect(bar(1, 10)).toBe('[##########] 100%');
    expect(bar(3, 10)).toBe('[##########] 100%');
    expect(bar(Number.NaN, 10)).toBe('[----------]   0%');
  });

  it('shows the copy share against the expected items, then verify against the scanned keys', () => {
    let t = 0;
    const p = new Progress(() => t);
    p.expected = 1000;
    p.start();
    p.counts.walked = 250;
    p.counts.scanned = 200;
    t = 1000;
    expect(progressLine(p.snapshot())).toMatch(/^copy {3}\[######-{18}\] {2}25% ETA 3s \| scanned 200 copied 0 /);
    p.markCopyDone();
    p.markSyncDone();
    p.counts.verified = 150;
    expect(progressLine(p.snapshot())).toMatch(/^verify \[#{18}-{6}\] {2}75% \| .*verified 150/);
  });
});
