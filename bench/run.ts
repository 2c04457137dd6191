/**
 * `npm run bench [-- --rounds N --duration 10s --rate 10000 --loads a,b --json]`: the data path's
 *     table, every load against memcached direct, nutcracker and memshift in one interleaved run (suite.ts)
 * `npm run bench -- --scenario migration [...]`: the foreground cost of an online migration (migration.ts)
 * `npm run bench -- --tls [...]`: memshift with TLS to its servers against plain (tls.ts)
 * `npm run bench -- --workers 1,2 [...]`: memshift with 1 and 2 worker processes (workers.ts)
 *
 * Everything is started fresh and stopped at the end, also on failure or Ctrl-C. Progress goes to
 * stderr, the table (or with --json the JSON) to stdout.
 */
import { stopAll } from '../test/support/harness.js';
import { killRunning } from './memcaslap.js';
import { runMigrationBench, takeScenario } from './migration.js';
import { runSuite } from './suite.js';
import { runTlsBench } from './tls.js';
import { runWorkersBench } from './workers.js';

const log = (line: string): void => console.error(`[bench] ${line}`);

let stopping = false;
function onSignal(signal: NodeJS.Signals): void {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping everything`);
  killRunning();
  void stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  for (const s of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(s, onSignal);
  const env = { log, stopping: () => stopping };
  if (argv.includes('--tls')) return runTlsBench(argv, env);
  if (argv.some((a) => a === '--workers' || a.startsWith('--workers='))) return runWorkersBench(argv, env);
  const { scenario, rest } = takeScenario(argv);
  if (scenario === 'migration') return runMigrationBench(rest, env);
  return runSuite(rest, env);
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
