/**
 * `npm run bench [-- --rounds N --duration 10s --concurrency 50 --json]`
 * `npm run bench -- --scenario migration [...]`: the foreground cost of an online migration (migration.ts)
 * `npm run bench -- --tls [...]`: memshift with TLS to its servers against plain (tls.ts)
 * `npm run bench -- --workers 1,2 [...]`: memshift with 1 and 2 worker processes (workers.ts)
 *
 * memcaslap (9:1 get:set, 100-byte values) against three targets, interleaved in one run:
 *   direct      one standalone memcached
 *   nutcracker  twemproxy in front of 3 memcached (ketama, fnv1a_64)
 *   memshift    memshift in front of the same 3 memcached, same ring
 * Each round runs every target once, the order rotating from round to round, so slow drift of
 * the machine (2 shared cores here) hits all targets alike. Everything is started fresh (-m 256)
 * and stopped at the end, also on failure or Ctrl-C. Progress goes to stderr, the table (or
 * with --json the JSON) to stdout.
 */
import { parseArgs } from 'node:util';
import {
  memshiftConfig,
  startMemcached,
  startMemshift,
  startNutcracker,
  stats,
  stopAll,
  type MemcachedHandle,
  type ServerHandle,
} from '../test/support/harness.js';
import { ensureBuilt } from './build.js';
import { LOAD_FLAGS, loadOptions, type LoadOptions } from './options.js';
import { killRunning, memcaslapBinary, runMemcaslap } from './memcaslap.js';
import { runMigrationBench, takeScenario } from './migration.js';
import { runTlsBench } from './tls.js';
import { runWorkersBench } from './workers.js';
import { formatTable, ratios, sampleFrom, summarize, TARGETS, type Sample, type TargetName } from './report.js';

const USAGE = `Usage: npm run bench -- [--rounds N] [--duration 10s] [--concurrency 50] [--threads 1] [--json]
       npm run bench -- --scenario migration [...]   (the cost of an online migration; add --help)
       npm run bench -- --tls [...]                  (TLS to the servers against plain; add --help)
       npm run bench -- --workers 1,2 [...]          (memshift with 1 and 2 worker processes; add --help)

  --rounds N          rounds of (direct, nutcracker, memshift), order rotating (default 3)
  --duration T        memcaslap -t per run: 10s, 1m or plain seconds (default 10s)
  --concurrency N     memcaslap -c (default 50)
  --threads N         memcaslap -T (default 1)
  --json              print the results as JSON instead of the table
`;

type Options = LoadOptions;

function options(argv: string[]): Options | null {
  const { values } = parseArgs({ args: argv, options: LOAD_FLAGS });
  return values.help ? null : loadOptions(values);
}

const log = (line: string): void => console.error(`[bench] ${line}`);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping everything`);
  killRunning();
  void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

interface Targets {
  readonly direct: MemcachedHandle;
  readonly backends: readonly MemcachedHandle[];
  readonly nutcracker: ServerHandle;
  readonly memshift: ServerHandle;
}

async function startTargets(): Promise<Targets> {
  const fresh = (): Promise<MemcachedHandle> => startMemcached({ memoryMb: 256 });
  const [direct, ...backends] = await Promise.all([fresh(), fresh(), fresh(), fresh()]);
  if (direct === undefined) throw new Error('unreachable');
  const pool = { servers: backends, hash: 'fnv1a_64', distribution: 'ketama' };
  const [nutcracker, memshift] = await Promise.all([startNutcracker(pool), startMemshift(memshiftConfig({ pools: { main: pool } }))]);
  return { direct, backends, nutcracker, memshift };
}

/** memshift's own counters after the runs, and the warnings it logged: anything odd for the report. */
async function memshiftHealth(memshift: ServerHandle): Promise<Record<string, string | number>> {
  const wanted = ['memshift_version', 'memshift_backends_up', 'memshift_backend_errors', 'memshift_get_errors', 'memshift_client_pauses', 'get_misses', 'rusage_user', 'rusage_system'];
  const s = await stats(memshift.port, memshift.host);
  const value = (v: string): string | number => (/^-?\d+(\.\d+)?$/.test(v) ? Number(v) : v);
  const out: Record<string, string | number> = Object.fromEntries(wanted.filter((k) => s.has(k)).map((k) => [k, value(s.get(k) ?? '')]));
  const noisy = memshift.logs().split('\n').filter((l) => /"level":(40|50|60)/.test(l));
  out['log_warnings_or_errors'] = noisy.length;
  if (noisy.length > 0) out['first_warning'] = noisy[0]?.slice(0, 300) ?? '';
  return out;
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--tls')) {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
    return runTlsBench(argv, { log, stopping: () => stopping });
  }
  if (argv.some((a) => a === '--workers' || a.startsWith('--workers='))) {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
    return runWorkersBench(argv, { log, stopping: () => stopping });
  }
  const { scenario, rest } = takeScenario(argv);
  if (scenario === 'migration') {
    for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
    return runMigrationBench(rest, { log, stopping: () => stopping });
  }
  const opts = options(rest);
  if (opts === null) {
    process.stdout.write(USAGE);
    return 0;
  }
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  memcaslapBinary();
  ensureBuilt(log);
  const t = await startTargets();
  const addr: Record<TargetName, ServerHandle> = { direct: t.direct, nutcracker: t.nutcracker, memshift: t.memshift };
  log(`direct memcached ${t.direct.address}; backends ${t.backends.map((b) => b.address).join(' ')}`);
  log(`nutcracker ${t.nutcracker.address}; memshift ${t.memshift.address}`);

  const samples: Sample[] = [];
  const failures: { round: number; target: TargetName; error: string }[] = [];
  for (let round = 1; round <= opts.rounds && !stopping; round++) {
    const order = TARGETS.map((_, i) => TARGETS[(i + round - 1) % TARGETS.length] as TargetName);
    for (const target of order) {
      if (stopping) break;
      const { host, port } = addr[target];
      log(`round ${round}/${opts.rounds}: ${target} (${opts.durationS}s, -c ${opts.concurrency})`);
      try {
        const run = await runMemcaslap({ host, port, durationS: opts.durationS, concurrency: opts.concurrency, threads: opts.threads, valueSize: 100 });
        const s = sampleFrom(round, target, run.result);
        samples.push(s);
        log(`  ${s.tps} TPS, avg ${s.avgUs} µs, p99≈ ${s.p99Us} µs, max ${s.maxUs} µs, get_misses ${s.getMisses}`);
        for (const p of s.problems.slice(0, 5)) log(`  memcaslap said: ${p}`);
      } catch (err) {
        if (stopping) break;
        const error = (err as Error).message;
        failures.push({ round, target, error });
        log(`  FAILED: ${error}`);
      }
      await sleep(500);
    }
  }
  if (stopping) return 130;

  const summary = summarize(samples);
  const rs = ratios(summary);
  const health = await memshiftHealth(t.memshift).catch((err: Error) => ({ error: err.message }));
  if (opts.json) {
    const result = { options: { ...opts, valueSize: 100, getSetRatio: '9:1' }, samples, summary, ratios: rs, failures, memshift: health };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } else {
    const header = `${opts.rounds} round(s) × ${opts.durationS}s, memcaslap -T ${opts.threads} -c ${opts.concurrency} -X 100 (9:1 get:set)`;
    process.stdout.write(`\n${header}\n\n${formatTable(summary, rs)}\n`);
    process.stdout.write(`\nmemshift after the runs: ${Object.entries(health).map(([k, v]) => `${k}=${v}`).join(' ')}\n`);
    for (const f of failures) process.stdout.write(`FAILED round ${f.round} ${f.target}: ${f.error.split('\n')[0]}\n`);
  }
  return failures.length > 0 ? 1 : 0;
}

let status = 1;
try {
  status = await main();
} catch (err) {
  console.error(`[bench] ${(err as Error).stack ?? String(err)}`);
} finally {
  if (!stopping) {
    log('stopping all servers');
    await stopAll();
  }
}
process.exit(status);
