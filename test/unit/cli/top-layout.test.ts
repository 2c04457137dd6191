import { describe, expect, it } from 'vitest';
import { fit, fitMiddle, formatBytes, formatMs, formatRate, renderTop } from '../../../src/cli/top-layout.js';
import { topView, type TopView } from '../../../src/cli/top-view.js';
import type { ProgressSnapshot } from '../../../src/copy/index.js';
import { migrationStatus } from '../../support/migration-status.js';
import { backend, body, input, latency, pool } from './top-samples.js';

/** Two samples a second apart: main with two replica groups, one backend in TKO, and a migration's leaving server. */
function view(): TopView {
  const before = body(0, [
    pool('main', [
      ['zone-a', [backend('10.0.0.1:11211', { latency: latency([0.001, 10]) }), backend('10.0.0.2:11211')]],
      ['zone-b', [backend('10.0.1.1:11211'), backend('10.0.1.2:11211')]],
    ]),
    pool('sessions', [['sessions', [backend('10.0.2.1:11211')]]], [backend('10.0.2.9:11211')]),
  ]);
  const after = body(1_000, [
    pool('main', [
      ['zone-a', [backend('10.0.0.1:11211', { requests: 1234, server: { get_hits: 90, get_misses: 10 }, latency: latency([0.001, 20], [0.005, 10]), in_flight: 3, queued_bytes: 1536 }), backend('10.0.0.2:11211', { requests: 10 })]],
      ['zone-b', [backend('10.0.1.1:11211', { requests: 1200, recovering: true }), backend('10.0.1.2:11211', { state: 'tko', reason: 'connect ECONNREFUSED 10.0.1.2:11211 (failed 3 times in a row; probing every 2 s up to 30 s)', refused: 7 })]],
    ]),
    pool('sessions', [['sessions', [backend('10.0.2.1:11211', { name: 'node-a', requests: 5 })]]], [backend('10.0.2.9:11211', { requests: 2 })]),
  ], { curr_connections: 12, cmd_get: 100, get_hits: 90, get_misses: 10, cmd_set: 40 });
  const progress: ProgressSnapshot = {
    phase: 'copy',
    counts: { scanned: 10, copied: 9, skipped: 1, verified: 0, mismatched: 0, repaired: 0, errors: 0, walked: 500, vanished: 0, raced: 0, bytes: 0 },
    times: { t0: 0, t1: null, t2: null, t3: null },
    durations: { copyMs: null, syncMs: null, verifyMs: null, totalMs: null },
    elapsedMs: 1_000,
    walkRate: 500,
    expected: 1_000,
    etaSec: 1,
  };
  const replication = {
    pools: [{ name: 'main', write: 'all', read: 'primary', groups: [{ name: 'zone-b', backends: [{ address: '10.0.1.1:11211', state: 'up', reason: null, recovering: true, missedWrites: 0, logEntries: 0, logBytes: 0, needsResync: false, sync: { state: 'running' as const, role: 'leader' as const, reason: 'empty', source: 'zone-a', startedAt: 0, finishedAt: null, progress } }] }] }],
  };
  return topView(input(before), input(after, [migrationStatus({ pool: 'sessions', id: 'split' })], { replication }));
}

describe('top layout', () => {
  it('draws the summary, the migration and the sync, then each backend under its pool and group', () => {
    const lines = renderTop(view(), 80);
    expect(lines[0]).toBe('memshift top  http://127.0.0.1:9121  every 1s  03:04:06 UTC');
    expect(lines[1]).toBe('clients 12  get 100/s  hit 90.0%  set 40/s  backend errors 0/s');
    expect(lines[2]).toBe('migration sessions/split copy [#######---------]  41% ETA 12s | copied 40000 ve…');
    expect(lines[3]).toBe('sync main/zone-b 10.0.1.1:11211 copy [########--------]  50% ETA 1s | copied 9 …');
    expect(lines.slice(4).join('\n')).toBe(
      [
        'SERVER                  STATE    OPS/S  HIT%  P50ms  P99ms  ERR/S  INFL QUEUED',
        'main                              2444  90.0                    7',
        '  group zone-a',
        '    10.0.0.1:11211      up        1234  90.0   1.00   4.95      0     3   1.5K',
        '    10.0.0.2:11211      up          10     -      -      -      0     0     0B',
        '  group zone-b',
        '    10.0.1.1:11211      recov     1200     -      -      -      0     0     0B',
        '    10.0.1.2:11211      tko          0     -      -      -      7     0     0B',
        '      └ connect ECONNREFUSED 10.0.1.2:11211 (failed 3 times in a row; probing e…',
        'sessions                             7     -                    0',
        '  10.0.2.1:11211 node-a up           5     -      -      -      0     0     0B',
        "  leaving (the migration's old servers)",
        '    10.0.2.9:11211      up           2     -      -      -      0     0     0B',
      ].join('\n'),
    );
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  });

  it('fits every width from 20 to 200 columns: no line longer, narrow ones drop the least useful columns first', () => {
    const v = view();
    for (let width = 20; width <= 200; width++) {
      for (const line of renderTop(v, width)) expect(line.length, `${width}: ${line}`).toBeLessThanOrEqual(width);
    }
    const header = (w: number): string => renderTop(v, w).find((l) => l.startsWith('SERVER'))!;
    expect(header(80)).toContain('QUEUED');
    expect(header(70)).not.toContain('QUEUED');
    expect(header(70)).toContain('INFL');
    expect(header(50)).toMatch(/STATE +OPS\/S +HIT% +P99ms$/);
    // The server column is cut in its middle: the port stays.
    expect(renderTop(v, 44).find((l) => l.includes('tko'))).toMatch(/^ {4}10\.…\.2:11211 +tko/);
  });

  it('without a width nothing is cut', () => {
    const lines = renderTop(view());
    expect(lines.some((l) => l.includes('…'))).toBe(false);
    expect(lines.some((l) => l.includes('probing every 2 s up to 30 s)'))).toBe(true);
  });

  it('fits the height, saying how many lines it left out', () => {
    const lines = renderTop(view(), 80, 10);
    expect(lines).toHaveLength(10);
    expect(lines[9]).toBe('… 8 more lines: a taller terminal shows them');
    expect(renderTop(view(), 80, 2)).toHaveLength(2);
  });

  it('the first sample shows "-" for every rate', () => {
    const lines = renderTop(topView(null, input(body(0, [pool('main', [['main', [backend('10.0.0.1:11211')]]])]))), 80);
    expect(lines[0]).toContain('first sample: rates follow');
    expect(lines[1]).toBe('clients 0  get -/s  hit -  set -/s  backend errors -/s');
    expect(lines.at(-1)).toBe('  10.0.0.1:11211 up           -     -      -      -      -     0     0B');
  });
});

describe('top formats', () => {
  it('cuts with an ellipsis, at the end or in the middle', () => {
    expect(fit('abcdef', 4)).toBe('abc…');
    expect(fit('abc', 4)).toBe('abc');
    expect(fit('abc', undefined)).toBe('abc');
    expect(fitMiddle('  127.0.0.1:11211', 13)).toBe('  127…1:11211');
    expect(fitMiddle('  short', 13)).toBe('  short');
  });

  it('rates, milliseconds and bytes stay narrow', () => {
    expect([formatRate(null), formatRate(0), formatRate(0.25), formatRate(12.4), formatRate(12_345), formatRate(2_500_000)]).toEqual(['-', '0', '0.3', '12', '12.3k', '2.5M']);
    expect([formatMs(null), formatMs(0.213), formatMs(12.34), formatMs(250.4)]).toEqual(['-', '0.21', '12.3', '250']);
    expect([formatBytes(0), formatBytes(512), formatBytes(1536), formatBytes(20 * 1024 * 1024)]).toEqual(['0B', '512B', '1.5K', '20M']);
  });
});
