/**
 * `npm run bench [-- --rounds N --duration 10s --rate 10000 --loads a,b --json]`: the data path's
 * table (issue 15). Every load runs against three targets, interleaved in one run:
 *   direct      one standalone memcached
 *   nutcracker  twemproxy in front of 3 memcached (ketama, fnv1a_64)
 *   memshift    memshift in front of the same 3 memcached, same ring
 * Each round runs every load on every target, the targets' order rotating from round to round, so
 * slow drift of the machine (2 shared cores here) hits all alike. A row's value is the median over
 * the rounds, its ratio memshift's over nutcracker's, and its target the one the issue sets.
 * Besides each load's rate it reads each target process's CPU time from /proc (µs per op).
 */
import { cpus, hostname } from 'node:os';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { memshiftConfig, startMemcached, startMemshift, startNutcracker, stats, REPO_ROOT, type MemcachedHandle, type ServerHandle } from '../test/support/harness.js';
import { ensureBuilt } from './build.js';
import { memcaslapBinary, runMemcaslap } from './memcaslap.js';
import { LOAD_FLAGS, loadOptions, positive, type LoadOptions } from './options.js';
import { preload, runPipeline } from './pipeline.js';
import { runFixedRate } from './fixed-rate.js';
import { median } from './report.js';
import { cpuSeconds } from './workers.js';
import { LOADS, formatSuite, suiteRows, type LoadId, type Measured, type TargetName, TARGETS } from './suite-report.js';

export const SUITE_USAGE = `Usage: npm run bench -- [--rounds N] [--duration 10s] [--concurrency 50] [--threads 1] [--rate 10000] [--loads ${LOADS.map((l) => l.id).join(',')}] [--json]

  Every load against memcached direct, nutcracker and memshift (the same 3 memcached and ring),
  interleaved, the order rotating each round. Prints one row per load: the medians, memshift's
  ratio to nutcracker, the target and whether it is met; --json prints every sample as well.

  --rounds N          rounds (default 3)
  --duration T        each run: 10s, 1m or plain seconds (default 10s)
  --concurrency N     memcaslap -c and the connections of the get loads (default 50)
  --threads N         memcaslap -T (default 1)
  --rate N            gets per second offered in the fixed-rate load (default 10000)
  --loads LIST        only these loads (default all)
  --json              print the results as JSON instead of the table
  --out FILE          also write them as JSON to FILE (default bench/results/data-path.json; '' for none)

       npm run bench -- --scenario migration [...]   (the cost of an online migration; add --help)
       npm run bench -- --tls [...]                  (TLS to the servers against plain; add --help)
       npm run bench -- --workers 1,2 [...]          (memshift with 1 and 2 worker processes; add --help)
`;

/** Seconds of unmeasured load on each target before the first round. */
const WARM_UP_S = 3;

const DEFAULT_OUT = join(REPO_ROOT, 'bench', 'results', 'data-path.json');

export interface SuiteEnv {
  readonly log: (line: string) => void;
  readonly stopping: () => boolean;
}

interface SuiteOptions extends LoadOptions {
  readonly rate: number;
  /** Where the JSON goes besides stdout's table ('' for nowhere). */
  readonly out: string;
  readonly loads: readonly LoadId[];
}

function suiteOptions(argv: string[]): SuiteOptions | null {
  const { values } = parseArgs({ args: argv, options: { ...LOAD_FLAGS, rate: { type: 'string', default: '10000' }, loads: { type: 'string' }, out: { type: 'string', default: DEFAULT_OUT } } });
  if (values.help) return null;
  const known = new Set<string>(LOADS.map((l) => l.id));
  const loads = values.loads === undefined ? LOADS.map((l) => l.id) : values.loads.split(',').map((l) => l.trim());
  for (const l of loads) if (!known.has(l)) throw new Error(`--loads: unknown load ${JSON.stringify(l)}; the loads are ${[...known].join(', ')}`);
  return { ...loadOptions(values), rate: positive('rate', values.rate), loads: loads as LoadId[], out: values.out };
}

/** What this machine is, for the report: the numbers mean little without it. */
export function machine(): Record<string, string | number> {
  const cpu = cpus();
  let memory = '';
  try {
    memory = /MemTotal:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1] ?? '';
  } catch {
    // not Linux
  }
  return {
    host: hostname(),
    cores: cpu.length,
    cpu: cpu[0]?.model ?? 'unknown',
    memory_gb: memory === '' ? 0 : Math.round(Number(memory) / 1048576),
    node: process.version,
    date: new Date().toISOString(),
  };
}

/** memshift's own counters after the runs, and the warnings it logged: anything odd for the report. */
async function memshiftHealth(memshift: ServerHandle): Promise<Record<string, string | number>> {
  const wanted = ['memshift_backends_up', 'memshift_backend_errors', 'memshift_get_errors', 'memshift_client_pauses', 'rusage_user', 'rusage_system'];
  const s = await stats(memshift.port, memshift.host);
  const value = (v: string): string | number => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
  const out: Record<string, string | number> = Object.fromEntries(wanted.filter((k) => s.has(k)).map((k) => [k, value(s.get(k) ?? '')]));
  const noisy = memshift.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l));
  out['log_warnings_or_errors'] = noisy.length;
  if (noisy.length > 0) out['first_warning'] = noisy[0]?.slice(0, 300) ?? '';
  return out;
}

/** Runs one load on one target; the rate (or latency) it measured and the ops it counted. */
async function runLoad(load: LoadId, t: ServerHandle, o: SuiteOptions): Promise<{ value: number; ops: number; detail?: Record<string, number> }> {
  const base = { host: t.host, port: t.port, durationS: o.durationS, concurrency: o.concurrency, threads: o.threads };
  switch (load) {
    case 'memcaslap':
    case 'multiget':
    case 'large': {
      const run = await runMemcaslap({ ...base, valueSize: load === 'large' ? 10240 : 100, ...(load === 'multiget' ? { division: 10 } : {}) });
      return { value: run.result.tps, ops: run.result.ops };
    }
    case 'get1':
    case 'get16': {
      const rate = await runPipeline({ host: t.host, port: t.port, durationS: o.durationS, connections: o.concurrency, depth: load === 'get1' ? 1 : 16 });
      return { value: rate, ops: rate * o.durationS };
    }
    case 'p99': {
      const r = await runFixedRate({ host: t.host, port: t.port, durationS: o.durationS, connections: o.concurrency, rate: o.rate });
      return { value: r.p99Us, ops: r.answered * o.durationS, detail: { answered: r.answered, unsent: r.unsent, p50Us: r.p50Us, p999Us: r.p999Us, maxUs: r.maxUs } };
    }
  }
}

export async function runSuite(argv: string[], env: SuiteEnv): Promise<number> {
  const o = suiteOptions(argv);
  if (o === null) {
    process.stdout.write(SUITE_USAGE);
    return 0;
  }
  memcaslapBinary();
  ensureBuilt(env.log);
  const fresh = (): Promise<MemcachedHandle> => startMemcached({ memoryMb: 256 });
  const [direct, ...backends] = await Promise.all([fresh(), fresh(), fresh(), fresh()]);
  const pool = { servers: backends, hash: 'fnv1a_64', distribution: 'ketama' };
  const [nutcracker, memshift] = await Promise.all([startNutcracker(pool), startMemshift(memshiftConfig({ pools: { main: pool } }))]);
  const targets: Record<TargetName, ServerHandle> = { direct: direct!, nutcracker, memshift };
  env.log(`direct ${direct!.address}; nutcracker ${nutcracker.address} and memshift ${memshift.address} over ${backends.map((b) => b.address).join(' ')}`);
  // The get loads' keys, on the pool (through nutcracker: the same ring) and on direct.
  for (const t of [nutcracker, direct!]) await preload(t.host, t.port);

  // Warm every target up first (memshift's JIT, every proxy's connections), unmeasured: a cold first
  // run would count memshift's compilation against it.
  for (const t of Object.values(targets)) await runPipeline({ host: t.host, port: t.port, durationS: WARM_UP_S, connections: o.concurrency, depth: 4 });
  const samples: Measured[] = [];
  const failures: { round: number; load: LoadId; target: TargetName; error: string }[] = [];
  for (let round = 1; round <= o.rounds && !env.stopping(); round++) {
    const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length]!);
    for (const load of o.loads) {
      for (const target of order) {
        if (env.stopping()) break;
        const t = targets[target];
        try {
          const cpu0 = cpuSeconds(t.pid);
          const r = await runLoad(load, t, o);
          const cpuUs = r.ops > 0 ? ((cpuSeconds(t.pid) - cpu0) * 1e6) / r.ops : Number.NaN;
          samples.push({ round, load, target, value: r.value, cpuUs, ...(r.detail ? { detail: r.detail } : {}) });
          env.log(`round ${round}/${o.rounds} ${load.padEnd(9)} ${target.padEnd(10)} ${r.value} (${cpuUs.toFixed(1)} µs CPU/op)`);
        } catch (err) {
          if (env.stopping()) break;
          failures.push({ round, load, target, error: (err as Error).message });
          env.log(`round ${round}/${o.rounds} ${load} ${target} FAILED: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    }
  }
  if (env.stopping()) return 130;
  const rows = suiteRows(samples, o.loads, o, median);
  const about = machine();
  const health = await memshiftHealth(memshift).catch((err: Error) => ({ error: err.message }));
  const json = `${JSON.stringify({ machine: about, options: o, rows, samples, failures, memshift: health }, null, 2)}\n`;
  if (o.out !== '') {
    mkdirSync(dirname(o.out), { recursive: true });
    writeFileSync(o.out, json);
    env.log(`results written to ${o.out}`);
  }
  if (o.json) {
    process.stdout.write(json);
  } else {
    process.stdout.write(`\n${formatSuite(rows, about, o)}\n`);
    process.stdout.write(`\nmemshift after the runs: ${Object.entries(health).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    for (const f of failures) process.stdout.write(`FAILED round ${f.round} ${f.load} ${f.target}: ${f.error.split('\n')[0]}\n`);
  }
  return failures.length > 0 ? 1 : 0;
}
