/**
 * `npm run demo`: a live 2 -> 3 migration under client load. memshift sits in front of three local
 * memcached; its pool's servers are [A, B, C] with a migration from [A, B] planned a few seconds
 * planned (no `start:`). Four clients keep reading and writing through memshift; the demo runs the
 * operator's commands as child processes, their output shown: `memshift plan` (what moves and how
 * long each phase takes), `memshift migrate start`, `memshift migrate watch` while memshift copies
 * the moved keys to C, verifies, cuts over and cleans up. Every answer the clients get is checked,
 * and plan's estimates are set against the measured times. For a new user right after `npm ci`;
 * needs no TTY and ends by itself (about 30–40 s; exit 0, or 1 with the reason when a request
 * failed or an answer was wrong).
 *
 * Steps (each a function; the helpers are in scripts/demo/):
 *   1. checkPrograms    memcached installed? (as root: apt-get install memcached)       demo/cluster.ts
 *      ensureBuilt      npm run build when dist/ is missing or older than src/          bench/build.ts
 *   2. startCluster     3 memcached on free ports; memshift with an admin API and the   demo/cluster.ts
 *                       migration demo-grow (eager copy, 20,000 keys/s, settle 2s,
 *                       cleanup), planned until migrate start; print the config
 *   3. seed             30,000 keys ("<key>#v0") and 40 counters through memshift       demo/cluster.ts
 *                       while the migration is planned; placement() records where
 *                       each key is
 *   4. Load.start       4 workers through memshift, each on its own keys: get,          demo/load.ts
 *                       multi-get, set (next version), incr (must be previous + 1),
 *                       delete then get (must miss); every answer checked
 *   5. operate          memshift plan (the estimate), migrate start, migrate watch      demo/report.ts
 *                       until done, each a child process with its output shown
 *   6. report           stop the load, read every seeded key once more, print the       demo/report.ts
 *                       times against plan's estimates, counts, requests, errors,
 *                       wrong answers, where the keys live before and after, and a
 *                       few /metrics lines
 *   7. stopAll          everything started is stopped (also on Ctrl-C and on failure)
 *
 * `npm run demo -- --discovery` runs the same steps with the pool's servers from DNS: a dnsmasq
 * starts too (as root: apt-get install dnsmasq-base), the pool has `discovery` and `autopilot:
 * {migrate: auto}`, and step 5 adds C's DNS record instead of running `migrate start`; the
 * autopilot starts the migration by itself (demo/discovery.ts). The same report follows.
 */
import { parseArgs } from 'node:util';
import { ensureBuilt } from '../bench/build.js';
import type { MigrationStatus } from '../src/migration/status.js';
import { stopAll } from '../test/support/harness.js';
import type { Times } from '../bench/estimate-check.js';
import { checkPrograms, explainPlan, placement, say, seed, startCluster, type Cluster } from './demo/cluster.js';
import { explainDns, operateByDns, startDnsCluster } from './demo/discovery.js';
import { finalCheck, Load } from './demo/load.js';
import { operate, printLoad, printMetrics, printPlacement, printTimesAndCounts } from './demo/report.js';

/** The whole demo must end well within npm's patience and a user's: everything is stopped after this. */
const DEADLINE_S = 170;

/** What differs between `npm run demo` and `npm run demo -- --discovery`. */
interface Variant<C extends Cluster> {
  readonly title: string;
  /** What it starts, for the messages when it stops. */
  readonly servers: string;
  /** The programs it needs (test/support/system-deps.ts names). */
  readonly programs: readonly string[];
  start(): Promise<C>;
  explain(): void;
  /** The operator's part while the clients run; `how` goes into the result line. */
  operate(c: C, load: Load): Promise<{ status: MigrationStatus; estimate: Times | null; how?: string }>;
  /** More /metrics lines to show. */
  readonly metrics?: readonly RegExp[];
}

const PLAIN: Variant<Cluster> = {
  title: 'a live 2 -> 3 migration under client load',
  servers: 'memshift and the three memcached',
  programs: ['memcached'],
  start: startCluster,
  explain: explainPlan,
  operate,
};

const BY_DNS: Variant<Awaited<ReturnType<typeof startDnsCluster>>> = {
  title: 'a live 2 -> 3 migration under client load, the pool grown by a DNS record',
  servers: 'memshift, the three memcached and dnsmasq',
  programs: ['memcached', 'dnsmasq'],
  start: startDnsCluster,
  explain: explainDns,
  operate: operateByDns,
  metrics: [/^memshift_discovery_(changes|migrations)_total/, /^memshift_discovery_servers/],
};

const USAGE = 'usage: npm run demo [-- --discovery]';

function chosenVariant(): Variant<Cluster> {
  try {
    const { values } = parseArgs({ options: { discovery: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
    if (values.help === true) {
      say(`${USAGE}\n  --discovery  the pool's servers come from DNS (a local dnsmasq); the pool grows by a DNS record and memshift's autopilot migrates it`);
      process.exit(0);
    }
    return (values.discovery === true ? BY_DNS : PLAIN) as Variant<Cluster>;
  } catch (err) {
    console.error(`demo: ${(err as Error).message}\n${USAGE}`);
    process.exit(2);
  }
}

const variant = chosenVariant();

async function main(v: Variant<Cluster>): Promise<boolean> {
  say(`memshift demo: ${v.title}\n`);
  checkPrograms(v.programs);
  ensureBuilt((line) => say(line));
  const cluster = await v.start();
  v.explain();
  await seed(cluster);
  const before = await placement(cluster);

  const load = new Load(cluster);
  const loadStarted = Date.now();
  load.start();
  let status: MigrationStatus;
  let estimate: Times | null;
  let how: string | undefined;
  try {
    ({ status, estimate, how } = await v.operate(cluster, load));
  } finally {
    await load.stop();
  }
  const loadSeconds = (Date.now() - loadStarted) / 1000;
  say(`\nThe migration is done; the clients stopped. Reading every seeded key once more ...`);
  const final = await finalCheck(cluster, load);
  const after = await placement(cluster);

  printTimesAndCounts(status, estimate);
  printLoad(load, loadSeconds, final);
  const placed = printPlacement(cluster, load, before, after);
  await printMetrics(cluster, v.metrics);

  const t = load.tally;
  if (t.errors > 0 || t.wrongTotal > 0 || !placed) {
    const what = [t.errors > 0 && `${t.errors} failed request(s)`, t.wrongTotal > 0 && `${t.wrongTotal} wrong answer(s)`, !placed && 'keys not where the new ring puts them'].filter(Boolean);
    console.error(`\nDEMO FAILED: ${what.join(', ')} (expected none; see the examples above).`);
    return false;
  }
  say(`\nResult: C took over its share of the keys${how ?? ''} while ${(t.total / 1000).toFixed(0)}k requests went on, with 0 errors and 0 wrong answers.`);
  return true;
}

function interrupted(signal: NodeJS.Signals): void {
  console.error(`\ndemo: ${signal}: stopping ${variant.servers}`);
  void stopAll().finally(() => process.exit(130));
}
process.once('SIGINT', interrupted);
process.once('SIGTERM', interrupted);

const deadline = setTimeout(() => {
  console.error(`demo: still running after ${DEADLINE_S} s; stopping everything`);
  void stopAll().finally(() => process.exit(1));
}, DEADLINE_S * 1000);
deadline.unref();

let ok = false;
try {
  ok = await main(variant);
} catch (err) {
  console.error(`\ndemo failed: ${(err as Error).message}`);
} finally {
  await stopAll();
  say(ok ? `\nStopped ${variant.servers}. Done.` : '');
}
process.exit(ok ? 0 : 1);
