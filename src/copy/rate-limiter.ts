/**
 * Pacing for a copy: token buckets for keys/s and (optionally) bytes/s, and an eviction watch that
 * slows the copy down when the target starts evicting.
 *
 * - `TokenBucket` works on debt: `take(n)` always reserves its tokens at once, and waits until the
 *   balance is back to zero. Concurrent callers therefore queue fairly with no lock, and an item
 *   larger than the burst still passes (it just pays for itself afterwards). The burst is
 *   `burstSeconds` worth of tokens (default 50 ms), so a copy never runs ahead by much.
 * - `EvictionWatch` polls the targets' `stats` `evictions` every second. While the counter grows the
 *   rate factor halves (down to `minFactor`); once it stops growing the factor recovers by
 *   `recoverStep` per poll (additive increase, multiplicative decrease, like TCP). A copy that fills
 *   the target past its memory would otherwise evict what it just copied, and a miss storm follows.
 *
 * Time comes from a `Clock` so tests can drive it.
 */
import { sleep } from './sleep.js';

export interface Clock {
  /** Milliseconds, monotonic enough for pacing. */
  now(): number;
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => performance.now(), sleep };

export class TokenBucket {
  readonly #clock: Clock;
  readonly #baseRate: number;
  readonly #burstSeconds: number;
  #factor = 1;
  #tokens: number;
  #last: number;

  /** `ratePerSec` of Infinity means unlimited. */
  constructor(ratePerSec: number, opts: { burstSeconds?: number; clock?: Clock } = {}) {
    if (!(ratePerSec > 0)) throw new RangeError(`rate must be > 0 (Infinity for unlimited), got ${ratePerSec}`);
    this.#clock = opts.clock ?? systemClock;
    this.#baseRate = ratePerSec;
    this.#burstSeconds = opts.burstSeconds ?? 0.05;
    this.#tokens = this.burst;
    this.#last = this.#clock.now();
  }

  /** The rate in force: the base rate times the factor. */
  get rate(): number {
    return this.#baseRate * this.#factor;
  }

  /** Tokens that may be taken at once: `burstSeconds` of the rate, at least 1. */
  get burst(): number {
    return Math.max(1, this.rate * this.#burstSeconds);
  }

  get factor(): number {
    return this.#factor;
  }

  /** Scales the rate (0 < factor ≤ 1); tokens already owed are kept. */
  set factor(f: number) {
    this.#refill();
    this.#factor = Math.min(1, Math.max(f, 1e-6));
    this.#tokens = Math.min(this.#tokens, this.burst);
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last) / 1000;
    this.#last = now;
    this.#tokens = Math.min(this.burst, this.#tokens + elapsed * this.rate);
  }

  /** Reserves `n` tokens and returns how long to wait (ms) before using them; 0 when they are there. */
  reserve(n: number): number {
    if (this.#baseRate === Infinity) return 0;
    this.#refill();
    this.#tokens -= n;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.rate) * 1000;
  }

  /** Waits until `n` tokens are paid for. */
  async take(n = 1, signal?: AbortSignal): Promise<void> {
    const wait = this.reserve(n);
    if (wait > 0) await this.#clock.sleep(wait, signal);
  }
}

export interface RateLimiterOptions {
  keysPerSec: number;
  bytesPerSec?: number;
  burstSeconds?: number;
  clock?: Clock;
}

/** Keys/s and optional bytes/s buckets sharing one rate factor. */
export class RateLimiter {
  readonly keys: TokenBucket;
  readonly bytes: TokenBucket | null;

  constructor(opts: RateLimiterOptions) {
    const o = { burstSeconds: opts.burstSeconds, clock: opts.clock };
    this.keys = new TokenBucket(opts.keysPerSec, o);
    this.bytes = opts.bytesPerSec === undefined ? null : new TokenBucket(opts.bytesPerSec, o);
  }

  get factor(): number {
    return this.keys.factor;
  }

  set factor(f: number) {
    this.keys.factor = f;
    if (this.bytes !== null) this.bytes.factor = f;
  }

  acquireKey(signal?: AbortSignal): Promise<void> {
    return this.keys.take(1, signal);
  }

  acquireBytes(n: number, signal?: AbortSignal): Promise<void> {
    return this.bytes === null || n <= 0 ? Promise.resolve() : this.bytes.take(n, signal);
  }

  snapshot(): { keysPerSec: number; bytesPerSec: number | null; factor: number } {
    return { keysPerSec: this.keys.rate, bytesPerSec: this.bytes?.rate ?? null, factor: this.factor };
  }
}

export interface EvictionPolicy {
  /** Lowest factor (default 1/64). */
  minFactor?: number;
  /** Added per quiet poll (default 0.05: from the floor back to full speed in ~20 s). */
  recoverStep?: number;
}

/**
 * Whether the evictions counter grew between two polls (`prev` null: the first reading). A counter
 * that went down (a restarted server) is no growth.
 */
export function evictionsGrew(prev: number | null, curr: number): boolean {
  return prev !== null && curr > prev;
}

/** The rate factor after one poll: halved (to `minFactor`) when evictions grew, else raised by `recoverStep` (to 1). */
export function nextFactor(grew: boolean, factor: number, policy: EvictionPolicy = {}): number {
  if (grew) return Math.max(policy.minFactor ?? 1 / 64, factor / 2);
  return Math.min(1, factor + (policy.recoverStep ?? 0.05));
}

export interface EvictionWatchOptions extends EvictionPolicy {
  /** Called with the new factor after every poll that changes it. */
  onFactor: (factor: number) => void;
  /** Default 1000. */
  intervalMs?: number;
}

/** Polls each registered evictions reader every `intervalMs`; growth on any target slows the copy. */
export class EvictionWatch {
  readonly #opts: EvictionWatchOptions;
  readonly #readers = new Map<string, { read: () => Promise<number>; last: number | null }>();
  #factor = 1;
  #timer: NodeJS.Timeout | null = null;
  #polling = false;
  /** Polls in which some target's evictions grew. */
  slowdowns = 0;

  constructor(opts: EvictionWatchOptions) {
    this.#opts = opts;
  }

  get factor(): number {
    return this.#factor;
  }

  /** Registers a target (once per id); `read` returns its `evictions` counter. */
  add(id: string, read: () => Promise<number>): void {
    if (!this.#readers.has(id)) this.#readers.set(id, { read, last: null });
  }

  start(): void {
    this.#timer ??= setInterval(() => void this.poll(), this.#opts.intervalMs ?? 1_000);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One poll of every target (exposed for tests). A failed read counts as no growth. */
  async poll(): Promise<void> {
    if (this.#polling) return;
    this.#polling = true;
    try {
      let grew = false;
      await Promise.all(
        [...this.#readers.values()].map(async (r) => {
          try {
            const curr = await r.read();
            if (evictionsGrew(r.last, curr)) grew = true;
            r.last = curr;
          } catch {
            // a target that cannot answer stats is the copier's problem, not a reason to pace
          }
        }),
      );
      const next = nextFactor(grew, this.#factor, this.#opts);
      if (grew) this.slowdowns++;
      if (next !== this.#factor) {
        this.#factor = next;
        this.#opts.onFactor(next);
      }
    } finally {
      this.#polling = false;
    }
  }
}
