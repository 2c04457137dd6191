/**
 * A latency histogram in a typed array, for the hot path: `observe` is a short loop and two adds,
 * with no allocation and no prom-client call. /metrics reads it at scrape time (FIELD-NOTES §5).
 */

/** Upper bounds in seconds (Prometheus `le`), from 100 µs to 1 s. */
export const LATENCY_BUCKETS_SEC = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1] as const;

export class LatencyHistogram {
  readonly #boundsMs: readonly number[];
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly counts: Float64Array;
  sumSec = 0;
  count = 0;

  /** `bucketsSec`: the upper bounds in seconds, ascending. */
  constructor(readonly bucketsSec: readonly number[] = LATENCY_BUCKETS_SEC) {
    this.#boundsMs = bucketsSec.map((s) => s * 1000);
    this.counts = new Float64Array(bucketsSec.length + 1);
  }

  observe(ms: number): void {
    const bounds = this.#boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumSec += ms / 1000;
    this.count++;
  }

  /** Adds another histogram's observations to this one (several connections to one backend). */
  merge(other: LatencyHistogram): void {
    if (other.counts.length !== this.counts.length) throw new Error('LatencyHistogram.merge: different buckets');
    for (let i = 0; i < this.counts.length; i++) this.counts[i]! += other.counts[i]!;
    this.sumSec += other.sumSec;
    this.count += other.count;
  }
}

/**
 * The q-quantile (0..1) in seconds of per-bucket counts (`counts[i]` observations at most
 * `boundsSec[i]`, the last slot +Inf), interpolated linearly inside its bucket as Prometheus's
 * histogram_quantile does; in the +Inf bucket, the highest finite bound. Null without observations.
 */
export function bucketQuantile(q: number, boundsSec: readonly number[], counts: ArrayLike<number>): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i]!;
  if (!(total > 0)) return null;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i]!;
    if (n > 0 && below + n >= rank) {
      if (i >= boundsSec.length) return boundsSec[boundsSec.length - 1] ?? null;
      const lower = i === 0 ? 0 : boundsSec[i - 1]!;
      return lower + (boundsSec[i]! - lower) * ((rank - below) / n);
    }
    below += n;
  }
  return boundsSec[boundsSec.length - 1] ?? null;
}
