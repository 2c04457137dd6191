/**
 * A Config back in memshift.yml's own names and shape (snake_case keys, `servers` as written,
 * `replicas`, durations in ms, sizes in bytes), every default filled in: what GET /config shows. It
 * reads back as the same Config (test/unit/config/render.test.ts). The admin token is redacted.
 *
 * Each part lists every field of its type (`satisfies Record<keyof T, ...>`), so a field added to
 * config/types.ts does not compile until it is given its YAML name here.
 */
import type { AdminConfig, AutopilotConfig, BackendAuthConfig, BackendConfig, BackendTlsConfig, Config, DiscoveryConfig, GroupConfig, LimitsConfig, ListenerTlsConfig, ListenSpec, MigrationConfig, PoolConfig, ServerSpec } from './types.js';
import { formatHostPort } from './address.js';

export const REDACTED = '<redacted>';

type Rendered = Record<string, unknown>;

/** Drops the keys whose value is undefined (an optional setting that is not set). */
const defined = (o: Rendered): Rendered => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

export function renderConfig(c: Config): Rendered {
  const fields = {
    listen: c.listen.map(renderListen),
    pools: Object.fromEntries([...c.pools.values()].map((p) => [p.name, renderPool(p)])),
    routes: c.routes.map((r) => ({ prefix: r.prefix, pool: r.pool })),
    defaultPool: c.defaultPool,
    flushAll: c.flushAll,
    workers: c.workers,
    limits: renderLimits(c.limits),
    backend: renderBackend(c.backend),
    admin: c.admin === undefined ? undefined : renderAdmin(c.admin),
    source: undefined, // where it was read from: not a setting
  } satisfies Record<keyof Config, unknown>;
  return defined({
    listen: fields.listen,
    pools: fields.pools,
    routes: fields.routes,
    default_pool: fields.defaultPool,
    flush_all: fields.flushAll,
    workers: fields.workers,
    limits: fields.limits,
    backend: fields.backend,
    admin: fields.admin,
  });
}

function renderListen(l: ListenSpec): unknown {
  if (l.kind === 'unix') return defined({ path: l.path, mode: l.mode === undefined ? undefined : `0${l.mode.toString(8)}` });
  return l.tls === undefined ? formatHostPort(l.host, l.port) : { address: formatHostPort(l.host, l.port), tls: renderListenerTls(l.tls) };
}

function renderListenerTls(t: ListenerTlsConfig): Rendered {
  const fields = { certFile: t.certFile, keyFile: t.keyFile, clientCaFile: t.clientCaFile } satisfies Record<keyof ListenerTlsConfig, unknown>;
  return defined({ cert_file: fields.certFile, key_file: fields.keyFile, client_ca_file: fields.clientCaFile });
}

function renderBackendTls(t: BackendTlsConfig): Rendered {
  const fields = { caFile: t.caFile, certFile: t.certFile, keyFile: t.keyFile, serverName: t.serverName, verify: t.verify } satisfies Record<keyof BackendTlsConfig, unknown>;
  return defined({ ca_file: fields.caFile, cert_file: fields.certFile, key_file: fields.keyFile, server_name: fields.serverName, verify: fields.verify });
}

function renderAuth(a: BackendAuthConfig): Rendered {
  const fields = { username: a.username, passwordFile: a.passwordFile } satisfies Record<keyof BackendAuthConfig, unknown>;
  return { username: fields.username, password_file: fields.passwordFile };
}

/** A server as the operator wrote it; its tls and auth are the pool's (or the migration's from_tls). */
const renderServer = (s: ServerSpec): string => s.raw.trim();

function renderGroup(g: GroupConfig): Rendered {
  const fields = {
    name: g.name,
    servers: g.discovery === undefined ? g.servers.map(renderServer) : undefined,
    discovery: g.discovery === undefined ? undefined : renderDiscovery(g.discovery),
  } satisfies Record<keyof GroupConfig, unknown>;
  return defined({ name: fields.name, servers: fields.servers, discovery: fields.discovery });
}

function renderDiscovery(d: DiscoveryConfig): Rendered {
  const fields = { dns: d.dns, port: d.port, intervalMs: d.intervalMs, names: d.names, resolver: d.resolver } satisfies Record<keyof DiscoveryConfig, unknown>;
  return defined({ dns: fields.dns, port: fields.port, interval: fields.intervalMs, names: fields.names, resolver: fields.resolver });
}

function renderAutopilot(a: AutopilotConfig): Rendered {
  const fields = { migrate: a.migrate, minStableMs: a.minStableMs, maxMovedShare: a.maxMovedShare, rebalance: a.rebalance } satisfies Record<keyof AutopilotConfig, unknown>;
  return { migrate: fields.migrate, min_stable: fields.minStableMs, max_moved_share: fields.maxMovedShare, rebalance: fields.rebalance };
}

function renderPool(p: PoolConfig): Rendered {
  const replicated = p.groups.length > 1;
  const discovery = replicated ? undefined : p.groups[0]?.discovery;
  const fields = {
    name: undefined, // the key under `pools`
    servers: replicated || discovery !== undefined ? undefined : p.servers.map(renderServer),
    groups: replicated ? p.groups.map(renderGroup) : undefined,
    write: p.write,
    read: p.read,
    localGroup: p.localGroup,
    readFailover: p.readFailover,
    writeLog: p.writeLog === undefined ? undefined : { dir: p.writeLog.dir, max_bytes: p.writeLog.maxBytes },
    // The autopilot's migration of a discovered pool is no block of the file: GET /migration shows it.
    migration: p.migration === undefined || p.migration.discovered !== undefined ? undefined : renderMigration(p.migration, p),
    failoverAfterMs: p.failoverAfterMs,
    failoverSettleMs: p.failoverSettleMs,
    resync: { rate: p.resync.rateKeysPerSec },
    hash: p.hash,
    distribution: p.distribution,
    hashTag: p.hashTag,
    timeoutMs: p.timeoutMs,
    connections: p.connections,
    tls: p.tls === undefined ? undefined : renderBackendTls(p.tls),
    auth: p.auth === undefined ? undefined : renderAuth(p.auth),
    autopilot: p.autopilot === undefined ? undefined : renderAutopilot(p.autopilot),
  } satisfies Record<keyof PoolConfig, unknown>;
  return defined({
    servers: fields.servers,
    discovery: discovery === undefined ? undefined : renderDiscovery(discovery),
    replicas: fields.groups,
    hash: fields.hash,
    distribution: fields.distribution,
    hash_tag: fields.hashTag,
    timeout: fields.timeoutMs,
    server_connections: fields.connections,
    write: fields.write,
    read: fields.read,
    local_group: fields.localGroup,
    read_failover: fields.readFailover,
    write_log: fields.writeLog,
    resync: fields.resync,
    failover_after: fields.failoverAfterMs,
    failover_settle: fields.failoverSettleMs,
    tls: fields.tls,
    auth: fields.auth,
    migration: fields.migration,
    autopilot: fields.autopilot,
  });
}

function renderMigration(m: MigrationConfig, pool: PoolConfig): Rendered {
  // from_tls: left out when the from servers use the pool's tls; false when they take plain TCP.
  const fromTls = m.from[0]?.servers[0]?.tls;
  const sameTls = JSON.stringify(fromTls ?? null) === JSON.stringify(pool.tls ?? null);
  const fields = {
    id: m.id,
    from: pool.groups.length > 1 ? m.from.map(renderGroup) : (m.from[0]?.servers ?? []).map(renderServer),
    copy: m.copy,
    rateKeysPerSec: m.rateKeysPerSec,
    rateBytesPerSec: m.rateBytesPerSec,
    // No start: it waits for memshift migrate start.
    startAt: m.startAt === 'command' ? undefined : m.startAt === 'now' ? 'now' : new Date(m.startAt).toISOString(),
    settleMs: m.settleMs,
    cleanup: m.cleanup,
    discovered: undefined, // not rendered (renderPool)
  } satisfies Record<keyof MigrationConfig, unknown>;
  return defined({
    id: fields.id,
    from: fields.from,
    copy: fields.copy,
    rate: fields.rateKeysPerSec,
    rate_bytes: fields.rateBytesPerSec,
    start: fields.startAt,
    settle: fields.settleMs,
    cleanup: fields.cleanup,
    from_tls: sameTls ? undefined : fromTls === undefined ? false : renderBackendTls(fromTls),
  });
}

function renderLimits(l: LimitsConfig): Rendered {
  const fields = {
    maxItemSize: l.maxItemSize,
    maxGetLineBytes: l.maxGetLineBytes,
    maxConnections: l.maxConnections,
    maxInflightPerClient: l.maxInflightPerClient,
    maxQueuedBytesPerClient: l.maxQueuedBytesPerClient,
    maxQueuedBytesPerBackend: l.maxQueuedBytesPerBackend,
    maxPendingPerBackend: l.maxPendingPerBackend,
    maxReplyBytes: l.maxReplyBytes,
    maxReplyMemory: l.maxReplyMemory,
  } satisfies Record<keyof LimitsConfig, unknown>;
  return {
    max_item_size: fields.maxItemSize,
    max_get_line: fields.maxGetLineBytes,
    max_connections: fields.maxConnections,
    max_inflight_per_client: fields.maxInflightPerClient,
    max_queued_bytes_per_client: fields.maxQueuedBytesPerClient,
    max_queued_bytes_per_backend: fields.maxQueuedBytesPerBackend,
    max_pending_per_backend: fields.maxPendingPerBackend,
    max_reply_bytes: fields.maxReplyBytes,
    max_reply_memory: fields.maxReplyMemory,
  };
}

function renderBackend(b: BackendConfig): Rendered {
  const fields = { connectTimeoutMs: b.connectTimeoutMs, failureLimit: b.failureLimit, probeMinMs: b.probeMinMs, probeMaxMs: b.probeMaxMs } satisfies Record<keyof BackendConfig, unknown>;
  return { connect_timeout: fields.connectTimeoutMs, failure_limit: fields.failureLimit, probe_min: fields.probeMinMs, probe_max: fields.probeMaxMs };
}

function renderAdmin(a: AdminConfig): Rendered {
  const fields = {
    host: a.host,
    port: a.port,
    token: a.token === undefined ? undefined : REDACTED,
    tokenFile: a.tokenFile,
    tls: a.tls === undefined ? undefined : renderListenerTls(a.tls),
  } satisfies Record<keyof AdminConfig, unknown>;
  return defined({ listen: formatHostPort(fields.host, fields.port), token: fields.token, token_file: fields.tokenFile, tls: fields.tls });
}
