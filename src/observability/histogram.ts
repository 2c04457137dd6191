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
