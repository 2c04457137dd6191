import { describe, expect, it } from 'vitest';
import { progressText } from '../../../src/cli/migrate-render.js';
import { bar, migrationShare, progressLine } from '../../../src/cli/progress-bar.js';
import type { MigrationStatus } from '../../../src/migration/status.js';
import { emptyCounts } from '../../../src/migration/record.js';
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

  it('gives watch and top one share: the leader\'s verify pass first, else the counts over every run', () => {
    const counts = { ...emptyCounts(), scanned: 1000, verified: 900, mismatched: 100 };
    const status = (phase: string, progress: unknown): MigrationStatus => ({ phase, progress, counts }) as unknown as MigrationStatus;
    // A second verify pass: the leader has checked 50 of the 200 its copy scanned this run.
    const pass = status('verify', { phase: 'verify', expected: null, walked: 0, eta_s: null, scanned: 200, checked: 50 });
    expect(migrationShare(pass)).toBe(0.25);
    expect(progressText(pass)).toMatch(/ 25% 50\/200 keys checked, 100 mismatched$/);
    // No leader progress (it is elsewhere and has not published): the counts.
    expect(migrationShare(status('verify', null))).toBe(1);
    expect(progressText(status('verify', null))).toMatch(/100% 1000\/1000 keys checked/);
    const copy = status('copy', { phase: 'copy', expected: 400, walked: 100, eta_s: 3.2, scanned: 90, checked: 0 });
    expect(migrationShare(copy)).toBe(0.25);
    expect(progressText(copy)).toMatch(/ 25% 100\/400 keys walked, ETA 4s$/);
    expect(migrationShare(status('dual_read', null))).toBeNull();
  });
});
