/** What a memcaslap run measured, and the median the reports take over rounds. */
import { percentileFromLog2, type MemcaslapResult } from './memcaslap-output.js';

/** What one memcaslap run measured. Latencies are memaslap's "Total" (get and set together), in µs. */
export interface Measures {
  readonly tps: number;
  readonly ops: number;
  readonly avgUs: number;
  readonly p99Us: number;
  readonly maxUs: number;
  readonly getMisses: number;
  readonly problems: readonly string[];
}

/** Medians over the rounds of one kind of run. */
export interface TargetSummary {
  readonly target: string;
  readonly runs: number;
  readonly tps: number;
  readonly avgUs: number;
  readonly p99Us: number;
  readonly maxUs: number;
  /** Summed over the runs. */
  readonly getMisses: number;
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

export function median(values: readonly number[]): number {
  const v = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (v.length === 0) return Number.NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] ?? Number.NaN) : ((v[mid - 1] ?? 0) + (v[mid] ?? 0)) / 2;
}

