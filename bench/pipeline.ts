/**
 * A pipelined get load: `connections` sockets, each sending `depth` gets in one write and waiting
 * for all their replies before the next batch, for `durationS`. memcaslap keeps one request in
 * flight per connection; this measures the pipelined path (batching, cork/uncork, reply ordering).
 * Keys are preloaded with 100-byte values, so every get is a hit.
 */
import net from 'node:net';

export interface PipelineSpec {
  readonly host: string;
  readonly port: number;
  readonly durationS: number;
  readonly connections: number;
  readonly depth: number;
}

const KEYS = Array.from({ length: 1000 }, (_, i) => `bench:pipe:${i}`);
/** The n-th key of the preloaded set (wrapping). */
export const keyOf = (n: number): string => KEYS[n % KEYS.length]!;
const VALUE = 'v'.repeat(100);
const END = Buffer.from('END\r\n');

/** Sets the keys the load reads. */
export function preload(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host, () => s.write(`${KEYS.map((k) => `set ${k} 0 0 ${VALUE.length} noreply\r\n${VALUE}\r\n`).join('')}version\r\n`));
    s.on('data', (d: Buffer) => {
      if (d.includes('VERSION')) {
        s.destroy();
        resolve();
      }
    });
    s.on('error', reject);
  });
}

/** Runs the load; resolves to gets answered per second. */
export async function runPipeline(spec: PipelineSpec): Promise<number> {
  let answered = 0;
  const until = Date.now() + spec.durationS * 1000;
  const one = (c: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = net.connect(spec.port, spec.host);
      s.setNoDelay(true);
      let waiting = 0;
      let next = c * 37;
      let carry: Buffer = Buffer.alloc(0);
      const send = (): void => {
        if (Date.now() >= until) {
          s.destroy();
          resolve();
          return;
        }
        let batch = '';
        for (let i = 0; i < spec.depth; i++) batch += `get ${keyOf(next++)}\r\n`;
        waiting = spec.depth;
        s.write(batch);
      };
      s.on('connect', send);
      s.on('data', (d: Buffer) => {
        // Count END lines (a value of 'v's holds none); keep the last 4 bytes for one split across reads.
        const b = carry.length === 0 ? d : Buffer.concat([carry, d]);
        for (let at = b.indexOf(END); at !== -1; at = b.indexOf(END, at + END.length)) {
          waiting--;
          answered++;
        }
        carry = b.subarray(Math.max(0, b.length - (END.length - 1)));
        if (waiting === 0) send();
      });
      s.on('error', reject);
    });
  await Promise.all(Array.from({ length: spec.connections }, (_, c) => one(c)));
  return Math.round(answered / spec.durationS);
}
