/**
 * `memshift plan`: what a change of a pool's server list moves, before anything is copied. For each
 * old server and new server, the share of the hash space that moves between them (exact, from the
 * merged rings, src/migration/arcs.ts), the items and bytes estimated to go with it from the old
 * server's `stats`, the totals and T_copy at the migration's rate. By default the change is the
 * pool's `migration:` block (each replica group on its own); --from/--to override it, and --to alone
 * plans from the servers the pool has now (no block needed).
 *
 * `memshift plan --rebalance` measures each server's load (two `stats` samples a second apart) and
 * prints two proposals with what they move: new weights that even the load out, and one added server.
 *
 * A server that does not answer `stats` only loses its estimates ("-", and a warning on stderr).
 */
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseServerSpec } from '../config/server-spec.js';
import type { PoolConfig, ServerSpec } from '../config/types.js';
import { type PlanReport, type ServerStats, movedArcs, planMigration } from '../migration/plan.js';
import { StatsReader } from '../migration/server-stats.js';
import { type RebalanceProposal, type RebalanceReport, type ServerLoad, PLACEHOLDER_SERVER, loadFromStats, proposeRebalance } from '../migration/rebalance.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION } from './common.js';
import { formatEstimate, planEstimate } from './plan-estimate.js';
import { adminTarget } from './admin-client.js';
import { loadConfigFor, parseCommandArgs, table, usageError } from './common.js';

const HELP = `Usage: memshift plan [-c FILE] [--pool POOL] [--from SERVERS] [--to SERVERS] [--rate N]
                     [--no-probe] [--admin URL] [--token T] [--json]
       memshift plan [-c FILE] [--pool POOL] --rebalance [--add HOST:PORT[:WEIGHT]] [--json]

Shows what changing POOL's server list moves: for each old and new server, the share of the hash
space that moves between them, and the items and bytes that go with it, estimated from the old
server's stats (curr_items, bytes); then the totals, and how long each phase of the migration
takes: T_copy, T_sync, T_verify, T_total and T_cleanup, each with the terms it adds up and what they
rest on. The times come from a probe of the real servers (a second or two): each metadump's speed,
and the copy engine's copy, verify, orphan sweep, reconcile and delete rates at the migration's
rate limits, on a few thousand keys under __memshift__:probe: (deleted after; they expire in 5
minutes anyway), and the clients' write rate; --no-probe leaves it out (the rate limit only).
For the pool's own migration block, a sidecar runs the probe when its admin API is known (--admin,
else the config's admin.listen): POST /migration/probe measures in the process that will copy, under
its client load; otherwise (or when it cannot) this process probes. By default the change is the pool's migration block: migration.from to the pool's servers, each
replica group on its own. Without a migration block, pass --to with the new servers: the pool's
servers are the old ones. A server that does not answer has "-" estimates.

With --rebalance, measures each server's load (items, bytes, and get/set rates over one second;
load = the mean of its share of the bytes and its share of the gets and sets) and proposes new
weights that even it out, and adding one server, each with the share of the hash space it moves
and the estimated max/mean load after it.

Options:
${CONFIG_HELP}
      --pool POOL         the pool (default: the default pool)
      --from SERVERS      the old servers, comma-separated "host:port[:weight] [name]"
                          (default: the pool's migration.from, else the pool's servers)
      --to SERVERS        the new servers (default: the pool's servers)
      --rate N            the keys/s limit of copy and verify (default: migration.rate, else 20000)
      --no-probe          estimate without probing the servers (no writes to them; the rate limit only)
      --admin URL         the sidecar to probe from (default: the config's admin.listen)
      --token TOKEN       its admin bearer token (default: admin.token, admin.token_file, $MEMSHIFT_ADMIN_TOKEN)
      --rebalance         measure the load and propose weights or an added server
      --add HOST:PORT     the server the rebalance adds (default ${PLACEHOLDER_SERVER}, the average weight)
      --json              print each report (one per replica group) as one JSON line, with the
                          estimate (the whole migration's) and the probe's measurements
  -h, --help              show this help
`;

const DEFAULT_RATE = 20_000;
/** How long a server may take to answer `stats`. */
const STATS_TIMEOUT_MS = 2_000;
/** Time between the two `stats` samples of --rebalance. */
const SAMPLE_MS = 1_000;

/** Parses a comma-separated server list as the config parses `servers`. */
function parseServerList(option: string, text: string): ServerSpec[] {
  const items = text.split(',').map((s) => s.trim());
  if (items.every((s) => s === '')) throw usageError('plan', `${option} needs at least one server`);
  const seen = new Set<string>();
  return items.map((item) => {
    const parsed = parseServerSpec(item);
    if (!parsed.ok) throw usageError('plan', `${option}: ${parsed.error}`);
    const id = parsed.value.address.toLowerCase();
    if (seen.has(id)) throw usageError('plan', `${option}: duplicate server address ${parsed.value.address}`);
    seen.add(id);
    return parsed.value;
  });
}

interface Move {
  readonly group: string;
  readonly from: readonly ServerSpec[];
  readonly to: readonly ServerSpec[];
}

/**
 * The moves to plan. With --from or --to, one: --from, else the pool's migration.from, else the
 * servers it has now (the change not written yet), to --to, else the pool's servers. Without
 * either, migration.from[g] -> groups[g] for each group.
 */
function movesOf(pool: PoolConfig, from: ServerSpec[] | undefined, to: ServerSpec[] | undefined): Move[] {
  const m = pool.migration;
  const first = pool.groups[0]?.name ?? pool.name;
  if (from === undefined && to === undefined && m === undefined) {
    throw usageError('plan', `pool "${pool.name}" has no migration: pass --to SERVERS (the new server list; from is the pool's servers), or add a migration: block (id, from) to it`);
  }
  if (from !== undefined || to !== undefined) {
    return [{ group: first, from: from ?? m?.from[0]?.servers ?? pool.servers, to: to ?? pool.servers }];
  }
  return pool.groups.map((g, i) => ({ group: g.name, from: m!.from[i]?.servers ?? [], to: g.servers }));
}

/**
 * `stats` of each server by address, asked all at once; null (and a warning) for one that fails. A
 * server in `quiet` (a new one, which may not run yet) is taken as empty without a warning.
 */
async function readStats(servers: readonly ServerSpec[], io: CliIo, reader: StatsReader, quiet: ReadonlySet<string> = new Set()): Promise<Map<string, ServerStats>> {
  const answers = await reader.read(servers);
  const out = new Map<string, ServerStats>();
  const warnings = new Map<string, string>();
  for (const [address, a] of answers) {
    if ('stats' in a) {
      out.set(address, a.stats);
      continue;
    }
    out.set(address, null);
    if (!quiet.has(address)) warnings.set(address, `memshift plan: warning: no stats from ${address} (${a.error}); its estimates are "-"\n`);
  }
  // In server order, whatever order the failures came in.
  for (const s of servers) if (warnings.has(s.address)) io.err(warnings.get(s.address)!);
  return out;
}

export async function runPlan(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('plan', args, {
    ...CONFIG_OPTION,
    ...HELP_OPTION,
    pool: { type: 'string' },
    from: { type: 'string' },
    to: { type: 'string' },
    rate: { type: 'string' },
    rebalance: { type: 'boolean' },
    'no-probe': { type: 'boolean' },
    admin: { type: 'string' },
    token: { type: 'string' },
    add: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const rebalance = values.rebalance === true;
  if (rebalance && (values.from !== undefined || values.to !== undefined || values.rate !== undefined)) {
    throw usageError('plan', '--rebalance plans from the measured load: it takes no --from, --to or --rate');
  }
  if (!rebalance && values.add !== undefined) throw usageError('plan', '--add goes with --rebalance');
  const config = loadConfigFor('plan', values.config, io);
  const poolName = values.pool ?? config.defaultPool;
  const pool = config.pools.get(poolName);
  if (pool === undefined) throw usageError('plan', `unknown pool "${poolName}"; pools are ${[...config.pools.keys()].map((p) => `"${p}"`).join(', ')}`);
  const reader = new StatsReader(STATS_TIMEOUT_MS);
  try {
    if (rebalance) return await runRebalance(pool, values.add, values.json === true, io, reader);
    const rate = values.rate === undefined ? (pool.migration?.rateKeysPerSec ?? DEFAULT_RATE) : Number(values.rate);
    if (!(rate > 0) || !Number.isFinite(rate)) throw usageError('plan', `--rate must be a positive number of keys per second, got "${values.rate}"`);
    const from = values.from === undefined ? undefined : parseServerList('--from', values.from);
    const to = values.to === undefined ? undefined : parseServerList('--to', values.to);
    const reports: PlanReport[] = [];
    const moves = movesOf(pool, from, to);
    const allStats = new Map<string, ServerStats>();
    for (const move of moves) {
      const arcs = ringsOrUsage(() => movedArcs(pool, move.from, move.to));
      const shares = arcs.shares();
      const losing = move.from.filter((s) => shares.some((m) => m.from === s.address));
      const gaining = move.to.filter((s) => shares.some((m) => m.to === s.address) && !losing.includes(s));
      const stats = await readStats([...losing, ...gaining], io, reader, new Set(gaining.map((s) => s.address)));
      for (const [a, st] of stats) allStats.set(a, st);
      reports.push(planMigration({ oldServers: move.from, newServers: move.to, pool, group: move.group, stats, rateKeysPerSec: rate }));
    }
    reader.close();
    const own = from === undefined && to === undefined && pool.migration !== undefined;
    const sidecar = own && (values.admin !== undefined || config.admin !== undefined) ? adminTarget('plan', values, io, true) : null;
    const estimate = await planEstimate({ pool, moves, reports, stats: allStats, rateKeysPerSec: rate, probe: values['no-probe'] !== true, sidecar });
    if (values.json === true) io.out(reports.map((r) => `${JSON.stringify({ ...r, estimate: estimate.estimate, probe: estimate.probe, notes: estimate.notes })}\n`).join(''));
    else io.out(`${reports.map((r) => formatPlan(r, pool.groups.length > 1)).join('\n')}${reports.some((r) => r.moves.length > 0) ? formatEstimate(estimate) : ''}`);
    return EXIT.OK;
  } finally {
    reader.close();
  }
}

/** A server list the ring refuses (two servers on one ring name) is the user's to fix. */
function ringsOrUsage<T>(build: () => T): T {
  try {
    return build();
  } catch (err) {
    if (err instanceof RangeError) throw usageError('plan', err.message);
    throw err;
  }
}

async function runRebalance(pool: PoolConfig, addText: string | undefined, json: boolean, io: CliIo, reader: StatsReader): Promise<number> {
  let add: ServerSpec | undefined;
  if (addText !== undefined) {
    const parsed = parseServerSpec(addText);
    if (!parsed.ok) throw usageError('plan', `--add: ${parsed.error}`);
    add = parsed.value;
    if (pool.groups.some((g) => g.servers.some((s) => s.address.toLowerCase() === add!.address.toLowerCase()))) {
      throw usageError('plan', `--add: ${add.address} is already in pool "${pool.name}"`);
    }
  }
  const servers = pool.groups.flatMap((g) => g.servers);
  const loads = await sampleLoads(servers, io, reader);
  const reports = pool.groups.map((g) => proposeRebalance({ servers: g.servers, pool, group: g.name, loads, ...(add === undefined ? {} : { add }) }));
  io.out(json ? reports.map((r) => `${JSON.stringify(r)}\n`).join('') : reports.map((r) => formatRebalance(r, pool.groups.length > 1)).join('\n'));
  return EXIT.OK;
}

/** Two `stats` samples SAMPLE_MS apart (the second only from servers that answered the first). */
async function sampleLoads(servers: readonly ServerSpec[], io: CliIo, reader: StatsReader): Promise<Map<string, ServerLoad | null>> {
  const first = await readStats(servers, io, reader);
  const startedAt = performance.now();
  const answered = servers.filter((s) => first.get(s.address) !== null);
  let second = new Map<string, ServerStats>();
  if (answered.length > 0) {
    await sleep(SAMPLE_MS);
    second = await readStats(answered, io, reader);
  }
  const seconds = (performance.now() - startedAt) / 1000;
  return new Map(servers.map((s) => [s.address, loadFromStats(first.get(s.address) ?? null, second.get(s.address) ?? null, seconds)]));
}

// ---- text output ----

const percent = (share: number): string => `${(share * 100).toFixed(2)}%`;
const count = (n: number | null): string => (n === null ? '-' : String(Math.round(n)));

/** Bytes in binary units: 512 B, 1.5 KiB, 12.0 MiB. */
export function formatBytes(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${Math.round(value)} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Seconds as `12.3 s`, or `4321 s (1h 12m 1s)` past a minute. */
export function formatSeconds(s: number | null): string {
  if (s === null) return '-';
  if (s < 60) return `${s.toFixed(1)} s`;
  const total = Math.round(s);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${total} s (${h > 0 ? `${h}h ` : ''}${m}m ${total % 60}s)`;
}

function title(r: { pool: string; group: string }, groups: boolean): string {
  return groups ? `pool ${r.pool}, group ${r.group}` : `pool ${r.pool}`;
}

export function formatPlan(r: PlanReport, groups = false): string {
  const tag = r.hashTag === null ? '' : `, hash_tag ${JSON.stringify(r.hashTag)}`;
  const out = [`${title(r, groups)}: ${r.from.length} -> ${r.to.length} servers (hash ${r.hash}, distribution ${r.distribution}${tag})\n`];
  if (r.moves.length === 0) {
    out.push('  nothing moves\n');
    return out.join('');
  }
  const rows = r.moves.map((m) => [m.from, '->', m.to, percent(m.share), count(m.items), formatBytes(m.bytes)]);
  const total = ['total', '', '', percent(r.movedShare), count(r.items), formatBytes(r.bytes)];
  out.push(table([['from', '', 'to', 'share', 'est. items', 'est. bytes'], ...rows, total], '  ', [false, false, false, true, true, true]));
  if (r.unknown.length > 0) out.push(`  no stats from ${r.unknown.join(', ')}: totals unknown\n`);
  return out.join('');
}

export function formatRebalance(r: RebalanceReport, groups = false): string {
  const out = [`${title(r, groups)}: load per server (load: mean of its share of bytes and of gets + sets)\n`];
  const rate = (n: number | null): string => (n === null ? '-' : n.toFixed(1));
  const rows = r.servers.map((s) => [
    s.name === null ? s.address : `${s.address} (${s.name})`,
    String(s.weight),
    percent(s.share),
    count(s.items),
    formatBytes(s.bytes),
    rate(s.getsPerSec),
    rate(s.setsPerSec),
    s.load === null ? '-' : percent(s.load),
  ]);
  out.push(table([['server', 'weight', 'share', 'items', 'bytes', 'get/s', 'set/s', 'load'], ...rows], '  ', [false, true, true, true, true, true, true, true]));
  out.push(`  max/mean load: ${ratio(r.loadRatio)}\n\n`);
  if (r.reweight === null) out.push('  reweight: - (needs every server\'s load)\n');
  else out.push(...proposalLines(r.reweight));
  out.push(...proposalLines(r.add));
  return out.join('');
}

const ratio = (x: number | null): string => (x === null ? '-' : x.toFixed(2));

function proposalLines(p: RebalanceProposal): string[] {
  const effect = `moves ${percent(p.movedShare)} of the hash space; est. max/mean load ${ratio(p.loadRatio)}`;
  if (p.kind === 'add') {
    const added = p.changes[0];
    return [`  add ${added?.address ?? '?'} (weight ${added?.to ?? '?'}): ${effect}\n`];
  }
  if (p.changes.length === 0) return [`  reweight: keep the weights (est. max/mean load ${ratio(p.loadRatio)})\n`];
  const changes = p.changes.map((c) => `${c.address} ${c.from ?? '-'} -> ${c.to}`).join(', ');
  return [`  reweight: ${changes}\n`, `    ${effect}\n`, `    servers: ${p.servers.join(', ')}\n`];
}

export const planCommand: Command = {
  name: 'plan',
  summary: 'show which keys a server list change moves, or propose a rebalance',
  help: HELP,
  run: runPlan,
};
