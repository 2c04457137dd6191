/**
 * `npm run bench -- --workers 1,2 [--rounds N --duration 10s --concurrency 50 --threads 1 --depth 16 --json]`
 *
 * How memshift scales with `workers: N` (issue 15), in one interleaved run: memcached direct,
 * nutcracker, and memshift with each N of `--workers`, all over the same 3 memcached (the direct
 * one is its own), under memcaslap (9:1 get:set, one request in flight per connection) and under
 * pipelined gets (`--depth` in flight on each of 8 connections, bench/pipeline.ts). The order
 * rotates every round. Besides throughput it reads the CPU time memshift's processes used (the
 * primary and its workers, from /proc) during each run, as µs per request.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { memshiftConfig, startMemcached, startMemshift, startNutcracker, type MemcachedHandle, type ServerHandle } from '../test/support/harness.js';
import { ensureBuilt } from './build.js';
import { memcaslapBinary, runMemcaslap } from './memcaslap.js';
import { LOAD_FLAGS, loadOptions, positive } from './options.js';
import { preload, runPipeline } from './pipeline.js';
import { median } from './report.js';

const USAGE = `Usage: npm run bench -- --workers 1,2 [--rounds N] [--duration 10s] [--concurrency 50] [--threads 1] [--depth 16] [--json]

  memshift with each number of workers in the list against memcached direct and nutcracker,
  interleaved; memcaslap at one request in flight per connection, and pipelined gets at --depth in
  flight over 8 connections. Prints ops/s, memshift's CPU µs per request, and the scaling.
`;

export interface WorkersBenchEnv {
  readonly log: (line: string) => void;
  readonly stopping: () => boolean;
}

const LOADS = ['memcaslap', 'pipelined'] as const;
type Load = (typeof LOADS)[number];

/** CPU seconds (user + system) of `pid` and its children (a cluster primary's workers), from /proc. */
export function cpuSeconds(pid: number): number {
  const tick = 100; // USER_HZ on Linux
  const read = (p: string): { ppid: number; cpu: number } | null => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      return { ppid: Number(f[1]), cpu: (Number(f[11]) + Number(f[12])) / tick };
    } catch {
      return null;
    }
  };
  let total = read(String(pid))?.cpu ?? 0;
  for (const p of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    const s = read(p);
    if (s !== null && s.ppid === pid) total += s.cpu;
  }
  return total;
}

/** The `--workers` list: positive counts, in order. */
export function workerCounts(value: string): number[] {
  const counts = value.split(',').map((v) => positive('workers', v.trim()));
  if (counts.length === 0) throw new Error('--workers needs at least one count, such as 1,2');
  return counts;
}

export async function runWorkersBench(argv: string[], env: WorkersBenchEnv): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...LOAD_FLAGS, workers: { type: 'string', default: '1,2' }, depth: { type: 'string', default: '16' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts = loadOptions(values);
  const depth = positive('depth', values.depth);
  const counts = workerCounts(values.workers);
  memcaslapBinary();
  ensureBuilt(env.log);
  const fresh = (): Promise<MemcachedHandle> => startMemcached({ memoryMb: 256 });
  const [direct, ...servers] = await Promise.all([fresh(), fresh(), fresh(), fresh()]);
  const pool = { servers, hash: 'fnv1a_64', distribution: 'ketama' };
  const targets = new Map<string, ServerHandle>([
    ['direct', direct!],
    ['nutcracker', await startNutcracker(pool)],
  ]);
  for (const n of counts) targets.set(`memshift ×${n}`, await startMemshift(memshiftConfig({ pools: { main: pool }, workers: n }), { startTimeoutMs: 60_000 }));
  const names = [...targets.keys()];
  // The pipelined gets' keys, on the pool's servers (through nutcracker: the same ring) and on direct.
  for (const t of [targets.get('nutcracker')!, direct!]) await preload(t.host, t.port);
  const results = new Map<string, number[]>();
  const add = (key: string, v: number): void => void results.set(key, [...(results.get(key) ?? []), v]);
  for (let round = 1; round <= opts.rounds && !env.stopping(); round++) {
    const order = names.map((_, i) => names[(i + round - 1) % names.length]!);
    for (const name of order) {
      if (env.stopping()) break;
      const t = targets.get(name)!;
      const memshift = name.startsWith('memshift');
      const cpu0 = memshift ? cpuSeconds(t.pid) : 0;
      const run = await runMemcaslap({ host: t.host, port: t.port, durationS: opts.durationS, concurrency: opts.concurrency, threads: opts.threads, valueSize: 100 });
      const cpu1 = memshift ? cpuSeconds(t.pid) : 0;
      const piped = await runPipeline({ host: t.host, port: t.port, durationS: opts.durationS, connections: 8, depth });
      const cpu2 = memshift ? cpuSeconds(t.pid) : 0;
      add(`${name}/memcaslap`, run.result.tps);
      add(`${name}/pipelined`, piped);
      if (memshift) {
        add(`${name}/memcaslap/cpu_us`, run.result.ops > 0 ? ((cpu1 - cpu0) * 1e6) / run.result.ops : Number.NaN);
        add(`${name}/pipelined/cpu_us`, piped > 0 ? ((cpu2 - cpu1) * 1e6) / (piped * opts.durationS) : Number.NaN);
      }
      env.log(`round ${round}/${opts.rounds}: ${name}: memcaslap ${run.result.tps} TPS, pipelined (depth ${depth}) ${piped} gets/s`);
    }
  }
  if (env.stopping()) return 130;
  const med = (key: string): number => median(results.get(key) ?? []);
  const rows = LOADS.map((l: Load) => ({
    load: l === 'memcaslap' ? `memcaslap -T ${opts.threads} -c ${opts.concurrency} (1 in flight)` : `pipelined gets, depth ${depth} × 8`,
    ops: Object.fromEntries(names.map((n) => [n, Math.round(med(`${n}/${l}`))])),
    cpuUs: Object.fromEntries(names.filter((n) => n.startsWith('memshift')).map((n) => [n, Math.round(med(`${n}/${l}/cpu_us`) * 10) / 10])),
  }));
  const first = `memshift ×${counts[0]!}`;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ options: { ...opts, depth, workers: counts }, results: Object.fromEntries(results), rows }, null, 2)}\n`);
    return 0;
  }
  const lines = [`\n${opts.rounds} round(s) × ${opts.durationS}s per load, medians; memshift and nutcracker over 3 memcached\n`];
  const memshifts = names.filter((n) => n.startsWith('memshift'));
  lines.push(`| load | ${names.map((n) => `${n} ops/s`).join(' | ')} | ${memshifts.slice(1).map((n) => `${n} / ${first}`).join(' | ')} | ${memshifts.map((n) => `${n} / nutcracker`).join(' | ')} | ${memshifts.map((n) => `${n} CPU µs/op`).join(' | ')} |`);
  lines.push(`|---|${names.map(() => '---:').join('|')}|${memshifts.slice(1).map(() => '---:').join('|')}|${memshifts.map(() => '---:').join('|')}|${memshifts.map(() => '---:').join('|')}|`);
  const x = (a: number, b: number): string => (b > 0 ? `${(a / b).toFixed(2)}×` : '-');
  for (const r of rows) {
    const ops = (n: string): number => r.ops[n] ?? 0;
    lines.push(`| ${r.load} | ${names.map((n) => ops(n)).join(' | ')} | ${memshifts.slice(1).map((n) => x(ops(n), ops(first))).join(' | ')} | ${memshifts.map((n) => x(ops(n), ops('nutcracker'))).join(' | ')} | ${memshifts.map((n) => r.cpuUs[n]).join(' | ')} |`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
