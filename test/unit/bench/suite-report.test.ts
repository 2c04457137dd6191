/** The data-path bench's rows: medians, memshift / nutcracker, the targets and the verdicts (bench/suite-report.ts). */
import { describe, expect, it } from 'vitest';
import { formatSuite, suiteRows, type LoadId, type Measured, type TargetName } from '../../../bench/suite-report.js';
import { median } from '../../../bench/report.js';

const P = { concurrency: 50, threads: 1, rate: 10_000 };

function runs(load: LoadId, values: Record<TargetName, number[]>, cpu: Partial<Record<TargetName, number[]>> = {}): Measured[] {
  return (Object.keys(values) as TargetName[]).flatMap((target) =>
    values[target].map((value, i) => ({ round: i + 1, load, target, value, cpuUs: cpu[target]?.[i] ?? Number.NaN })),
  );
}

describe('suiteRows', () => {
  it('takes medians over the rounds and compares memshift with nutcracker against the target', () => {
    const samples = [
      ...runs('memcaslap', { direct: [60, 61, 62], nutcracker: [48, 50, 49], memshift: [45, 52, 44] }, { nutcracker: [17, 18, 17.5], memshift: [20, 21, 19] }),
      ...runs('get16', { direct: [1, 1, 1], nutcracker: [100, 100, 100], memshift: [130, 140, 120] }),
    ];
    const rows = suiteRows(samples, ['memcaslap', 'get16'], P, median);
    expect(rows.map((r) => r.id)).toEqual(['memcaslap', 'cpu', 'get16']);
    const [caslap, cpu, deep] = rows;
    expect(caslap!.values).toEqual({ direct: 61, nutcracker: 49, memshift: 45 });
    expect(caslap!.ratio).toBeCloseTo(45 / 49, 6);
    expect(caslap!.met).toBe(false);
    expect(cpu!.values.memshift).toBe(20);
    expect(cpu!.ratio).toBeCloseTo(20 / 17.5, 6);
    expect(cpu!.met).toBe(false); // 1.14 > 1.1
    expect(deep!.ratio).toBeCloseTo(1.3, 6);
    expect(deep!.met).toBe(true); // exactly the target counts as met
  });

  it('judges the latency row lower-is-better, and a missing target as not met', () => {
    const rows = suiteRows([...runs('p99', { direct: [300], nutcracker: [900], memshift: [800] }), ...runs('large', { direct: [5], nutcracker: [], memshift: [4] })], ['p99', 'large'], P, median);
    expect(rows.find((r) => r.id === 'p99')!.met).toBe(true);
    const large = rows.find((r) => r.id === 'large')!;
    expect(Number.isNaN(large.ratio)).toBe(true);
    expect(large.met).toBe(false);
  });

  it('prints one Markdown row per load with its target and verdict, and the machine', () => {
    const rows = suiteRows(runs('get1', { direct: [50_000], nutcracker: [40_000], memshift: [41_200] }, { nutcracker: [20], memshift: [22] }), ['get1'], P, median);
    const text = formatSuite(rows, { host: 'vm', cores: 2, cpu: 'EPYC', memory_gb: 8, node: 'v20', date: 'today' }, { rounds: 3, durationS: 10 });
    expect(text).toContain('Machine: vm, 2 × EPYC, 8 GB, Node v20, today.');
    expect(text).toContain('| single gets, 50 conns, depth 1 | gets/s | 50,000 | 40,000 | 41,200 | 1.03× | ≥ 1.0× | yes | 20.0 / 22.0 |');
  });
});
