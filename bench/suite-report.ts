/**
 * The data-path table (bench/suite.ts): its loads, their targets from issue 15, and the rows made
 * from the samples. Pure, so the unit tests check the arithmetic and the verdicts.
 */

export const TARGETS = ['direct', 'nutcracker', 'memshift'] as const;
export type TargetName = (typeof TARGETS)[number];

export type LoadId = 'memcaslap' | 'get1' | 'get16' | 'multiget' | 'large' | 'p99';

export interface LoadParams {
  readonly concurrency: number;
  readonly threads: number;
  readonly rate: number;
}

interface LoadDef {
  readonly id: LoadId;
  readonly label: (p: LoadParams) => string;
  readonly unit: string;
  /** memshift / nutcracker must be at least (higher) or at most (lower) `target`. */
  readonly better: 'higher' | 'lower';
  readonly target: number;
}

export const LOADS: readonly LoadDef[] = [
  { id: 'memcaslap', label: (p) => `memcaslap -T ${p.threads} -c ${p.concurrency}, 9:1 get:set, 100 B`, unit: 'TPS', better: 'higher', target: 1.0 },
  { id: 'get1', label: (p) => `single gets, ${p.concurrency} conns, depth 1`, unit: 'gets/s', better: 'higher', target: 1.0 },
  { id: 'get16', label: (p) => `pipelined gets, ${p.concurrency} conns, depth 16`, unit: 'gets/s', better: 'higher', target: 1.3 },
  { id: 'multiget', label: (p) => `multi-get of 10 keys, memcaslap -d 10 -c ${p.concurrency}`, unit: 'TPS', better: 'higher', target: 1.0 },
  { id: 'large', label: (p) => `10 KB values, memcaslap -X 10240 -c ${p.concurrency}`, unit: 'TPS', better: 'higher', target: 1.0 },
  { id: 'p99', label: (p) => `p99 latency at ${p.rate.toLocaleString('en-US')} gets/s offered, ${p.concurrency} conns`, unit: 'µs', better: 'lower', target: 1.0 },
];

/** The CPU row: memshift's CPU time per op against nutcracker's, in the memcaslap load. */
const CPU_ROW = { id: 'cpu', label: 'CPU time per op, memcaslap load (from /proc)', unit: 'µs', better: 'lower', target: 1.1 } as const;

/** One run of one load on one target. */
export interface Measured {
  readonly round: number;
  readonly load: LoadId;
  readonly target: TargetName;
  /** The load's measure: its rate, or for p99 the latency in µs. */
  readonly value: number;
  /** The target process's CPU time (user + system) per op, in µs. */
  readonly cpuUs: number;
  readonly detail?: Record<string, number>;
}

export interface SuiteRow {
  readonly id: LoadId | 'cpu';
  readonly label: string;
  readonly unit: string;
  readonly runs: number;
  /** Medians over the rounds. */
  readonly values: Record<TargetName, number>;
  /** memshift's CPU µs per op in this load, and nutcracker's (medians). */
  readonly cpuUs: Record<TargetName, number>;
  /** memshift / nutcracker. */
  readonly ratio: number;
  readonly better: 'higher' | 'lower';
  readonly target: number;
  readonly met: boolean;
}

type Median = (values: readonly number[]) => number;

function verdict(ratio: number, better: 'higher' | 'lower', target: number): boolean {
  if (!Number.isFinite(ratio)) return false;
  return better === 'higher' ? ratio >= target : ratio <= target;
}

export function suiteRows(samples: readonly Measured[], loads: readonly LoadId[], p: LoadParams, median: Median): SuiteRow[] {
  const med = (load: LoadId, target: TargetName, f: (m: Measured) => number): number =>
    median(samples.filter((s) => s.load === load && s.target === target).map(f));
  const perTarget = (load: LoadId, f: (m: Measured) => number): Record<TargetName, number> =>
    Object.fromEntries(TARGETS.map((t) => [t, med(load, t, f)])) as Record<TargetName, number>;
  const rows: SuiteRow[] = [];
  for (const def of LOADS) {
    if (!loads.includes(def.id)) continue;
    const values = perTarget(def.id, (m) => m.value);
    const cpu = perTarget(def.id, (m) => m.cpuUs);
    const ratio = values.memshift / values.nutcracker;
    const runs = samples.filter((s) => s.load === def.id && s.target === 'memshift').length;
    rows.push({ id: def.id, label: def.label(p), unit: def.unit, runs, values, cpuUs: cpu, ratio, better: def.better, target: def.target, met: verdict(ratio, def.better, def.target) });
    if (def.id === 'memcaslap') {
      const r = cpu.memshift / cpu.nutcracker;
      rows.push({ ...CPU_ROW, runs, values: cpu, cpuUs: cpu, ratio: r, met: verdict(r, CPU_ROW.better, CPU_ROW.target) });
    }
  }
  return rows;
}

const num = (n: number, digits = 0): string => (Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }) : '-');

/** The table, as Markdown (it goes into the README and docs as is). */
export function formatSuite(rows: readonly SuiteRow[], machine: Record<string, string | number>, o: { rounds: number; durationS: number }): string {
  const out = [
    `${o.rounds} round(s) × ${o.durationS} s per load and target, medians; nutcracker and memshift over the same 3 memcached.`,
    `Machine: ${machine['host']}, ${machine['cores']} × ${machine['cpu']}, ${machine['memory_gb']} GB, Node ${machine['node']}, ${machine['date']}.`,
    '',
    '| workload | unit | direct | nutcracker | memshift | memshift / nutcracker | target | met | CPU µs/op nutcracker / memshift |',
    '|---|---|---:|---:|---:|---:|---|---|---:|',
  ];
  for (const r of rows) {
    const digits = r.id === 'cpu' ? 1 : 0;
    const target = `${r.better === 'higher' ? '≥' : '≤'} ${r.target.toFixed(1)}×`;
    const cpu = r.id === 'cpu' ? '' : `${num(r.cpuUs.nutcracker, 1)} / ${num(r.cpuUs.memshift, 1)}`;
    out.push(
      `| ${r.label} | ${r.unit} | ${num(r.values.direct, digits)} | ${num(r.values.nutcracker, digits)} | ${num(r.values.memshift, digits)} | ${Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '-'} | ${target} | ${r.met ? 'yes' : 'no'} | ${cpu} |`,
    );
  }
  out.push(
    '',
    'Rates: higher is better; latency and CPU: lower is better. A ratio is memshift\'s value over nutcracker\'s.',
    'CPU is each target process\'s own (user + system) over the ops of its run: memcached\'s for direct, not the backends\' for the proxies.',
  );
  return out.join('\n');
}
