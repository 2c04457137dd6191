/**
 * Reads what memcaslap (libmemcached's memaslap, v1.0) prints.
 *
 * Always printed at the end: `cmd_get: N`, `cmd_set: N`, `get_misses: N`, … and
 *   `Run time: 10.0s Ops: 1114206 TPS: 111386 Net_rate: 26.4M/s`
 * Only with `-S <freq>`: a `Get|Set|Total Statistics` table per period (cleared with an ANSI
 * escape), and at the end one block per command type:
 *   Total Statistics (196584 events)
 *      Min:        21
 *      Max:     20404
 *      Avg:       764
 *      Geo:    601.10
 *      Std:    676.17
 *      Log2 Dist:
 *          4:        0       12      651     6524
 *          8:    16521    44596    82900    42008
 * Times are microseconds. memaslap has no percentiles: the `Log2 Dist` row `i:` holds the counts
 * of buckets i, i+1, i+2, i+3, where bucket b counts the responses t with 2^(b-1) < t <= 2^b µs
 * (ms_stats.c `ms_local_log2`: the smallest b with 2^b >= t). `percentileFromLog2` estimates a
 * percentile from it.
 */

export interface LatencyStats {
  readonly events: number;
  readonly minUs: number;
  readonly maxUs: number;
  readonly avgUs: number;
  readonly geoUs: number;
  /** Absent when memaslap saw a single event. */
  readonly stdUs?: number;
  /** `log2Dist[b]`: responses with 2^(b-1) < t <= 2^b µs (bucket 0: t <= 1). */
  readonly log2Dist: readonly number[];
}

export interface MemcaslapResult {
  readonly runTimeS: number;
  readonly ops: number;
  readonly tps: number;
  /** As printed, e.g. `26.4M/s`. */
  readonly netRate: string;
  readonly cmdGet: number;
  readonly cmdSet: number;
  readonly getMisses: number;
  /** Present only when memcaslap ran with `-S`. */
  readonly get?: LatencyStats;
  readonly set?: LatencyStats;
  readonly total?: LatencyStats;
  /** Lines that look like complaints (error, fail, unexpected, …), for the report. */
  readonly problems: readonly string[];
}

const RUN_LINE = /^Run time:\s*([\d.]+)s\s+Ops:\s*(\d+)\s+TPS:\s*(\d+)\s+Net_rate:\s*(\S+)/;
const BLOCK_HEAD = /^(Get|Set|Total) Statistics \((\d+) events\)$/;
const PROBLEM = /error|fail|unexpected|refused|timed? ?out|abort/i;

function counter(lines: readonly string[], name: string): number {
  const line = lines.find((l) => l.startsWith(`${name}:`));
  return line === undefined ? 0 : Number(line.slice(name.length + 1).trim());
}

/** One `X Statistics (N events)` block starting at `lines[start]` (the header line). */
function readBlock(lines: readonly string[], start: number, events: number): LatencyStats {
  const fields = new Map<string, number>();
  const dist: number[] = [];
  let i = start + 1;
  for (; i < lines.length; i++) {
    const line = lines[i]?.trim() ?? '';
    const field = /^(Min|Max|Avg|Geo|Std):\s*([\d.]+)/.exec(line);
    if (field !== null) {
      fields.set(field[1] ?? '', Number(field[2]));
      continue;
    }
    if (line === 'Log2 Dist:') break;
    if (line === '') break;
  }
  for (i++; i < lines.length; i++) {
    const row = /^(\d+):((?:\s+\d+)+)$/.exec(lines[i]?.trim() ?? '');
    if (row === null) break;
    const base = Number(row[1]);
    (row[2] ?? '').trim().split(/\s+/).forEach((n, j) => (dist[base + j] = Number(n)));
  }
  for (let b = 0; b < dist.length; b++) dist[b] ??= 0;
  const need = (k: string): number => {
    const v = fields.get(k);
    if (v === undefined) throw new Error(`memcaslap output: statistics block at line ${start + 1} has no ${k}`);
    return v;
  };
  const std = fields.get('Std');
  return {
    events,
    minUs: need('Min'),
    maxUs: need('Max'),
    avgUs: need('Avg'),
    geoUs: need('Geo'),
    ...(std === undefined ? {} : { stdUs: std }),
    log2Dist: dist,
  };
}

/** Parses one memcaslap run's stdout+stderr. Throws when the final `Run time:` line is missing. */
export function parseMemcaslapOutput(text: string): MemcaslapResult {
  // The periodic tables start with ESC[1;1H ESC[2J (clear screen); drop escapes and CRs.
  // eslint-disable-next-line no-control-regex
  const lines = text.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').replace(/\r/g, '').split('\n');
  const run = lines.map((l) => RUN_LINE.exec(l.trim())).find((m) => m !== null);
  if (run === undefined || run === null) {
    throw new Error(`memcaslap output has no "Run time: … TPS: …" line:\n${lines.slice(-15).join('\n')}`);
  }
  const blocks: Partial<Record<'get' | 'set' | 'total', LatencyStats>> = {};
  lines.forEach((line, i) => {
    const head = BLOCK_HEAD.exec(line.trim());
    if (head === null) return;
    const kind = (head[1] ?? '').toLowerCase() as 'get' | 'set' | 'total';
    blocks[kind] = readBlock(lines, i, Number(head[2]));
  });
  return {
    runTimeS: Number(run[1]),
    ops: Number(run[2]),
    tps: Number(run[3]),
    netRate: run[4] ?? '',
    cmdGet: counter(lines, 'cmd_get'),
    cmdSet: counter(lines, 'cmd_set'),
    getMisses: counter(lines, 'get_misses'),
    ...blocks,
    problems: lines.map((l) => l.trim()).filter((l) => PROBLEM.test(l)),
  };
}

/**
 * An estimate of the q-quantile (0 < q <= 1) in µs from memaslap's log2 histogram: the bucket
 * where the cumulative count reaches q·events, interpolated linearly inside (2^(b-1), 2^b], then
 * clamped to [min, max]. The true value lies in that bucket, so the error is at most a factor 2.
 */
export function percentileFromLog2(stats: LatencyStats, q: number): number {
  const total = stats.log2Dist.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  const target = q * total;
  let seen = 0;
  for (let b = 0; b < stats.log2Dist.length; b++) {
    const n = stats.log2Dist[b] ?? 0;
    if (n > 0 && seen + n >= target) {
      const lo = b === 0 ? 0 : 2 ** (b - 1);
      const hi = 2 ** b;
      const est = lo + ((target - seen) / n) * (hi - lo);
      return Math.min(stats.maxUs, Math.max(stats.minUs, Math.round(est)));
    }
    seen += n;
  }
  return stats.maxUs;
}
