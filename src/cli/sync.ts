/**
 * `memshift sync --pool P --group G`: rebuild one replica group from a healthy
 * one with the copy engine (src/copy): scan the source group's servers with
 * metadump, copy each key to its owner on group G's ring with CAS-guarded adds,
 * then verify (a full pass, then incremental passes). Clients keep reading and
 * writing through memshift meanwhile: its fan-out is the dual-write. Progress
 * goes to stderr; the report (counts and T_copy, T_sync, T_verify, T_total) to
 * stdout, as text or `--json`, and to the pool's history (src/migration/history.ts).
 */
import { dial, endpointOf, readyEvent } from '../backend/index.js';
import { Router } from '../routing/index.js';
import { isReserved } from '../protocol/index.js';
import { MetaClient, syncServers, type Endpoint, type SyncReport } from '../copy/index.js';
import type { PoolConfig } from '../config/types.js';
import { resultOfRun } from '../migration/history.js';
import { appendHistory, metaItems } from '../migration/history-store.js';
import { countsLine, progressLine } from './progress-bar.js';
import { MemshiftError } from '../errors.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION, loadConfigFor, parseCommandArgs, usageError } from './common.js';

const HELP = `Usage: memshift sync [-c FILE] --pool POOL --group GROUP [--from GROUP] [--rate KEYS_PER_S] [--json]

Rebuilds replica group GROUP of POOL from a healthy group (the first other group, or --from):
copies every key to its owner in GROUP and then verifies it, while clients keep using memshift.
Refuses when a server of the source group does not answer.

Options:
${CONFIG_HELP}
      --pool POOL         the pool (default: the default pool)
      --group GROUP       the group to rebuild
      --from GROUP        the group to copy from (default: the first other group)
      --rate N            keys per second for copy and verify (default 20000)
      --no-verify         copy only
      --json              print the report as JSON
  -h, --help              show this help
`;

/** A server answers `version` within `ms`. */
function answers(e: Endpoint, ms = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dial(e);
    s.once(readyEvent(s), () => s.write('version\r\n'));
    const done = (ok: boolean): void => {
      s.destroy();
      resolve(ok);
    };
    s.setTimeout(ms, () => done(false));
    s.on('data', (d) => done(d.toString('latin1').startsWith('VERSION ')));
    s.on('error', () => done(false));
  });
}

/**
 * Adds the run to the pool's history (GET /migration/history on every sidecar, `memshift migrate
 * history`), written to every server of the pool as the sidecars do.
 */
async function keepResult(pool: PoolConfig, source: number, target: number, report: SyncReport, io: CliIo): Promise<void> {
  const name = (g: number): string[] => pool.groups[g]!.servers.map((s) => `${pool.groups[g]!.name}/${s.address}`);
  const result = resultOfRun({ kind: 'sync', pool: pool.name, id: `sync-${pool.groups[target]!.name}`, from: name(source), to: name(target), progress: report.progress, ok: report.ok, endedAt: Date.now() });
  const clients = pool.groups.flatMap((g) => g.servers).map((s) => new MetaClient(endpointOf(s)));
  try {
    const kept = await appendHistory(clients.map(metaItems), pool.name, [result]);
    if (kept === 0) io.err(`memshift sync: the result was not stored in the pool's history (no server took it)\n`);
  } finally {
    for (const c of clients) c.close();
  }
}

export async function runSync(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('sync', args, {
    ...CONFIG_OPTION,
    ...HELP_OPTION,
    pool: { type: 'string' },
    group: { type: 'string' },
    from: { type: 'string' },
    rate: { type: 'string' },
    'no-verify': { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const config = loadConfigFor('sync', values.config, io);
  const router = new Router(config);
  const poolName = values.pool ?? config.defaultPool;
  const p = router.poolId(poolName);
  if (p === undefined) throw usageError('sync', `unknown pool "${poolName}"`);
  const pool = router.pools[p]!;
  if (values.group === undefined) throw usageError('sync', '--group is required');
  const target = pool.groups.findIndex((g) => g.name === values.group);
  if (target < 0) throw usageError('sync', `pool "${pool.name}" has no group "${values.group}"; groups are ${pool.groups.map((g) => `"${g.name}"`).join(', ')}`);
  const source = values.from === undefined ? pool.groups.findIndex((_, i) => i !== target) : pool.groups.findIndex((g) => g.name === values.from);
  if (source < 0 || source === target) throw usageError('sync', `no other group to copy from in pool "${pool.name}"`);
  const rate = values.rate === undefined ? 20_000 : Number(values.rate);
  if (!(rate > 0)) throw usageError('sync', `--rate must be a positive number, got "${values.rate}"`);

  const sources: Endpoint[] = pool.groups[source]!.servers.map(endpointOf);
  const down = (await Promise.all(sources.map(async (e) => ((await answers(e)) ? null : e)))).filter((e) => e !== null);
  if (down.length > 0) {
    const list = down.map((e) => ('host' in e ? `${e.host}:${e.port}` : e.path)).join(', ');
    throw new MemshiftError('MS_ERR_BACKEND_DOWN', `source group "${pool.groups[source]!.name}" is not healthy: ${list} does not answer; refusing to sync from it`);
  }
  const ring = router.groupRing(p, target);
  const servers = pool.groups[target]!.servers;
  const targets: Endpoint[] = servers.map(endpointOf);
  io.err(`sync ${pool.name}: ${pool.groups[source]!.name} -> ${pool.groups[target]!.name} at ${rate} keys/s\n`);
  const report = await syncServers({
    sources,
    target: (key) => targets[ring.ownerOf(key)]!,
    filter: (key) => !isReserved(key),
    orphanSweep: targets,
    rateKeysPerSec: rate,
    verify: values['no-verify'] !== true,
    onProgress: (snap) => io.err(`\r${progressLine(snap)}`),
  });
  io.err('\n');
  await keepResult(pool, source, target, report, io);
  const t = report.progress;
  if (values.json === true) io.out(`${JSON.stringify(report)}\n`);
  else {
    io.out(`${report.ok ? 'done' : 'finished with problems'}: ${countsLine(t)}\n`);
    const s = (ms: number | null): string => (ms === null ? '-' : (ms / 1000).toFixed(2));
    const d = t.durations;
    io.out(`T_copy ${s(d.copyMs)} s + T_sync ${s(d.syncMs)} s + T_verify ${s(d.verifyMs)} s = T_total ${s(d.totalMs)} s\n`);
  }
  return report.ok ? EXIT.OK : EXIT.SOFTWARE;
}

export const syncCommand: Command = { name: 'sync', summary: 'rebuild a replica group from a healthy one (copy, then verify)', help: HELP, run: runSync };
