/**
 * The validated, frozen configuration that every other folder consumes.
 * `src/config/load.ts` turns a YAML file into this shape; nothing else parses YAML.
 */

/**
 * Key hash functions: every hash twemproxy's `hash:` accepts, by its names (src/routing/hash.ts has
 * them all, each equal to nutcracker's). `fnv1a_64` is the default, as in twemproxy.
 */
export type HashName =
  | 'one_at_a_time'
  | 'md5'
  | 'crc16'
  | 'crc32'
  | 'crc32a'
  | 'fnv1_64'
  | 'fnv1a_64'
  | 'fnv1_32'
  | 'fnv1a_32'
  | 'hsieh'
  | 'murmur'
  | 'jenkins';

/**
 * How keys are spread over a pool's servers: twemproxy's `ketama` and `modula` (its `random` cannot
 * keep a cache warm and is not offered), and `node-memcached` (the npm memcached client's ring).
 */
export type DistributionName = 'ketama' | 'modula' | 'node-memcached';

/**
 * Largest total weight (slots) of a modula pool: its continuum has one point per slot, and a
 * continuum holds at most 2^21 points (CONTINUUM_MAX_POINTS, src/routing/continuum.ts). Here so
 * that the schema checks it without importing routing.
 */
export const MODULA_MAX_SLOTS = 1 << 21;

/** One backend, parsed from twemproxy's `host:port[:weight] [name]` form. */
export interface ServerSpec {
  readonly host: string;
  readonly port: number;
  readonly weight: number;
  /** The optional node name (twemproxy's `name`); it replaces host[:port] on the ring. */
  readonly name?: string;
  /** `host:port`, unique inside a pool; used as the backend's identity for connections and metrics. */
  readonly address: string;
  /** The string as the operator wrote it. */
  readonly raw: string;
  /** TLS to this server (its pool's `tls`, or a migration's `from_tls` for its old servers); absent: plain TCP. */
  readonly tls?: BackendTlsConfig;
  /** memcached's ASCII authentication (`memcached -Y`) to this server: its pool's `auth`. */
  readonly auth?: BackendAuthConfig;
}

/** memcached's ASCII authentication: a user and a file holding the password (re-read when it changes). */
export interface BackendAuthConfig {
  readonly username: string;
  readonly passwordFile: string;
}

/** TLS from memshift to memcached servers (a pool's `tls`). Files are PEM. */
export interface BackendTlsConfig {
  /** CAs that sign the servers' certificates; absent: Node's default CAs. */
  readonly caFile?: string;
  /** A client certificate and its key, for servers that require one (mutual TLS). */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** The name checked against each server's certificate (and sent as SNI); absent: the server's host. */
  readonly serverName?: string;
  /** false: any certificate is accepted (logged as a warning at start). */
  readonly verify: boolean;
}

/** How many replica groups must acknowledge a write before the client is answered. */
export type WritePolicy = 'all' | 'majority' | 'one';
/** Which group serves a read: the first, the local one, or the one fastest for that key's backend. */
export type ReadPolicy = 'primary' | 'local' | 'fastest';
/** When a read goes on to another group: on errors, or on errors and misses. */
export type ReadFailover = 'errors' | 'errors_and_misses';

/** One replica group: a full copy of the pool's data on its own ketama ring. */
export interface GroupConfig {
  readonly name: string;
  /** The servers as configured; empty when the group has `discovery`. */
  readonly servers: readonly ServerSpec[];
  /** The group's servers come from DNS (a plain pool's `discovery:` is its one group's). */
  readonly discovery?: DiscoveryConfig;
}

/** A `discovery:` block: the servers are the records of a DNS name (src/discovery). */
export interface DiscoveryConfig {
  /** A name with A/AAAA records, or an SRV name (starting with `_`, e.g. `_memcache._tcp.mc.svc`). */
  readonly dns: string;
  /** The port of A/AAAA records (default 11211); absent for an SRV name, whose records carry it. */
  readonly port?: number;
  /** How often the name is resolved again, in ms (sooner when the records' TTL is shorter). */
  readonly intervalMs: number;
  /** Ring node names: each server's stable DNS name (SRV target, PTR name), or its address. */
  readonly names: 'hostname' | 'address';
  /** The DNS server to ask, `ip` or `ip:port` (`[v6]:port`); absent: the system's. */
  readonly resolver?: string;
}

/** A pool's `autopilot:` block: what a change of its discovered servers does. */
export interface AutopilotConfig {
  /** auto: a changed set starts a migration by itself; approve: it is planned and waits for `memshift migrate start`. */
  readonly migrate: 'auto' | 'approve';
  /** How long a new set must be seen unchanged before anything starts, in ms. */
  readonly minStableMs: number;
  /** A change that would move more than this share of the keys (0..1] is refused. */
  readonly maxMovedShare: number;
  /** suggest: report the load per server and the weights `plan --rebalance` would propose. */
  readonly rebalance: 'off' | 'suggest';
}

export interface WriteLogConfig {
  readonly dir: string;
  readonly maxBytes: number;
}

/** How a migration runs, whatever it moves: the fields a pool's and a route's `migration:` block share. */
export interface MigrationSettings {
  /** Unique; names the run in logs, metrics and the state record. */
  readonly id: string;
  /** eager: copy every moved key in the background; lazy: copy on read misses only. */
  readonly copy: 'eager' | 'lazy';
  readonly rateKeysPerSec: number;
  readonly rateBytesPerSec?: number;
  /**
   * When the migration starts: at once ('now'), at a time (Unix ms), or when an operator says so
   * ('command': `memshift migrate start`, POST /migration/start), which is what a block without
   * `start:` means, so that saving a block into a live config does not start anything by itself.
   */
  readonly startAt: number | 'now' | 'command';
  /** Overlap kept before each phase switch, for clock skew between sidecars. */
  readonly settleMs: number;
  /** Delete moved keys from the old owners at the end. */
  readonly cleanup: boolean;
}

/** A pool's `migration:` block: the pool moves from `from` to its servers. */
export interface MigrationConfig extends MigrationSettings {
  /** The previous servers of each group, in the pool's group order (one group for a plain pool). */
  readonly from: readonly GroupConfig[];
  /**
   * Set by the autopilot (src/discovery), never read from a file: the block moves a discovered pool
   * between these rings. Its record keeps them, so every sidecar, and one that starts later, builds
   * the same rings from the record whatever its own DNS answer says.
   */
  readonly discovered?: DiscoveredMove;
}

/** A discovered server as a ring and a migration record keep it (src/discovery's DiscoveredServer). */
export interface DiscoveredRingServer {
  /** The IP address it had when it was resolved. */
  readonly host: string;
  readonly port: number;
  /** `host:port` (`[v6]:port`). */
  readonly address: string;
  /** The DNS name it was found under (SRV target or PTR name). */
  readonly dnsName?: string;
  /** Its node name on the ring (`names: hostname`). */
  readonly name?: string;
}

/** The rings an autopilot migration moves a discovered pool between, and the servers drained out of it. */
export interface DiscoveredMove {
  readonly from: readonly DiscoveredRingServer[];
  readonly to: readonly DiscoveredRingServer[];
  /** Ring identities taken out by `memshift migrate drain` that DNS may still list: they stay out. */
  readonly drained: readonly string[];
  /**
   * Ring identities that left DNS while down: no copy of their keys exists, so the move starts them
   * empty on their new owners (as a failover of a pool without replica groups does).
   */
  readonly gone?: readonly string[];
}

/** A route's `migration:` block: the route's keys move from `fromPool` to the route's pool. */
export interface RouteMigrationConfig extends MigrationSettings {
  /** The pool that holds the route's keys now (where the route pointed before). */
  readonly fromPool: string;
}

export interface PoolConfig {
  readonly name: string;
  /** The first group's servers (a pool with plain `servers` is one group named after the pool); empty with `discovery`. */
  readonly servers: readonly ServerSpec[];
  /** Replica groups, the primary first. */
  readonly groups: readonly GroupConfig[];
  readonly write: WritePolicy;
  readonly read: ReadPolicy;
  /** The group `read: local` prefers (MEMSHIFT_LOCAL_GROUP overrides the file). */
  readonly localGroup?: string;
  readonly readFailover: ReadFailover;
  /** Where writes a group missed are logged for replay; absent: kept in memory only. */
  readonly writeLog?: WriteLogConfig;
  /** A migration of this pool from `migration.from` to its servers (src/migration). */
  readonly migration?: MigrationConfig;
  /** Passive migration: a backend TKO for this long has its arcs migrated to the rest of its group. */
  readonly failoverAfterMs?: number;
  /** The `settle` of a failover's migration. */
  readonly failoverSettleMs: number;
  /** The automatic rebuild of a backend that returns empty or is marked for resync (replica groups only). */
  readonly resync: { readonly rateKeysPerSec: number };
  readonly hash: HashName;
  readonly distribution: DistributionName;
  /** Two characters, e.g. "{}": only the part of the key between them is hashed. */
  readonly hashTag?: string;
  /** Per-request timeout towards this pool's backends, in ms. */
  readonly timeoutMs: number;
  /** Persistent connections per backend per process. */
  readonly connections: number;
  /** TLS to every server of the pool (each ServerSpec carries it too). */
  readonly tls?: BackendTlsConfig;
  /** ASCII authentication to every server of the pool, its migration's `from` servers included. */
  readonly auth?: BackendAuthConfig;
  /** What a change of the discovered servers does; only with `discovery` (a group's `discovery`). */
  readonly autopilot?: AutopilotConfig;
}

/**
 * TLS on a listener of memshift's own (a client `listen` entry, the admin API). Files are PEM, read
 * again when they change: new connections get the new material.
 */
export interface ListenerTlsConfig {
  readonly certFile: string;
  readonly keyFile: string;
  /** CAs whose client certificates are accepted; set: every client must present one (mutual TLS). */
  readonly clientCaFile?: string;
}

export type ListenSpec =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number; readonly raw: string; readonly tls?: ListenerTlsConfig }
  | { readonly kind: 'unix'; readonly path: string; readonly mode?: number; readonly raw: string };

export interface RouteConfig {
  readonly prefix: string;
  readonly pool: string;
  /** A move of the route's keys from `migration.fromPool` to `pool` (src/migration). */
  readonly migration?: RouteMigrationConfig;
}

export interface LimitsConfig {
  /** Largest value accepted from a client, in bytes (memcached's -I). */
  readonly maxItemSize: number;
  /** Longest get/gets/gat/gats line without a newline before the connection is closed. */
  readonly maxGetLineBytes: number;
  /** Client connections accepted at once; past it new connections are closed. */
  readonly maxConnections: number;
  /** Requests one client connection may have in flight; past it the socket is paused. */
  readonly maxInflightPerClient: number;
  /** Reply bytes queued for one client before its socket is paused. */
  readonly maxQueuedBytesPerClient: number;
  /** Request bytes queued towards one backend connection before new requests fail with SERVER_ERROR. */
  readonly maxQueuedBytesPerBackend: number;
  /** Requests waiting on one backend connection before new requests fail with SERVER_ERROR. */
  readonly maxPendingPerBackend: number;
  /** Largest single backend reply memshift buffers (a multi-get of many large values); past it the request fails. */
  readonly maxReplyBytes: number;
  /** Reply bytes held for all clients together (replies queued, requests in flight at their worst case); past it clients wait. */
  readonly maxReplyMemory: number;
}

export interface BackendConfig {
  /** Connect timeout, in ms. */
  readonly connectTimeoutMs: number;
  /** Consecutive failures (timeouts, resets) that make a backend TKO; a refused connection does at once. */
  readonly failureLimit: number;
  /** First probe of a TKO backend after this many ms; the delay doubles up to `probeMaxMs`. */
  readonly probeMinMs: number;
  readonly probeMaxMs: number;
}

export interface AdminConfig {
  readonly host: string;
  readonly port: number;
  /** The bearer token for mutating endpoints (admin.token, else admin.token_file, else MEMSHIFT_ADMIN_TOKEN). */
  readonly token?: string;
  readonly tokenFile?: string;
  /** HTTPS instead of HTTP. */
  readonly tls?: ListenerTlsConfig;
}

export interface Config {
  readonly listen: readonly ListenSpec[];
  readonly pools: ReadonlyMap<string, PoolConfig>;
  readonly routes: readonly RouteConfig[];
  readonly defaultPool: string;
  readonly limits: LimitsConfig;
  readonly backend: BackendConfig;
  /** `flush_all` fans out to every backend when true; answers `SERVER_ERROR flush_all disabled` when false. */
  readonly flushAll: boolean;
  /**
   * Processes that serve clients (node:cluster): 1 is one process; more share the listeners, and
   * the first of them alone leads migrations and owns the failed-write logs (app/cluster).
   */
  readonly workers: number;
  /** The admin HTTP listener; absent: none. */
  readonly admin?: AdminConfig;
  /** Where the config came from, for logs. */
  readonly source?: string;
}
