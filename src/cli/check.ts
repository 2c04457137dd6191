/**
 * `memshift check`: validate a config file (like twemproxy's `-t`). Prints every problem with its
 * file:line:column and exits 78, or prints what the proxy would run: listeners, pools, each server's
 * weight, name, ring points and share of the hash space, routes and limits.
 */
import type { Config, ListenSpec, PoolConfig } from '../config/types.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION } from './common.js';
import { loadConfigFor, parseCommandArgs, table, usageError } from './common.js';
import { resolveConfigPath } from '../config/load.js';
import { checkAgainst } from './reload.js';
import { ringShares } from './ring-shares.js';
import { configWarnings } from '../config/warnings.js';

const HELP = `Usage: memshift check [-c FILE] [--json]
       memshift check -c FILE --against URL [--token TOKEN] [--json]

Validates a config file. On success prints a summary: listeners, each pool with its hash,
distribution and hash_tag, and each server with its weight, name, ring points and share of the
hash space, then any warning (TLS without verification, a certificate ending within 14 days, an
admin API reachable from other hosts without TLS or a token). Otherwise prints every problem as
FILE:LINE:COLUMN FIELD: MESSAGE and exits 78.

With --against, the file is compared with the config a running sidecar serves: the sidecar at URL
(its admin API) says what a reload with this file would apply, refuse (needs force) or need a
restart for, and changes nothing (a dry run of POST /reload). Exits 0 when it would apply, 1 when
refused. The token is --token, else the file's admin.token or admin.token_file, else
$MEMSHIFT_ADMIN_TOKEN.

Options:
${CONFIG_HELP}
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

export interface PoolSummary {
  readonly name: string;
  readonly default: boolean;
  readonly hash: string;
  readonly distribution: string;
  readonly hashTag: string | null;
  readonly timeoutMs: number;
  readonly connections: number;
  readonly servers: readonly ServerSummary[];
}

export interface ConfigSummary {
  readonly source: string | null;
  readonly listen: readonly string[];
  readonly pools: readonly PoolSummary[];
  readonly routes: readonly { readonly prefix: string; readonly pool: string }[];
  readonly defaultPool: string;
  readonly flushAll: boolean;
  readonly limits: Config['limits'];
  readonly backend: Config['backend'];
  /** What the config does that an operator should know (config/warnings.ts). */
  readonly warnings: readonly string[];
}

export function summarize(config: Config): ConfigSummary {
  return {
    source: config.source ?? null,
    listen: config.listen.map(describeListen),
    pools: [...config.pools.values()].map((pool) => summarizePool(pool, pool.name === config.defaultPool)),
    routes: config.routes.map((r) => ({ prefix: r.prefix, pool: r.pool })),
    defaultPool: config.defaultPool,
    flushAll: config.flushAll,
    limits: config.limits,
    backend: config.backend,
    warnings: configWarnings(config).map((w) => w.message),
  };
}

function summarizePool(pool: PoolConfig, isDefault: boolean): PoolSummary {
  const shares = ringShares(pool);
  return {
    name: pool.name,
    default: isDefault,
    hash: pool.hash,
    distribution: pool.distribution,
    hashTag: pool.hashTag ?? null,
    timeoutMs: pool.timeoutMs,
    connections: pool.connections,
    servers: pool.servers.map((s, i) => ({
      address: s.address,
      name: s.name ?? null,
      weight: s.weight,
      points: shares[i]?.points ?? 0,
      sharePercent: Math.round((shares[i]?.share ?? 0) * 1e6) / 1e4,
    })),
  };
}

function describeListen(l: ListenSpec): string {
  if (l.kind === 'tcp') return l.tls === undefined ? l.raw : `${l.raw} (TLS${l.tls.clientCaFile === undefined ? '' : ', client certificates required'})`;
  return l.mode === undefined ? `unix:${l.path}` : `unix:${l.path} (mode 0${l.mode.toString(8)})`;
}

export function formatSummary(s: ConfigSummary): string {
  const out = [`${s.source ?? 'config'}: OK\n\nlisten:\n`, ...s.listen.map((l) => `  ${l}\n`), '\n'];
  for (const pool of s.pools) {
    const tag = pool.hashTag === null ? '' : `, hash_tag ${JSON.stringify(pool.hashTag)}`;
    const conns = `${pool.connections} connection${pool.connections === 1 ? '' : 's'} per server`;
    const settings = `hash ${pool.hash}, distribution ${pool.distribution}${tag}, timeout ${pool.timeoutMs} ms, ${conns}`;
    out.push(`pool ${pool.name}${pool.default ? ' (default)' : ''}: ${settings}\n`);
    const rows = pool.servers.map((sv) => [sv.address, String(sv.weight), sv.name ?? '-', String(sv.points), `${sv.sharePercent.toFixed(2)}%`]);
    out.push(table([['server', 'weight', 'name', 'points', 'share'], ...rows], '  ', [false, true, false, true, true]), '\n');
  }
  out.push('routes:\n', ...s.routes.map((r) => `  ${JSON.stringify(r.prefix)} -> ${r.pool}\n`));
  out.push(`  ${s.routes.length === 0 ? 'every key' : 'any other key'} -> ${s.defaultPool}\n\n`);
  const l = s.limits;
  const b = s.backend;
  out.push(
    `flush_all: ${s.flushAll ? 'sent to every backend' : 'refused'}\n`,
    `limits: max_item_size ${l.maxItemSize} B, max_get_line ${l.maxGetLineBytes} B, max_connections ${l.maxConnections},\n`,
    `  max_inflight_per_client ${l.maxInflightPerClient}, max_queued_bytes_per_client ${l.maxQueuedBytesPerClient} B,\n`,
    `  max_queued_bytes_per_backend ${l.maxQueuedBytesPerBackend} B, max_pending_per_backend ${l.maxPendingPerBackend}\n`,
    `backend: connect_timeout ${b.connectTimeoutMs} ms, TKO after ${b.failureLimit} failures, probes ${b.probeMinMs}..${b.probeMaxMs} ms\n`,
  );
  if (s.warnings.length > 0) out.push('\n', ...s.warnings.map((w) => `warning: ${w}\n`));
  return out.join('');
}

export async function runCheck(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('check', args, { ...CONFIG_OPTION, ...HELP_OPTION, json: { type: 'boolean' }, against: { type: 'string' }, token: { type: 'string' } });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  if (values.token !== undefined && values.against === undefined) throw usageError('check', '--token goes with --against URL');
  if (values.against !== undefined) return checkAgainst(resolveConfigPath(values.config, io.env), values.against, values.token, values.json === true, io);
  // A ConfigError propagates to cli.ts, which prints every issue and exits 78.
  const summary = summarize(loadConfigFor('check', values.config, io));
  io.out(values.json === true ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
  return EXIT.OK;
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'validate a config file and print what it sets up',
  help: HELP,
  run: runCheck,
};
