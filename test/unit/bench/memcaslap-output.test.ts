import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseMemcaslapOutput, percentileFromLog2, type LatencyStats } from '../../../bench/memcaslap-output.js';

// Real output of `memcaslap -s 127.0.0.1:PORT -T 1 -c 50 -t 3s -X 100` against memcached 1.6.18,
// once with `-S 3s` (latency tables and histograms) and once without.
const fixture = (name: string): string => readFileSync(new URL(`../../../bench/fixtures/${name}`, import.meta.url), 'utf8');

describe('parseMemcaslapOutput', () => {
  it('reads the summary, the counters and the three latency blocks of a -S run', () => {
    const text = fixture('memcaslap-with-stats.txt');
    expect(text).toContain('\x1b[2J'); // the periodic table's clear-screen escape is really there
    const r = parseMemcaslapOutput(text);
    expect(r).toMatchObject({ runTimeS: 3, ops: 196634, tps: 65512, netRate: '15.5M/s', cmdGet: 176947, cmdSet: 19687, getMisses: 0 });
    expect(r.problems).toEqual([]);
    expect(r.get?.events).toBe(176902);
    expect(r.set?.events).toBe(19682);
    expect(r.set?.maxUs).toBe(13223);
    const total = r.total;
    expect(total).toMatchObject({ events: 196584, minUs: 21, maxUs: 20404, avgUs: 764, geoUs: 601.1, stdUs: 676.17 });
    expect(total?.log2Dist.slice(4)).toEqual([0, 12, 651, 6524, 16521, 44596, 82900, 42008, 2487, 589, 283, 13]);
    expect(total?.log2Dist.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(total?.log2Dist.reduce((a, b) => a + b, 0)).toBe(196584);
  });

  it('reads a run without -S: summary only, no latency', () => {
    const r = parseMemcaslapOutput(fixture('memcaslap-plain.txt'));
    expect(r).toMatchObject({ runTimeS: 3, ops: 192260, tps: 64049, cmdGet: 173013, cmdSet: 19247, getMisses: 0 });
    expect(r.total).toBeUndefined();
    expect(r.get).toBeUndefined();
  });

  it('throws with the tail of the output when there is no Run time line', () => {
    expect(() => parseMemcaslapOutput('servers: x\nconnect to server failed\n')).toThrow(/no "Run time/);
  });

  it('collects lines that look like errors', () => {
    const text = `${fixture('memcaslap-plain.txt')}\nUnexpected response from server\n`;
    expect(parseMemcaslapOutput(text).problems).toEqual(['Unexpected response from server']);
  });
});

describe('percentileFromLog2', () => {
  const total = parseMemcaslapOutput(fixture('memcaslap-with-stats.txt')).total as LatencyStats;

  it('interpolates inside the bucket that holds the quantile', () => {
    // p99: 194618.16 of 196584; 193212 are <= 2048 µs, bucket (2048, 4096] holds 2487.
    expect(percentileFromLog2(total, 0.99)).toBe(3206);
    // p50: 98292; 68304 are <= 512 µs, bucket (512, 1024] holds 82900.
    expect(percentileFromLog2(total, 0.5)).toBe(697);
  });

  it('clamps to min and max', () => {
    const s: LatencyStats = { events: 10, minUs: 70, maxUs: 90, avgUs: 80, geoUs: 80, log2Dist: [0, 0, 0, 0, 0, 0, 0, 10] };
    expect(percentileFromLog2(s, 0.01)).toBe(70);
    expect(percentileFromLog2(s, 1)).toBe(90);
  });

  it('handles bucket 0 and an empty histogram', () => {
    expect(percentileFromLog2({ events: 4, minUs: 0, maxUs: 1, avgUs: 0, geoUs: 0, log2Dist: [4] }, 0.5)).toBe(1);
    expect(percentileFromLog2({ events: 0, minUs: 0, maxUs: 0, avgUs: 0, geoUs: 0, log2Dist: [] }, 0.99)).toBeNaN();
  });
});
