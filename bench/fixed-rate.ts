/**
 * Latency at a fixed offered rate: `connections` sockets share `rate` gets per second, each get sent
 * at its scheduled time (to the millisecond tick) whether or not the ones before it were answered:
 * an open loop, so a target that stalls has every get sent meanwhile wait, and each one's latency
 * shows it (no coordinated omission). A get's latency runs from its write to its END; the time it
 * waited for the client's next tick is the client's, not the target's, and is not counted.
 * memcaslap's `-P` does not throttle in the Debian build, and its latency histogram has log2
 * buckets; this gives exact percentiles. The keys are bench/pipeline.ts's, preloaded with 100-byte
 * values, so every get is a hit.
 */
import net from 'node:net';
import { keyOf } from './pipeline.js';

export interface FixedRateSpec {
  readonly host: string;
  readonly port: number;
  readonly durationS: number;
  readonly connections: number;
  /** Gets per second over all connections. */
  readonly rate: number;
}

export interface FixedRateResult {
  /** Gets answered per second. */
  readonly answered: number;
  /** Gets scheduled but not sent (the socket could not take them): 0 unless the target fell far behind. */
  readonly unsent: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly p999Us: number;
  readonly maxUs: number;
}

const END = Buffer.from('END\r\n');
/** A connection with this many gets unanswered sends no more (their latency still counts). */
const MAX_OUTSTANDING = 1000;

/** The value at quantile `q` of sorted `v` (nearest rank). */
export function quantile(v: Float64Array, q: number): number {
  if (v.length === 0) return Number.NaN;
  return v[Math.min(v.length - 1, Math.max(0, Math.ceil(q * v.length) - 1))]!;
}

export async function runFixedRate(spec: FixedRateSpec): Promise<FixedRateResult> {
  const total = Math.ceil(spec.rate * spec.durationS);
  const latencies = new Float64Array(total);
  let answered = 0;
  let unsent = 0;
  const start = performance.now() + 50;
  const intervalMs = 1000 / spec.rate;
  const sockets = await Promise.all(Array.from({ length: spec.connections }, () => connect(spec.host, spec.port)));
  const queues = sockets.map(() => [] as number[]);
  const carry: Buffer[] = sockets.map(() => Buffer.alloc(0));
  const done = new Promise<void>((resolve, reject) => {
    sockets.forEach((s, c) => {
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        const prev = carry[c]!;
        const b = prev.length === 0 ? d : Buffer.concat([prev, d]);
        const t = performance.now();
        for (let at = b.indexOf(END); at !== -1; at = b.indexOf(END, at + END.length)) {
          const sentAt = queues[c]!.shift();
          if (sentAt !== undefined && answered < total) latencies[answered++] = (t - sentAt) * 1000;
        }
        carry[c] = b.subarray(Math.max(0, b.length - (END.length - 1)));
        if (n >= total && answered + unsent >= total) resolve();
      });
    });
  });
  /** Gets whose time has come (sent, or counted unsent). */
  let n = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    // Every get whose time has come, round-robin over the connections.
    while (n < total && start + n * intervalMs <= now) {
      const c = n % sockets.length;
      n++;
      if (queues[c]!.length >= MAX_OUTSTANDING) {
        unsent++;
        continue;
      }
      queues[c]!.push(now);
      sockets[c]!.write(`get ${keyOf(n)}\r\n`);
    }
    if (n >= total) clearInterval(timer);
  }, 1);
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, spec.durationS * 1000 + 10_000).unref());
  try {
    await Promise.race([done, deadline]);
  } finally {
    clearInterval(timer);
    for (const s of sockets) s.destroy();
  }
  const got = latencies.subarray(0, answered).sort();
  return {
    answered: Math.round(answered / spec.durationS),
    unsent,
    p50Us: Math.round(quantile(got, 0.5)),
    p99Us: Math.round(quantile(got, 0.99)),
    p999Us: Math.round(quantile(got, 0.999)),
    maxUs: Math.round(got.length > 0 ? got[got.length - 1]! : Number.NaN),
  };
}

function connect(host: string, port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => resolve(s));
    s.setNoDelay(true);
    s.once('error', reject);
  });
}
