/**
 * The one schema of memshift.yml. It holds every default (`DEFAULTS`), checks every field and the
 * cross-references, and maps the snake_case YAML onto the camelCase `Config` of types.ts.
 *
 * To add a setting: add its field to `poolShape` or `rootShape` (a `.default()` if it has one, the
 * value in `DEFAULTS`), then map it in `toPool` or `toConfig`, and optionally in types.ts. Unknown keys
 * are refused everywhere, through `strictMap`, which also suggests the closest known key.
 *
 * Cross-reference checks run even when other fields failed (`{ when: always }`), so an operator sees
 * every problem at once; they therefore read their input as `unknown` and skip what did not parse.
 */
import { z } from 'zod';
import { addIssue, always, atLeast, duration, field, strictMap } from './schema-parts.js';
import { secretProblem } from './files.js';
import { backendTls, listenerTls, toBackendTls, toListenerTls } from './tls-schema.js';
import { autopilotSchema, checkDiscovery, DEFAULT_AUTOPILOT, discoverySchema, toAutopilot, toDiscovery } from './discovery-schema.js';
import { MODULA_MAX_SLOTS, type AdminConfig, type BackendAuthConfig, type BackendTlsConfig, type Config, type DistributionName, type GroupConfig, type HashName, type ListenSpec, type MigrationConfig, type MigrationSettings, type PoolConfig, type RouteConfig, type ServerSpec } from './types.js';
import { checkRouteMigrations } from './route-migration.js';
import { type Parsed, checkHost, fail, formatHostPort, ok } from './address.js';
import { checkUnixPath, LISTEN_FORMAT, listenIdentity, parseListenString, parseSocketMode } from './listen.js';
import { parseServerSpec, SERVER_FORMAT } from './server-spec.js';
import { describe, parseSize } from './units.js';
import { FrozenMap, deepFreeze } from './freeze.js';

export const DEFAULTS = deepFreeze({
  hash: 'fnv1a_64',
  distribution: 'ketama',
  timeoutMs: 1000,
  serverConnections: 1,
  flushAll: true,
  workers: 1,
  limits: {
    maxItemSize: 1024 * 1024,
    maxGetLineBytes: 1024 * 1024,
    maxConnections: 10_000,
    maxInflightPerClient: 4096,
    maxQueuedBytesPerClient: 32 * 1024 * 1024,
    maxQueuedBytesPerBackend: 64 * 1024 * 1024,
    maxPendingPerBackend: 100_000,
    maxReplyBytes: 64 * 1024 * 1024,
    maxReplyMemory: 1024 * 1024 * 1024,
  },
  backend: { connectTimeoutMs: 1000, failureLimit: 3, probeMinMs: 1000, probeMaxMs: 30_000 },
  write: 'all',
  read: 'primary',
  readFailover: 'errors',
  writeLogMaxBytes: 64 * 1024 * 1024,
  resyncRate: 20_000,
  migration: { copy: 'eager', rate: 20_000, settleMs: 1_000, cleanup: true },
  adminHost: '127.0.0.1',
} as const);

/** Every key hash `hash:` accepts: twemproxy's twelve (the default first). */
export const HASH_NAMES = [
  'fnv1a_64',
  'md5',
  'one_at_a_time',
  'crc16',
  'crc32',
  'crc32a',
  'fnv1_64',
  'fnv1_32',
  'fnv1a_32',
  'hsieh',
  'murmur',
  'jenkins',
] as const satisfies readonly HashName[];
/** Every `distribution:`. */
export const DISTRIBUTION_NAMES = ['ketama', 'modula', 'node-memcached'] as const satisfies readonly DistributionName[];
// Both lists are complete: these stop compiling if types.ts gains a name the lists lack.
const _allHashes: readonly (typeof HASH_NAMES)[number][] = [] as HashName[];
const _allDistributions: readonly (typeof DISTRIBUTION_NAMES)[number][] = [] as DistributionName[];

/** Overrides `local_group` of every pool that has replica groups, so each zone's sidecars read nearby. */
export const LOCAL_GROUP_ENV = 'MEMSHIFT_LOCAL_GROUP';

export const POOL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

// ---- leaf fields: each parses `unknown` and says exactly what is wrong ----

function positiveInt(input: unknown): Parsed<number> {
  const n = typeof input === 'string' && /^[0-9]+$/.test(input.trim()) ? Number(input) : input;
  if (typeof n === 'number' && Number.isSafeInteger(n) && n >= 1) return ok(n);
  return fail(`must be a positive integer, got ${describe(input)}`);
}

const size = (min = 1) => field(atLeast(min, parseSize, 'size'));
const count = () => field(positiveInt);

/** The most worker processes `workers:` may ask for. */
export const MAX_WORKERS = 256;

function workerCount(input: unknown): Parsed<number> {
  const n = positiveInt(input);
  if (n.ok && n.value > MAX_WORKERS) return fail(`must be at most ${MAX_WORKERS}, got ${n.value}`);
  return n;
}

function hashTag(input: unknown): Parsed<string> {
  if (typeof input === 'string' && input.length === 2 && Buffer.byteLength(input) === 2) return ok(input);
  return fail(`must be exactly two ASCII characters such as "{}", got ${describe(input)}`);
}

const server = field((input): Parsed<ServerSpec> =>
  typeof input === 'string' ? parseServerSpec(input) : fail(`expected a server string ${SERVER_FORMAT}, got ${describe(input)}`),
);

// ---- listen ----

const listenTcpMap = strictMap({
  host: field((v): Parsed<string> => (typeof v === 'string' ? checkHost(v) : fail(`expected a host name or address, got ${describe(v)}`))),
  port: field(listenPort),
  tls: listenerTls.optional(),
});
const tcpAddress = field((v): Parsed<{ host: string; port: number }> => {
  const r = typeof v === 'string' ? parseListenString(v) : fail<ListenSpec>(`expected "host:port", got ${describe(v)}`);
  if (!r.ok) return r;
  return r.value.kind === 'tcp' ? ok(r.value) : fail(`expected "host:port" (TLS is for TCP listeners), got ${describe(v)}`);
});
const listenAddressMap = strictMap({ address: tcpAddress, tls: listenerTls.optional() });
const listenUnixMap = strictMap({
  path: field((v): Parsed<string> => (typeof v === 'string' ? checkUnixPath(v) : fail(`expected a socket path, got ${describe(v)}`))),
  mode: field(parseSocketMode).optional(),
});

function listenPort(input: unknown): Parsed<number> {
  if (typeof input === 'number' && Number.isInteger(input) && input >= 0 && input <= 65535) return ok(input);
  return fail(`port must be an integer from 0 to 65535, got ${describe(input)}`);
}

const listenEntry = z.unknown().transform((input, ctx): ListenSpec => {
  if (typeof input === 'string') {
    const r = parseListenString(input);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  }
  const isMap = typeof input === 'object' && input !== null && !Array.isArray(input);
  if (!isMap) {
    ctx.addIssue({ code: 'custom', message: `expected ${LISTEN_FORMAT}, {address, tls}, {host, port} or {path, mode}, got ${describe(input)}` });
    return z.NEVER;
  }
  if ('path' in input) {
    const r = listenUnixMap.safeParse(input, { reportInput: true });
    if (r.success) {
      const { path, mode } = r.data;
      return mode === undefined ? { kind: 'unix', path, raw: `unix:${path}` } : { kind: 'unix', path, mode, raw: `unix:${path}` };
    }
    for (const issue of r.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
    return z.NEVER;
  }
  const tcp = (host: string, port: number, tls: z.output<typeof listenerTls> | undefined): ListenSpec =>
    ({ kind: 'tcp', host, port, raw: formatHostPort(host, port), ...(tls === undefined ? {} : { tls: toListenerTls(tls) }) });
  if ('address' in input) {
    const r = listenAddressMap.safeParse(input, { reportInput: true });
    if (r.success) return tcp(r.data.address.host, r.data.address.port, r.data.tls);
    for (const issue of r.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
    return z.NEVER;
  }
  const r = listenTcpMap.safeParse(input, { reportInput: true });
  if (r.success) return tcp(r.data.host, r.data.port, r.data.tls);
  for (const issue of r.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
  return z.NEVER;
});

const isListen = (v: unknown): v is ListenSpec => typeof v === 'object' && v !== null && 'kind' in v;
const isServer = (v: unknown): v is ServerSpec => typeof v === 'object' && v !== null && 'address' in v;
const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkListen(list: unknown, ctx: z.RefinementCtx): void {
  if (!Array.isArray(list)) return;
  const seen = new Map<string, number>();
  list.forEach((entry: unknown, i) => {
    const id = isListen(entry) ? listenIdentity(entry) : undefined;
    if (id === undefined) return;
    const first = seen.get(id);
    if (first === undefined) seen.set(id, i);
    else addIssue(ctx, [i], `duplicate listen address ${id} (also listen[${first}])`);
  });
}

// ---- pools ----

/** A server list: at least one, unique addresses, unique names, and no two servers on one ring identity. */
function checkServers(list: unknown, ctx: z.RefinementCtx): void {
  if (!Array.isArray(list)) return;
  const seen = new Map<string, string>();
  const claim = (id: string, i: number, what: string): void => {
    const other = seen.get(id);
    if (other === undefined) seen.set(id, `servers[${i}]`);
    else addIssue(ctx, [i], `${what} (also ${other})`);
  };
  list.forEach((s: unknown, i) => {
    if (!isServer(s)) return;
    claim(`address ${s.address.toLowerCase()}`, i, `duplicate server address ${s.address}`);
    if (s.name !== undefined) claim(`name ${s.name}`, i, `duplicate server name "${s.name}"`);
  });
  // A name equal to another server's default ring identity (twemproxy: host on port 11211, else host:port)
  // would put two servers on the same ketama points.
  list.forEach((s: unknown, i) => {
    if (!isServer(s) || s.name !== undefined) return;
    const id = s.port === 11211 ? s.host : s.address;
    const other = seen.get(`name ${id}`);
    if (other !== undefined) addIssue(ctx, [i], `its ring identity "${id}" is the name of ${other}`);
  });
}

const serverList = z.array(server).min(1, 'a pool needs at least one server').superRefine(checkServers, { when: always });
const groupName = z.string().regex(POOL_NAME, 'a group name must start with a letter or digit and hold only letters, digits, "_", "-" and "."');

/** How a migration runs: the fields a pool's and a route's `migration:` block share. */
const migrationRunShape = {
  id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a migration id is 1 to 64 letters, digits, "_", "-" and ".", starting with a letter or digit'),
  copy: z.enum(['eager', 'lazy']).default(DEFAULTS.migration.copy),
  rate: z.number().positive('rate must be a positive number of keys per second').default(DEFAULTS.migration.rate),
  rate_bytes: size().optional(),
  start: z
    .string()
    .refine((v) => v === 'now' || (/^\d{4}-\d\d-\d\dT/.test(v) && !Number.isNaN(Date.parse(v))), 'start is "now" or an ISO-8601 time such as 2026-11-28T10:00:00Z')
    // No default: a block without `start` waits for `memshift migrate start` (POST /migration/start).
    .optional(),
  settle: duration(0).default(DEFAULTS.migration.settleMs),
  cleanup: z.boolean().default(DEFAULTS.migration.cleanup),
};

/** Each server with its TLS settings (none: plain TCP) and its pool's authentication. */
const withTls = (servers: readonly ServerSpec[], tls: BackendTlsConfig | undefined, auth?: BackendAuthConfig): ServerSpec[] =>
  servers.map((s) => ({ ...s, ...(tls === undefined ? {} : { tls }), ...(auth === undefined ? {} : { auth }) }));

export const poolShape = {
  /** One group; or `discovery`, one group from DNS; or `replicas`, a list of named groups (each with servers or discovery). Exactly one. */
  servers: serverList.optional(),
  discovery: discoverySchema.optional(),
  replicas: z.array(strictMap({ name: groupName, servers: serverList.optional(), discovery: discoverySchema.optional() })).min(1, 'replicas needs at least one group').optional(),
  /** What a change of the discovered servers does (src/discovery). */
  autopilot: autopilotSchema.optional(),
  write: z.enum(['all', 'majority', 'one']).default(DEFAULTS.write),
  read: z.enum(['primary', 'local', 'fastest']).default(DEFAULTS.read),
  local_group: z.string().optional(),
  read_failover: z.enum(['errors', 'errors_and_misses']).default(DEFAULTS.readFailover),
  write_log: strictMap({ dir: z.string().min(1), max_bytes: size().default(DEFAULTS.writeLogMaxBytes) }).optional(),
  /** How fast a backend that returns empty (or is marked for resync) is rebuilt from a healthy group. */
  resync: strictMap({
    rate: z.number().positive('resync.rate must be a positive number of keys per second').default(DEFAULTS.resyncRate),
  }).default({ rate: DEFAULTS.resyncRate }),
  /** A move of this pool from `from` to its servers (src/migration). */
  migration: strictMap({
    from: z.union([serverList, z.array(strictMap({ name: groupName, servers: serverList })).min(1)]),
    ...migrationRunShape,
    /** TLS to the `from` servers: default the pool's `tls`; false: plain TCP (moving into a TLS cluster). */
    from_tls: z.union([z.literal(false), backendTls]).optional(),
  }).optional(),
  /** Passive migration: a backend TKO this long has its arcs moved to the rest of its group. */
  failover_after: duration().optional(),
  /** The `settle` of a failover's migration (its overlap before each phase switch). */
  failover_settle: duration(0).default(DEFAULTS.migration.settleMs),
  // No zod default: the default hash depends on the distribution (toPool).
  hash: z.enum(HASH_NAMES).optional(),
  distribution: z.enum(DISTRIBUTION_NAMES).default(DEFAULTS.distribution),
  hash_tag: field(hashTag).optional(),
  timeout: duration().default(DEFAULTS.timeoutMs),
  server_connections: count().default(DEFAULTS.serverConnections),
  /** TLS to every server of the pool (and of its replica groups). */
  tls: backendTls.optional(),
  /** memcached's ASCII authentication (memcached -Y) to every server of the pool. */
  auth: strictMap({
    username: z.string().min(1).regex(/^\S+$/, 'a username holds no spaces'),
    password_file: z.string().min(1).superRefine((path, ctx) => {
      const problem = secretProblem(path);
      if (problem !== null) addIssue(ctx, [], problem);
    }),
  }).optional(),
};
/** npm memcached (the node-memcached distribution) hashes keys with md5 only; it is also its default. */
function checkPool(pool: unknown, ctx: z.RefinementCtx): void {
  if (!isRecord(pool)) return;
  if (pool.distribution === 'node-memcached' && typeof pool.hash === 'string' && pool.hash !== 'md5') {
    const message = `the node-memcached distribution hashes keys with md5, as npm memcached does; set hash: md5 (got "${pool.hash}")`;
    addIssue(ctx, ['hash'], message);
  }
  if (pool.distribution === 'modula') checkModula(pool, ctx);
  checkGroups(pool, ctx);
  checkDiscovery(pool, ctx);
}

const totalWeight = (list: unknown): number | undefined =>
  Array.isArray(list) && list.every(isServer) ? list.reduce((t: number, s: ServerSpec) => t + s.weight, 0) : undefined;

/**
 * modula places a key on slot `hash % total weight`: a change of the total weight moves nearly every
 * key, which no migration can do key by key (its arcs are exact only between modula rings with the
 * same total weight), and a failover would change it. Also caps the slots.
 */
function checkModula(pool: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const groups: { path: PropertyKey[]; servers: unknown }[] = Array.isArray(pool.replicas)
    ? pool.replicas.filter(isRecord).map((g, i) => ({ path: ['replicas', i, 'servers'], servers: g.servers }))
    : [{ path: ['servers'], servers: pool.servers }];
  for (const g of groups) {
    const total = totalWeight(g.servers);
    if (total !== undefined && total > MODULA_MAX_SLOTS) {
      addIssue(ctx, g.path, `modula gives each server one slot per unit of weight: the total weight ${total} is over ${MODULA_MAX_SLOTS}`);
    }
  }
  if (pool.failover_after !== undefined) {
    addIssue(ctx, ['failover_after'], 'failover_after needs a consistent-hash distribution: with modula, taking a server out changes hash % total weight for nearly every key');
  }
  const m = pool.migration;
  if (!isRecord(m) || !Array.isArray(m.from)) return;
  const fromLists = m.from.every(isServer) ? [m.from] : m.from.filter(isRecord).map((g) => g.servers);
  fromLists.forEach((from, i) => {
    const before = totalWeight(from);
    const after = totalWeight(groups[i]?.servers);
    if (before === undefined || after === undefined || before === after) return;
    const where = groups.length > 1 ? ` of group ${i}` : '';
    addIssue(
      ctx,
      ['migration', 'from'],
      `a modula pool places a key on slot hash % total weight, and this migration changes the total weight${where} from ${before} to ${after}, which moves nearly every key; memshift migrates a modula pool only when its total weight stays the same (e.g. a server replaced by one of the same weight)`,
    );
  });
}

/** `servers`, `discovery` or `replicas` (one of them); unique group names; a server in one group only; a real local group. */
function checkGroups(pool: Record<string, unknown>, ctx: z.RefinementCtx): void {
  const given = (['servers', 'discovery', 'replicas'] as const).filter((key) => pool[key] !== undefined);
  if (given.length !== 1) {
    const [first, second] = given;
    if (first === undefined) addIssue(ctx, ['servers'], 'a pool needs servers (one group), discovery (its servers from DNS) or replicas (a list of {name, servers or discovery})');
    else addIssue(ctx, [second ?? first], `give either ${first} or ${String(second)}, not both`);
    return;
  }
  const groups = Array.isArray(pool.replicas) ? pool.replicas.filter(isRecord) : [];
  groups.forEach((g, i) => {
    if ((g.servers === undefined) !== (g.discovery === undefined)) return;
    addIssue(ctx, g.servers === undefined ? ['replicas', i] : ['replicas', i, 'discovery'], g.servers === undefined ? 'a group needs servers or discovery' : 'give either servers or discovery, not both');
  });
  const names = new Map<string, number>();
  const owner = new Map<string, string>();
  groups.forEach((g, i) => {
    if (typeof g.name === 'string') {
      const first = names.get(g.name);
      if (first === undefined) names.set(g.name, i);
      else addIssue(ctx, ['replicas', i, 'name'], `duplicate group name "${g.name}" (also replicas[${first}])`);
    }
    if (!Array.isArray(g.servers)) return;
    g.servers.forEach((s: unknown, j) => {
      if (!isServer(s)) return;
      const id = s.address.toLowerCase();
      const other = owner.get(id);
      if (other !== undefined && other !== String(g.name)) addIssue(ctx, ['replicas', i, 'servers', j], `server ${s.address} is also in group "${other}"`);
      else owner.set(id, String(g.name));
    });
  });
  const local = process.env[LOCAL_GROUP_ENV] !== undefined && groups.length > 0 ? process.env[LOCAL_GROUP_ENV] : pool.local_group;
  if (typeof local === 'string' && !names.has(local) && (groups.length > 0 || local !== undefined)) {
    const from = local === pool.local_group ? '' : ` (from ${LOCAL_GROUP_ENV})`;
    const known = groups.length > 0 ? `; groups are ${[...names.keys()].map((n) => `"${n}"`).join(', ')}` : '; this pool has no replicas';
    addIssue(ctx, ['local_group'], `local_group "${local}"${from} names no group${known}`);
  }
  if (pool.read === 'local' && local === undefined && groups.length > 1) addIssue(ctx, ['local_group'], 'read: local needs local_group (or MEMSHIFT_LOCAL_GROUP)');
  checkMigration(pool, groups, ctx);
}

/** `from` has the pool's shape (a server list, or the same groups), and differs from the target. */
function checkMigration(pool: Record<string, unknown>, groups: Record<string, unknown>[], ctx: z.RefinementCtx): void {
  const m = pool.migration;
  if (!isRecord(m) || !Array.isArray(m.from)) return;
  const ids = (list: unknown): string => (Array.isArray(list) ? list.filter(isServer).map((s) => s.raw).join(',') : '');
  const fromGroups = m.from.every(isServer) ? null : m.from.filter(isRecord);
  if (groups.length === 0) {
    if (fromGroups !== null) addIssue(ctx, ['migration', 'from'], 'this pool has servers, so from is a server list');
    else if (ids(m.from) === ids(pool.servers)) addIssue(ctx, ['migration', 'from'], 'from equals servers: nothing would move');
    return;
  }
  if (fromGroups === null) {
    addIssue(ctx, ['migration', 'from'], 'this pool has replicas, so from is a list of {name, servers} with the same group names');
    return;
  }
  const names = groups.map((g) => String(g.name)).join(',');
  if (fromGroups.map((g) => String(g.name)).join(',') !== names) {
    addIssue(ctx, ['migration', 'from'], `from must name the same groups in the same order: ${groups.map((g) => `"${String(g.name)}"`).join(', ')}`);
  } else if (fromGroups.every((g, i) => ids(g.servers) === ids(groups[i]!.servers))) {
    addIssue(ctx, ['migration', 'from'], 'from equals replicas: nothing would move');
  }
}

const poolSchema = strictMap(poolShape).superRefine(checkPool, { when: always });
type RawPool = z.output<typeof poolSchema>;

function toPool(name: string, p: RawPool): PoolConfig {
  const tls = p.tls === undefined ? undefined : toBackendTls(p.tls);
  const auth = p.auth === undefined ? undefined : { username: p.auth.username, passwordFile: p.auth.password_file };
  const groups = (p.replicas ?? [{ name, servers: p.servers, discovery: p.discovery }]).map((g): GroupConfig => ({
    name: g.name,
    servers: withTls(g.servers ?? [], tls, auth),
    ...(g.discovery === undefined ? {} : { discovery: toDiscovery(g.discovery) }),
  }));
  const discovered = groups.some((g) => g.discovery !== undefined);
  const local = p.replicas !== undefined ? (process.env[LOCAL_GROUP_ENV] ?? p.local_group) : p.local_group;
  return {
    name,
    servers: groups[0]?.servers ?? [],
    groups,
    write: p.write,
    read: p.read,
    ...(local === undefined ? {} : { localGroup: local }),
    readFailover: p.read_failover,
    ...(p.write_log === undefined ? {} : { writeLog: { dir: p.write_log.dir, maxBytes: p.write_log.max_bytes } }),
    resync: { rateKeysPerSec: p.resync.rate },
    ...(p.migration === undefined ? {} : { migration: toMigration(p.migration, groups, tls, auth) }),
    ...(p.failover_after === undefined ? {} : { failoverAfterMs: p.failover_after }),
    failoverSettleMs: p.failover_settle,
    hash: p.hash ?? (p.distribution === 'node-memcached' ? 'md5' : DEFAULTS.hash),
    distribution: p.distribution,
    ...(p.hash_tag === undefined ? {} : { hashTag: p.hash_tag }),
    timeoutMs: p.timeout,
    connections: p.server_connections,
    ...(tls === undefined ? {} : { tls }),
    ...(auth === undefined ? {} : { auth }),
    ...(p.autopilot !== undefined ? { autopilot: toAutopilot(p.autopilot) } : discovered ? { autopilot: DEFAULT_AUTOPILOT } : {}),
  };
}

function toMigration(m: NonNullable<RawPool['migration']>, groups: readonly { name: string }[], poolTls: BackendTlsConfig | undefined, auth: BackendAuthConfig | undefined): MigrationConfig {
  const from = m.from.every((s) => 'address' in s) ? [{ name: groups[0]!.name, servers: m.from as ServerSpec[] }] : (m.from as { name: string; servers: ServerSpec[] }[]);
  const tls = m.from_tls === undefined ? poolTls : m.from_tls === false ? undefined : toBackendTls(m.from_tls);
  return { ...toMigrationSettings(m), from: from.map((g) => ({ name: g.name, servers: withTls(g.servers, tls, auth) })) };
}

function toMigrationSettings(m: z.output<z.ZodObject<typeof migrationRunShape>>): MigrationSettings {
  return {
    id: m.id,
    copy: m.copy,
    rateKeysPerSec: m.rate,
    ...(m.rate_bytes === undefined ? {} : { rateBytesPerSec: m.rate_bytes }),
    startAt: m.start === undefined ? 'command' : m.start === 'now' ? 'now' : Date.parse(m.start),
    settleMs: m.settle,
    cleanup: m.cleanup,
  };
}

/** A route: its prefix and pool, and a migration of its keys from another pool (route-migration.ts). */
const routeSchema = strictMap({
  prefix: z.string().min(1, 'a route prefix must not be empty'),
  pool: z.string(),
  migration: strictMap({ ...migrationRunShape, from_pool: z.string() }).optional(),
});

function toRoute(r: z.output<typeof routeSchema>): RouteConfig {
  if (r.migration === undefined) return { prefix: r.prefix, pool: r.pool };
  return { prefix: r.prefix, pool: r.pool, migration: { ...toMigrationSettings(r.migration), fromPool: r.migration.from_pool } };
}

// ---- the whole file ----

const poolName = z
  .string()
  .regex(POOL_NAME, 'a pool name must start with a letter or digit and hold only letters, digits, "_", "-" and "."');

export const rootShape = {
  listen: z.array(listenEntry).min(1, 'at least one listen address is required').superRefine(checkListen, { when: always }),
  pools: z.record(poolName, poolSchema),
  routes: z.array(routeSchema).default([]),
  default_pool: z.string().optional(),
  flush_all: z.boolean().default(DEFAULTS.flushAll),
  workers: field(workerCount).default(DEFAULTS.workers),
  limits: strictMap({
    max_item_size: size().default(DEFAULTS.limits.maxItemSize),
    max_get_line: size(2048).default(DEFAULTS.limits.maxGetLineBytes),
    max_connections: count().default(DEFAULTS.limits.maxConnections),
    max_inflight_per_client: count().default(DEFAULTS.limits.maxInflightPerClient),
    max_queued_bytes_per_client: size().default(DEFAULTS.limits.maxQueuedBytesPerClient),
    max_queued_bytes_per_backend: size().default(DEFAULTS.limits.maxQueuedBytesPerBackend),
    max_pending_per_backend: count().default(DEFAULTS.limits.maxPendingPerBackend),
    max_reply_bytes: size().default(DEFAULTS.limits.maxReplyBytes),
    max_reply_memory: size().default(DEFAULTS.limits.maxReplyMemory),
  }).prefault({}),
  backend: strictMap({
    connect_timeout: duration().default(DEFAULTS.backend.connectTimeoutMs),
    failure_limit: count().default(DEFAULTS.backend.failureLimit),
    probe_min: duration().default(DEFAULTS.backend.probeMinMs),
    probe_max: duration().default(DEFAULTS.backend.probeMaxMs),
  }).prefault({}),
  admin: strictMap({
    listen: z.string().default(`${DEFAULTS.adminHost}:9121`),
    token: z.string().min(1).optional(),
    token_file: z.string().min(1).optional(),
    tls: listenerTls.optional(),
  }).optional(),
};

/** Pools exist, routes and default_pool name one of them, route prefixes are unique. */
function checkReferences(root: unknown, ctx: z.RefinementCtx): void {
  if (!isRecord(root) || !isRecord(root.pools)) return;
  const pools = Object.keys(root.pools);
  const known = pools.map((p) => `"${p}"`).join(', ');
  const poolsFailed = ctx.issues.some((issue) => issue.path?.[0] === 'pools');
  if (pools.length === 0 && !poolsFailed) addIssue(ctx, ['pools'], 'at least one pool is required');
  const unknownPool = (name: string): string => `unknown pool "${name}"${pools.length > 0 ? `; pools are ${known}` : ''}`;
  const pools0 = root.pools;
  if (Array.isArray(root.routes)) {
    const prefixes = new Map<string, number>();
    root.routes.forEach((route: unknown, i) => {
      if (!isRecord(route)) return;
      if (typeof route.pool === 'string' && !Object.hasOwn(pools0, route.pool)) {
        addIssue(ctx, ['routes', i, 'pool'], unknownPool(route.pool));
      }
      if (typeof route.prefix !== 'string') return;
      const first = prefixes.get(route.prefix);
      if (first === undefined) prefixes.set(route.prefix, i);
      else addIssue(ctx, ['routes', i, 'prefix'], `duplicate route prefix "${route.prefix}" (also routes[${first}])`);
    });
  }
  checkRouteMigrations(root, ctx);
  if (typeof root.default_pool === 'string') {
    if (!Object.hasOwn(pools0, root.default_pool)) addIssue(ctx, ['default_pool'], unknownPool(root.default_pool));
  } else if (pools.length > 1) {
    addIssue(ctx, ['default_pool'], `default_pool is required when there is more than one pool (pools are ${known})`);
  }
  const { probe_min: min, probe_max: max } = isRecord(root.backend) ? root.backend : {};
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    addIssue(ctx, ['backend', 'probe_max'], `probe_max (${max} ms) must not be below probe_min (${min} ms)`);
  }
  if (isRecord(root.admin) && typeof root.admin.listen === 'string') {
    const r = parseListenString(root.admin.listen);
    if (!r.ok || r.value.kind !== 'tcp') addIssue(ctx, ['admin', 'listen'], `expected host:port for the admin listener, got "${root.admin.listen}"`);
  }
}

const rootSchema = strictMap(rootShape).superRefine(checkReferences, { when: always });
type RawConfig = z.output<typeof rootSchema>;

function toConfig(raw: RawConfig): Config {
  const pools = Object.entries(raw.pools).map(([name, p]): [string, PoolConfig] => [name, toPool(name, p)]);
  const defaultPool = raw.default_pool ?? pools[0]?.[0] ?? '';
  const l = raw.limits;
  return {
    listen: raw.listen,
    pools: new FrozenMap(pools),
    routes: raw.routes.map(toRoute),
    defaultPool,
    limits: {
      maxItemSize: l.max_item_size,
      maxGetLineBytes: l.max_get_line,
      maxConnections: l.max_connections,
      maxInflightPerClient: l.max_inflight_per_client,
      maxQueuedBytesPerClient: l.max_queued_bytes_per_client,
      maxQueuedBytesPerBackend: l.max_queued_bytes_per_backend,
      maxPendingPerBackend: l.max_pending_per_backend,
      maxReplyBytes: l.max_reply_bytes,
      maxReplyMemory: l.max_reply_memory,
    },
    backend: {
      connectTimeoutMs: raw.backend.connect_timeout,
      failureLimit: raw.backend.failure_limit,
      probeMinMs: raw.backend.probe_min,
      probeMaxMs: raw.backend.probe_max,
    },
    flushAll: raw.flush_all,
    workers: raw.workers,
    ...(raw.admin === undefined ? {} : { admin: toAdmin(raw.admin) }),
  };
}

function toAdmin(a: NonNullable<RawConfig['admin']>): AdminConfig {
  const r = parseListenString(a.listen);
  const { host, port } = r.ok && r.value.kind === 'tcp' ? r.value : { host: DEFAULTS.adminHost, port: 9121 };
  return {
    host,
    port,
    ...(a.token === undefined ? {} : { token: a.token }),
    ...(a.token_file === undefined ? {} : { tokenFile: a.token_file }),
    ...(a.tls === undefined ? {} : { tls: toListenerTls(a.tls) }),
  };
}

/** memshift.yml, from plain JS data (YAML's `toJS()`), to a Config; load.ts adds `source` and deep-freezes it. */
export const configSchema = rootSchema.transform(toConfig);
