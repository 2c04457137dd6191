/**
 * `npm run bench -- --tls [--rounds N --duration 10s --concurrency 50 --depth 16 --json]`
 *
 * The cost of TLS from memshift to its servers, in one interleaved run: memshift over 3 plain
 * memcached against memshift over 3 memcached that require TLS (`-Z`, certificates made by openssl
 * for the run), each under two loads: memcaslap (9:1 get:set, one request in flight per connection)
 * and pipelined gets (`--depth` in flight per connection, bench/pipeline.ts). The order rotates
 * every round. Targets from issue 13: TLS ≥ 0.7× plain at one in flight, ≥ 0.85× pipelined.
 */
import { parseArgs } from 'node:util';
import { memshiftConfig, startMemcached, startMemshift, type MemcachedHandle, type ServerHandle } from '../test/support/harness.js';
import { makeCerts, memcachedTlsArgs } from '../test/support/tls-certs.js';
import { ensureBuilt } from './build.js';
import { memcaslapBinary, runMemcaslap } from './memcaslap.js';
import { LOAD_FLAGS, loadOptions, positive } from './options.js';
import { preload, runPipeline } from './pipeline.js';
import { median } from './report.js';

const USAGE = `Usage: npm run bench -- --tls [--rounds N] [--duration 10s] [--concurrency 50] [--depth 16] [--json]

  memshift with TLS to its servers against memshift plain, interleaved; memcaslap at one request in
  flight per connection, and pipelined gets at --depth in flight over 8 connections.
`;

const TARGETS = ['plain', 'tls'] as const;
type Target = (typeof TARGETS)[number];
const LOADS = ['memcaslap', 'pipelined'] as const;
type Load = (typeof LOADS)[number];
/** The ratio each load must reach (TLS over plain). */
const GOAL: Record<Load, number> = { memcaslap: 0.7, pipelined: 0.85 };

export interface TlsBenchEnv {
  readonly log: (line: string) => void;
  readonly stopping: () => boolean;
}

async function pool(tls: boolean): Promise<ServerHandle> {
  const certs = tls ? makeCerts() : undefined;
  const servers: MemcachedHandle[] = await Promise.all([0, 1, 2].map(() => startMemcached({ memoryMb: 256, ...(certs === undefined ? {} : { args: memcachedTlsArgs(certs) }) })));
  const poolTls = certs === undefined ? {} : { tls: { ca_file: certs.ca } };
  return startMemshift(memshiftConfig({ pools: { main: { servers, hash: 'fnv1a_64', distribution: 'ketama', ...poolTls } } }));
}

export async function runTlsBench(argv: string[], env: TlsBenchEnv): Promise<number> {
  const { values } = parseArgs({ args: argv.filter((a) => a !== '--tls'), options: { ...LOAD_FLAGS, depth: { type: 'string', default: '16' } } });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  const opts = loadOptions(values);
  const depth = positive('depth', values.depth);
  memcaslapBinary();
  ensureBuilt(env.log);
  const targets: Record<Target, ServerHandle> = { plain: await pool(false), tls: await pool(true) };
  for (const t of TARGETS) await preload(targets[t].host, targets[t].port);
  const results = new Map<string, number[]>();
  const add = (t: Target, l: Load, v: number): void => {
    const k = `${t}/${l}`;
    results.set(k, [...(results.get(k) ?? []), v]);
  };
  for (let round = 1; round <= opts.rounds && !env.stopping(); round++) {
    const order = round % 2 === 1 ? TARGETS : [...TARGETS].reverse();
    for (const t of order) {
      const { host, port } = targets[t];
      const run = await runMemcaslap({ host, port, durationS: opts.durationS, concurrency: opts.concurrency, threads: opts.threads, valueSize: 100 });
      add(t, 'memcaslap', run.result.tps);
      const piped = await runPipeline({ host, port, durationS: opts.durationS, connections: 8, depth });
      add(t, 'pipelined', piped);
      env.log(`round ${round}/${opts.rounds}: ${t}: memcaslap ${run.result.tps} TPS, pipelined (depth ${depth}) ${piped} gets/s`);
    }
  }
  if (env.stopping()) return 130;
  const rows = LOADS.map((l) => {
    const plain = median(results.get(`plain/${l}`) ?? [0]);
    const tls = median(results.get(`tls/${l}`) ?? [0]);
    const ratio = plain === 0 ? 0 : Math.round((tls / plain) * 100) / 100;
    return { load: l === 'memcaslap' ? `memcaslap -c ${opts.concurrency} (1 in flight)` : `pipelined gets, depth ${depth} × 8`, plain, tls, ratio, goal: GOAL[l], met: ratio >= GOAL[l] };
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ options: { ...opts, depth }, results: Object.fromEntries(results), rows }, null, 2)}\n`);
  } else {
    const lines = [`\n${opts.rounds} round(s) × ${opts.durationS}s per load, medians; memshift over 3 memcached, plain vs TLS (memcached -Z)\n`];
    lines.push('| load | plain ops/s | TLS ops/s | TLS / plain | goal |', '|---|---:|---:|---:|---|');
    for (const r of rows) lines.push(`| ${r.load} | ${r.plain} | ${r.tls} | ${r.ratio.toFixed(2)}× | ≥ ${r.goal}× ${r.met ? 'met' : 'NOT met'} |`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return 0;
}
