/**
 * `memshift check`: validate a config file (like twemproxy's `-t`). Prints every problem with its
 * file:line:column and exits 78, or prints what the proxy would run: listeners and the admin API,
 * pools with every replica group and each server's weight, name, ring points and share of the hash
 * space (or the DNS name a group's servers are discovered from, and the pool's autopilot), each pool's migration block (its `from` servers likewise), routes and limits.
 */
import type { AdminConfig, AutopilotConfig, Config, DiscoveryConfig, GroupConfig, ListenSpec, MigrationConfig, PoolConfig, ServerSpec } from '../config/types.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION } from './common.js';
import { loadConfigFor, parseCommandArgs, table, usageError } from './common.js';
import { resolveConfigPath } from '../config/load.js';
import { checkAgainst } from './reload.js';
import { ringShares } from './ring-shares.js';
import { configWarnings } from '../config/warnings.js';
import { formatHostPort } from '../config/address.js';

const HELP = `Usage: memshift check [-c FILE | FILE] [--json]
       memshift check -c FILE --against URL [--token TOKEN] [--json]

Validates a config file. On success prints a summary: listeners and the admin API, each pool with
its hash, distribution and hash_tag, every replica group with each server's weight, name, ring
points and share of the hash space (or the DNS name its servers are discovered from, and the pool's
autopilot), the pool's migration block (its from servers likewise), routes and limits, then any warning (TLS without verification, a certificate ending within 14 days, an
admin API reachable from other hosts without TLS or a token). Otherwise prints every problem as
FILE:LINE:COLUMN FIELD: MESSAGE and exits 78.

With --against, the file is compared with the config a running sidecar serves: the sidecar at URL
(its admin API) says what a reload with this file would apply, refuse (needs force) or need a
restart for, and changes nothing (a dry run of POST /reload). Exits 0 when it would apply, 1 when
refused. The token is --token, else the file's admin.token or admin.token_file, else
$MEMSHIFT_ADMIN_TOKEN.

Options:
${CONFIG_HELP}
                          (or the file as the one argument: memshift check FILE)
      --json              print the summary (or the sidecar's answer) as JSON
      --against URL       the admin API of a running sidecar to compare the file with
      --token TOKEN       the admin bearer token (with --against)
  -h, --help              show this help
`;

export interface ServerSummary {
  readonly address: string;
  readonly name: string | null;
  readonly weight: number;
  readonly points: number;
  /** Percent of the hash space, 0–100. */
  readonly sharePercent: number;
}

export interface GroupSummary {
  readonly name: string;
  /** Empty when the group's servers come from DNS. */
  readonly servers: readonly ServerSummary[];
  /** Where the group's servers come from (`discovery:`); null: its servers list. */
  readonly discovery: DiscoverySummary | null;
}

export interface DiscoverySummary {
  readonly dns: string;
  readonly records: 'SRV' | 'A/AAAA';
  /** The port of A/AAAA records; null for SRV, whose records carry it. */
  readonly port: number | null;
  readonly intervalMs: number;
  readonly names: 'hostname' | 'address';
  /** null: the system's resolvers. */
  readonly resolver: string | null;
}

export interface ReplicationSummary {
  readonly write: string;
  readonly read: string;
  readonly readFailover: string;
  readonly localGroup: string | null;
  readonly writeLog: { readonly dir: string; readonly maxBytes: number } | null;
  readonly resyncKeysPerSec: number;
}

export interface MigrationSummary {
  readonly id: string;
  /** The old servers of each group, in the pool's group order. */
  readonly from: readonly GroupSummary[];
  readonly copy: string;
  readonly rateKeysPerSec: number;
  readonly rateBytesPerSec: number | null;
  /** "now", "command" (it waits for memshift migrate start), or the ISO time it starts at. */
  readonly start: string;
  readonly settleMs: number;
  readonly cleanup: boolean;
  /** The from servers' TLS: their own from_tls, or plain TCP into a TLS pool. */
  readonly fromTls: boolean;
}

export interface PoolSummary {
  readonly name: string;
  readonly default: boolean;
  readonly hash: string;
  readonly distribution: string;
  readonly hashTag: string | null;
  readonly timeoutMs: number;
  readonly connections: number;
  readonly tls: boolean;
  readonly authUser: string | null;
  readonly failoverAfterMs: number | null;
  /** The first group's servers (all of a pool without replica groups). */
  readonly servers: readonly ServerSummary[];
  /** Every group, the first included (a pool without replica groups: one, named after it). */
  readonly groups: readonly GroupSummary[];
  /** The replica groups' settings; null with one group. */
  readonly replication: ReplicationSummary | null;
  readonly migration: MigrationSummary | null;
  /** What a change of the discovered servers does; null without discovery. */
  readonly autopilot: AutopilotConfig | null;
}

export interface AdminSummary {
  readonly listen: string;
  readonly https: boolean;
  readonly clientCertificates: boolean;
  /** Where the token for POST endpoints comes from: the config, its token_file, or $MEMSHIFT_ADMIN_TOKEN where memshift runs. */
  readonly token: 'config' | 'token_file' | 'environment';
  readonly tokenFile: string | null;
}

export interface ConfigSummary {
  readonly source: string | null;
  readonly listen: readonly string[];
  /** The admin HTTP listener; null: none. */
  readonly admin: AdminSummary | null;
  readonly pools: readonly PoolSummary[];
  readonly routes: readonly { readonly prefix: string; readonly pool: string }[];
  readonly defaultPool: string;
  readonly flushAll: boolean;
  readonly workers: number;
  readonly limits: Config['limits'];
  readonly backend: Config['backend'];
  /** What the config does that an operator should know (config/warnings.ts). */
  readonly warnings: readonly string[];
}

export function summarize(config: Config): ConfigSummary {
  return {
    source: config.source ?? null,
    listen: config.listen.map(describeListen),
    admin: config.admin === undefined ? null : summarizeAdmin(config.admin),
    pools: [...config.pools.values()].map((pool) => summarizePool(pool, pool.name === config.defaultPool)),
    routes: config.routes.map((r) => ({ prefix: r.prefix, pool: r.pool })),
    defaultPool: config.defaultPool,
    flushAll: config.flushAll,
    workers: config.workers,
    limits: config.limits,
    backend: config.backend,
    warnings: configWarnings(config).map((w) => w.message),
  };
}

function summarizePool(pool: PoolConfig, isDefault: boolean): PoolSummary {
  const groups = pool.groups.map((g) => summarizeGroup(pool, g));
  const m = pool.migration;
  return {
    name: pool.name,
    default: isDefault,
    hash: pool.hash,
    distribution: pool.distribution,
    hashTag: pool.hashTag ?? null,
    timeoutMs: pool.timeoutMs,
    connections: pool.connections,
    tls: pool.tls !== undefined,
    authUser: pool.auth?.username ?? null,
    failoverAfterMs: pool.failoverAfterMs ?? null,
    servers: groups[0]?.servers ?? summarizeServers(pool, pool.servers),
    groups,
    replication:
      pool.groups.length < 2
        ? null
        : {
            write: pool.write,
            read: pool.read,
            readFailover: pool.readFailover,
            localGroup: pool.localGroup ?? null,
            writeLog: pool.writeLog === undefined ? null : { dir: pool.writeLog.dir, maxBytes: pool.writeLog.maxBytes },
            resyncKeysPerSec: pool.resync.rateKeysPerSec,
          },
    migration: m === undefined ? null : summarizeMigration(pool, m),
    autopilot: pool.autopilot ?? null,
  };
}

function summarizeMigration(pool: PoolConfig, m: MigrationConfig): MigrationSummary {
  return {
    id: m.id,
    from: m.from.map((g) => summarizeGroup(pool, g)),
    copy: m.copy,
    rateKeysPerSec: m.rateKeysPerSec,
    rateBytesPerSec: m.rateBytesPerSec ?? null,
    start: m.startAt === 'now' || m.startAt === 'command' ? m.startAt : new Date(m.startAt).toISOString(),
    settleMs: m.settleMs,
    cleanup: m.cleanup,
    fromTls: m.from[0]?.servers[0]?.tls !== undefined,
  };
}

function summarizeGroup(pool: PoolConfig, group: GroupConfig): GroupSummary {
  return { name: group.name, servers: summarizeServers(pool, group.servers), discovery: group.discovery === undefined ? null : summarizeDiscovery(group.discovery) };
}

function summarizeDiscovery(d: DiscoveryConfig): DiscoverySummary {
  return { dns: d.dns, records: d.port === undefined ? 'SRV' : 'A/AAAA', port: d.port ?? null, intervalMs: d.intervalMs, names: d.names, resolver: d.resolver ?? null };
}

/** `servers` on `pool`'s ring (its hash and distribution), each with its points and share. */
function summarizeServers(pool: PoolConfig, servers: readonly ServerSpec[]): ServerSummary[] {
  if (servers.length === 0) return []; // a discovered group: no ring before it runs
  const shares = ringShares({ ...pool, servers });
  return servers.map((s, i) => ({
    address: s.address,
    name: s.name ?? null,
    weight: s.weight,
    points: shares[i]?.points ?? 0,
    sharePercent: Math.round((shares[i]?.share ?? 0) * 1e6) / 1e4,
  }));
}

function summarizeAdmin(a: AdminConfig): AdminSummary {
  return {
    listen: formatHostPort(a.host, a.port),
    https: a.tls !== undefined,
    clientCertificates: a.tls?.clientCaFile !== undefined,
    token: a.token !== undefined ? 'config' : a.tokenFile !== undefined ? 'token_file' : 'environment',
    tokenFile: a.token === undefined ? (a.tokenFile ?? null) : null,
  };
}

function describeListen(l: ListenSpec): string {
  if (l.kind === 'tcp') return l.tls === undefined ? l.raw : `${l.raw} (TLS${l.tls.clientCaFile === undefined ? '' : ', client certificates required'})`;
  return l.mode === undefined ? `unix:${l.path}` : `unix:${l.path} (mode 0${l.mode.toString(8)})`;
}

export function formatSummary(s: ConfigSummary): string {
  const out = [`${s.source ?? 'config'}: OK\n\nlisten:\n`, ...s.listen.map((l) => `  ${l}\n`), '\n'];
  out.push(`admin: ${s.admin === null ? 'none' : describeAdmin(s.admin)}\n\n`);
  for (const pool of s.pools) out.push(...poolLines(pool), '\n');
  out.push('routes:\n', ...s.routes.map((r) => `  ${JSON.stringify(r.prefix)} -> ${r.pool}\n`));
  out.push(`  ${s.routes.length === 0 ? 'every key' : 'any other key'} -> ${s.defaultPool}\n\n`);
  const l = s.limits;
  const b = s.backend;
  out.push(
    `flush_all: ${s.flushAll ? 'sent to every backend' : 'refused'}\n`,
    `workers: ${s.workers === 1 ? '1 (one process)' : `${s.workers} processes share the listeners`}\n`,
    `limits: max_item_size ${l.maxItemSize} B, max_get_line ${l.maxGetLineBytes} B, max_connections ${l.maxConnections},\n`,
    `  max_inflight_per_client ${l.maxInflightPerClient}, max_queued_bytes_per_client ${l.maxQueuedBytesPerClient} B,\n`,
    `  max_queued_bytes_per_backend ${l.maxQueuedBytesPerBackend} B, max_pending_per_backend ${l.maxPendingPerBackend}\n`,
    `backend: connect_timeout ${b.connectTimeoutMs} ms, TKO after ${b.failureLimit} failures, probes ${b.probeMinMs}..${b.probeMaxMs} ms\n`,
  );
  if (s.warnings.length > 0) out.push('\n', ...s.warnings.map((w) => `warning: ${w}\n`));
  return out.join('');
}

function describeAdmin(a: AdminSummary): string {
  const scheme = a.https ? `HTTPS${a.clientCertificates ? ', client certificates required' : ''}` : 'HTTP';
  const token =
    a.token === 'config' ? 'token set in the config' : a.token === 'token_file' ? `token from ${a.tokenFile ?? 'token_file'}` : 'token from $MEMSHIFT_ADMIN_TOKEN where memshift runs (none: POST endpoints disabled)';
  return `${a.listen} (${scheme}), ${token}`;
}

function poolLines(pool: PoolSummary): string[] {
  const tag = pool.hashTag === null ? '' : `, hash_tag ${JSON.stringify(pool.hashTag)}`;
  const conns = `${pool.connections} connection${pool.connections === 1 ? '' : 's'} per server`;
  const extras = [pool.tls ? 'TLS' : '', pool.authUser === null ? '' : `auth as ${pool.authUser}`, pool.failoverAfterMs === null ? '' : `failover_after ${pool.failoverAfterMs} ms`].filter((x) => x !== '');
  const settings = `hash ${pool.hash}, distribution ${pool.distribution}${tag}, timeout ${pool.timeoutMs} ms, ${conns}${extras.map((x) => `, ${x}`).join('')}`;
  const out = [`pool ${pool.name}${pool.default ? ' (default)' : ''}: ${settings}\n`];
  const r = pool.replication;
  const first = pool.groups[0];
  if (r === null) out.push(first === undefined ? serverTable(pool.servers, '  ') : groupLines(first, '  '));
  else {
    const local = r.localGroup === null ? '' : `, local_group ${r.localGroup}`;
    const log = r.writeLog === null ? 'write_log in memory' : `write_log ${r.writeLog.dir} (max ${r.writeLog.maxBytes} B)`;
    out.push(`  replica groups: ${pool.groups.length}; write ${r.write}, read ${r.read}${local}, read_failover ${r.readFailover}, ${log}, resync ${r.resyncKeysPerSec} keys/s\n`);
    for (const g of pool.groups) out.push(`  group ${g.name}:\n`, groupLines(g, '    '));
  }
  const a = pool.autopilot;
  if (a !== null) out.push(`  autopilot: migrate ${a.migrate}, min_stable ${a.minStableMs} ms, max_moved_share ${a.maxMovedShare}, rebalance ${a.rebalance}\n`);
  const m = pool.migration;
  if (m !== null) {
    const bytes = m.rateBytesPerSec === null ? '' : `, rate_bytes ${m.rateBytesPerSec} B/s`;
    out.push(`  migration ${m.id}: start ${m.start === 'command' ? 'on memshift migrate start' : m.start}\n`, `    copy ${m.copy}, rate ${m.rateKeysPerSec} keys/s${bytes}, settle ${m.settleMs} ms, cleanup ${m.cleanup ? 'on' : 'off'}${m.fromTls ? ', from over TLS' : ''}\n`);
    for (const g of m.from) out.push(r === null ? '    from:\n' : `    from group ${g.name}:\n`, serverTable(g.servers, '      '));
  }
  return out;
}

/** A group's server table, or where its servers come from. */
function groupLines(g: GroupSummary, indent: string): string {
  const d = g.discovery;
  if (d === null) return serverTable(g.servers, indent);
  const port = d.port === null ? '' : `, port ${d.port}`;
  return `${indent}servers from DNS: ${d.records} records of ${d.dns}${port}, every ${d.intervalMs} ms, ring names by ${d.names}, resolver ${d.resolver ?? "the system's"}\n`;
}

function serverTable(servers: readonly ServerSummary[], indent: string): string {
  const rows = servers.map((sv) => [sv.address, String(sv.weight), sv.name ?? '-', String(sv.points), `${sv.sharePercent.toFixed(2)}%`]);
  return table([['server', 'weight', 'name', 'points', 'share'], ...rows], indent, [false, true, false, true, true]);
}

export async function runCheck(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('check', args, { ...CONFIG_OPTION, ...HELP_OPTION, json: { type: 'boolean' }, against: { type: 'string' }, token: { type: 'string' } }, true);
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw usageError('check', `one config file at a time, got ${positionals.map((p) => `"${p}"`).join(', ')}`);
  if (positionals.length === 1 && values.config !== undefined) throw usageError('check', `the config file is given twice (-c ${values.config} and ${positionals[0]!}): pass one`);
  const file = values.config ?? positionals[0];
  if (values.token !== undefined && values.against === undefined) throw usageError('check', '--token goes with --against URL');
  if (values.against !== undefined) return checkAgainst(resolveConfigPath(file, io.env), values.against, values.token, values.json === true, io);
  // A ConfigError propagates to cli.ts, which prints every issue and exits 78.
  const summary = summarize(loadConfigFor('check', file, io));
  io.out(values.json === true ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  return EXIT.OK;
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate a config file and print what it sets up',
  help: HELP,
  run: runCheck,
};
