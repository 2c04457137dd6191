/**
 * The copy runs in the proxy's own process (the sidecar that holds the lease), so it must never
 * starve the foreground: this watch samples the event loop's delay (perf_hooks) and halves the copy
 * rate while the loop lags, recovering step by step once it is quiet (the same policy as the
 * eviction watch, rate-limiter.ts). A lagging loop means client requests wait; a slower copy only
 * means a longer migration.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { nextFactor, type EvictionPolicy } from './rate-limiter.js';

const RESOLUTION_MS = 10;

export interface LoopLagOptions extends EvictionPolicy {
  onFactor: (factor: number) => void;
  /** How often the delay is judged (default 250 ms). */
  intervalMs?: number;
  /** The loop lags when the 99th percentile of its delay exceeds this (default 20 ms). */
  maxLagMs?: number;
}

export class LoopLagWatch {
  readonly #opts: LoopLagOptions;
  #histogram: IntervalHistogram | null = null;
  #timer: NodeJS.Timeout | null = null;
  #factor = 1;
  /** Intervals in which the loop lagged. */
  slowdowns = 0;

  constructor(opts: LoopLagOptions) {
    this.#opts = opts;
  }

  get factor(): number {
    return this.#factor;
  }

  start(): void {
    if (this.#timer !== null) return;
    const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
    h.enable();
    this.#histogram = h;
    this.#timer = setInterval(() => this.judge(h.percentile(99) / 1e6 - RESOLUTION_MS, h.count), this.#opts.intervalMs ?? 250);
    this.#timer.unref();
  }

  /** One judgement: `lagMs` is the interval's p99 delay beyond the timer's resolution (exposed for tests). */
  judge(lagMs: number, samples = 1): void {
    this.#histogram?.reset();
    if (samples === 0) return;
    const lagging = lagMs > (this.#opts.maxLagMs ?? 20);
    if (lagging) this.slowdowns++;
    const next = nextFactor(lagging, this.#factor, this.#opts);
    if (next !== this.#factor) {
      this.#factor = next;
      this.#opts.onFactor(next);
    }
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#histogram?.disable();
    this.#histogram = null;
  }
}
