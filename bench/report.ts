/** Medians per target, memshift's ratios, and the printed table. */
import { percentileFromLog2, type MemcaslapResult } from './memcaslap-output.js';

export const TARGETS = ['direct', 'nutcracker', 'memshift'] as const;
export type TargetName = (typeof TARGETS)[number];

/** One memcaslap run. Latencies are memaslap's "Total" (get and set together), in µs. */
/** What one memcaslap run measured. */
export interface Measures {
  readonly tps: number;
  readonly ops: number;
  readonly avgUs: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly getMisses: number;
  readonly problems: readonly string[];
}

export interface Sample extends Measures {
  readonly round: number;
  readonly target: TargetName;
}

export interface TargetSummary {
  readonly target: TargetName;
  readonly runs: number;
  readonly tps: number;
  readonly avgUs: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Summed over the runs. */
  readonly getMisses: number;
}

export interface Ratio {
  readonly vs: TargetName;
  /** memshift TPS / other TPS: above 1 is faster. */
  readonly tps: number;
  /** memshift latency / other latency: above 1 is slower. */
  readonly avgLatency: number;
  readonly p99Latency: number;
}

/** What one memcaslap run measured: throughput, latency (p99 from its log2 histogram), misses, problems. */
export function measuresOf(r: MemcaslapResult): Measures {
  const t = r.total;
  return {
    tps: r.tps,
    ops: r.ops,
    avgUs: t?.avgUs ?? Number.NaN,
    p99Us: t === undefined ? Number.NaN : percentileFromLog2(t, 0.99),
    maxUs: t?.maxUs ?? Number.NaN,
    getMisses: r.getMisses,
    problems: r.problems,
  };
}

export function sampleFrom(round: number, target: TargetName, r: MemcaslapResult): Sample {
  return { round, target, ...measuresOf(r) };
}

export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? Number.NaN) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

export function summarize(samples: readonly Sample[]): TargetSummary[] {
  return TARGETS.map((target) => {
    const mine = samples.filter((s) => s.target === target);
    const med = (f: (s: Sample) => number): number => median(mine.map(f));
    return {
      target,
      runs: mine.length,
      tps: med((s) => s.tps),
      avgUs: med((s) => s.avgUs),
      p99Us: med((s) => s.p99Us),
      maxUs: med((s) => s.maxUs),
      getMisses: mine.reduce((a, s) => a + s.getMisses, 0),
    };
  });
}

export function ratios(summaries: readonly TargetSummary[]): Ratio[] {
  const by = (t: TargetName): TargetSummary | undefined => summaries.find((s) => s.target === t && s.runs > 0);
  const ms = by('memshift');
  if (ms === undefined) return [];
  return (['direct', 'nutcracker'] as const).flatMap((vs) => {
    const o = by(vs);
    return o === undefined ? [] : [{ vs, tps: ms.tps / o.tps, avgLatency: ms.avgUs / o.avgUs, p99Latency: ms.p99Us / o.p99Us }];
  });
}

const num = (n: number, digits = 0): string => (Number.isNaN(n) ? '-' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const x = (n: number): string => (Number.isFinite(n) ? `x${n.toFixed(2)}` : '-');

export function formatTable(summaries: readonly TargetSummary[], rs: readonly Ratio[]): string {
  const head = ['target', 'runs', 'median TPS', 'avg µs', 'p99≈ µs', 'max µs', 'get_misses'];
  const rows = summaries.map((s) => [s.target, String(s.runs), num(s.tps), num(s.avgUs), num(s.p99Us), num(s.maxUs), num(s.getMisses)]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  const out = [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ''];
  for (const r of rs) {
    out.push(`memshift vs ${r.vs.padEnd(10)}  TPS ${x(r.tps)}   avg latency ${x(r.avgLatency)}   p99≈ latency ${x(r.p99Latency)}`);
  }
  out.push(
    '',
    'Medians over the rounds. Latency is memaslap\'s "Total" (get+set), in µs. memaslap prints no percentiles:',
    'p99≈ is read from its log2 latency histogram (the right bucket, linear inside it, so within a factor 2).',
    'TPS ratio above 1 means memshift is faster; latency ratio above 1 means memshift is slower.',
  );
  return out.join('\n');
}
