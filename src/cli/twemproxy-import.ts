/**
 * twemproxy (nutcracker) config -> memshift config, for `memshift import-twemproxy`. Pure: text in,
 * text out. The result places every key on the server nutcracker places it on (same hash,
 * distribution, hash_tag, servers, weights and ring names: memshift's rings are twemproxy's), so
 * switching keeps the cache warm. What memshift cannot reproduce exactly is refused, every problem at
 * once, each with file:line:column.
 *
 * nutcracker.yml is read as nutcracker reads it (nc_conf.c, twemproxy 0.5.0): a map of pools, every
 * value a string (YAML's failsafe schema: `true` and `400` are the strings nutcracker compares and
 * nc_atoi's), numbers as decimal digits only, booleans "true" or "false" only, servers as
 * `host:port:weight [name]` split from the end, and the defaults of nc_conf.h.
 *
 *   converted     listen, hash (all twelve), distribution (ketama, modula), hash_tag, servers,
 *                 timeout, server_connections; auto_eject_hosts, server_failure_limit and
 *                 server_retry_timeout become `backend:` settings, with a comment on what differs
 *   noted         backlog, client_connections, tcpkeepalive, preconnect, redis_db, reuseport: no
 *                 effect on where keys go; listed in a comment with what memshift does instead
 *   refused       distribution random, redis: true, redis_auth, several pools without `pool`
 *                 (nutcracker picks a pool by listen port, memshift by key prefix on every
 *                 listener), unix-socket servers, and what nutcracker itself refuses
 *
 * A server whose twemproxy ring name memshift would spell differently (a port written "011212", a
 * bracketed IPv6 host) gets that name as its node name, so its ring points stay where they were.
 */
import { isIPv6 } from 'node:net';
import { type Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, stringify } from 'yaml';
import { ketamaServerName } from '../routing/ketama.js';
import { createRing } from '../routing/ring.js';
import { type ConfigIssue, ConfigError, formatIssue, formatPath, yamlIssue } from '../config/issues.js';
import { parseConfig } from '../config/load.js';
import { DEFAULTS, HASH_NAMES, POOL_NAME } from '../config/schema.js';
import { parseServerSpec } from '../config/server-spec.js';
import { closestName } from '../config/did-you-mean.js';
import type { Config, HashName } from '../config/types.js';

/** Every directive nutcracker 0.5.0 accepts in a pool (nc_conf.c conf_commands), and `reuseport` (later). */
export const TWEMPROXY_DIRECTIVES = [
  'listen',
  'hash',
  'hash_tag',
  'distribution',
  'timeout',
  'backlog',
  'client_connections',
  'redis',
  'tcpkeepalive',
  'redis_auth',
  'redis_db',
  'preconnect',
  'auto_eject_hosts',
  'server_connections',
  'server_retry_timeout',
  'server_failure_limit',
  'servers',
  'reuseport',
] as const;
type Directive = (typeof TWEMPROXY_DIRECTIVES)[number];

/** nc_conf.h defaults that matter here. */
const TWEMPROXY_DEFAULTS = { serverRetryTimeoutMs: 30_000, serverFailureLimit: 2, ketamaPort: 11211 } as const;

export interface TwemproxyImportOptions {
  /** The pool to convert; needed when the file has several. */
  readonly pool?: string;
  /** The file name, for messages and the header comment. */
  readonly source?: string;
}

export interface TwemproxyImport {
  /** The memshift config, YAML with comments. */
  readonly yaml: string;
  /** The twemproxy pool converted. */
  readonly pool: string;
  /** `yaml` parsed and validated. */
  readonly config: Config;
}

/** What stops a conversion: every problem, each with file:line:column and the setting. */
export class TwemproxyImportError extends Error {
  override readonly name = 'TwemproxyImportError';
  readonly problems: readonly ConfigIssue[];

  constructor(problems: readonly ConfigIssue[]) {
    super(`cannot convert: ${problems.map(formatIssue).join('; ')}`);
    this.problems = problems;
  }
}

// ---- reading nutcracker.yml ----

class Problems {
  readonly list: ConfigIssue[] = [];
  constructor(
    readonly source: string,
    readonly lines: LineCounter,
  ) {}

  add(at: Node | number | null | undefined, path: readonly PropertyKey[], message: string): void {
    const offset = typeof at === 'number' ? at : (at?.range?.[0] ?? 0);
    const { line, col } = this.lines.linePos(offset);
    this.list.push({ source: this.source, line, column: col, path: formatPath(path), message });
  }
}

/** A directive's value and where it is. */
interface Setting {
  readonly key: Directive;
  readonly keyNode: Node;
  readonly node: Node | null;
}

/** The scalar text of a node, as nutcracker's parser sees it; undefined for a list or a map. */
function text(node: Node | null): string | undefined {
  if (node === null) return '';
  if (!isScalar(node)) return undefined;
  return node.value === null ? '' : String(node.value);
}

/** nc_atoi: decimal digits only (an empty string is 0); -1 otherwise. */
function ncAtoi(s: string): number {
  if (!/^[0-9]*$/.test(s)) return -1;
  const n = s === '' ? 0 : Number(s);
  return Number.isSafeInteger(n) ? n : -1;
}

function describeNode(node: Node | null): string {
  if (isSeq(node)) return 'a list';
  if (isMap(node)) return 'a map';
  return JSON.stringify(text(node));
}


// ---- the converted pool ----

interface ServerOut {
  /** The memshift server string. */
  readonly spec: string;
  /** Why the string differs from what nutcracker.yml had, if it does. */
  readonly comment?: string;
}

interface PoolOut {
  readonly twemproxyName: string;
  readonly name: string;
  readonly listen: string;
  readonly listenComment?: string;
  readonly servers: ServerOut[];
  readonly hash: HashName;
  readonly hashDefaulted: boolean;
  readonly distribution: 'ketama' | 'modula';
  readonly distributionDefaulted: boolean;
  readonly hashTag?: string;
  readonly timeoutMs?: number;
  readonly serverConnections?: number;
  readonly autoEject: boolean;
  readonly failureLimit: number;
  readonly retryTimeoutMs: number;
  /** Directives that were set explicitly, for the comments. */
  readonly explicit: ReadonlySet<Directive>;
  /** Settings not converted: `[directive: value, what memshift does]`. */
  readonly notes: [string, string][];
}

const NOTES: Partial<Record<Directive, string>> = {
  backlog: "memshift uses Node's listen backlog (511)",
  client_connections: "nutcracker 0.5.0 ignores it too; memshift's limit is limits.max_connections",
  tcpkeepalive: 'memshift sets TCP keepalive on its server connections always (30 s)',
  preconnect: 'memshift connects to every server at start always',
  redis_db: 'a redis setting; nutcracker ignores it in a memcached pool',
  reuseport: 'memshift on Node 20 has no SO_REUSEPORT; run more processes with their own listen addresses',
};

function convertPool(name: string, poolKey: Node, poolNode: Node | null, problems: Problems): PoolOut | null {
  const before = problems.list.length;
  const path = (key?: PropertyKey, ...rest: PropertyKey[]): PropertyKey[] => (key === undefined ? [name] : [name, key, ...rest]);
  if (!isMap(poolNode)) {
    problems.add(poolNode ?? poolKey, path(), `a pool is a map of settings, got ${describeNode(poolNode)}`);
    return null;
  }
  const settings = new Map<Directive, Setting>();
  for (const pair of poolNode.items) {
    const keyNode = pair.key as Node;
    const key = text(keyNode) ?? '';
    const node = (pair.value ?? null) as Node | null;
    if (!(TWEMPROXY_DIRECTIVES as readonly string[]).includes(key)) {
      const near = closestName(key, TWEMPROXY_DIRECTIVES);
      problems.add(keyNode, path(key), `not a twemproxy setting (nutcracker refuses it too)${near === undefined ? '' : `; did you mean "${near}"?`}`);
      continue;
    }
    settings.set(key as Directive, { key: key as Directive, keyNode, node });
  }
  const explicit = new Set(settings.keys());

  /** A scalar setting's text; a problem (and undefined) for a list or a map. */
  const scalar = (key: Directive): string | undefined => {
    const s = settings.get(key);
    if (s === undefined) return undefined;
    const t = text(s.node);
    if (t === undefined) problems.add(s.node ?? s.keyNode, path(key), `expected a single value, got ${describeNode(s.node)}`);
    return t;
  };
  const at = (key: Directive): Node => settings.get(key)?.node ?? settings.get(key)!.keyNode;
  const number = (key: Directive): number | undefined => {
    const t = scalar(key);
    if (t === undefined) return undefined;
    const n = t === '' ? -1 : ncAtoi(t);
    if (n < 0) problems.add(at(key), path(key), `must be a number of decimal digits (nutcracker's nc_atoi), got ${JSON.stringify(t)}`);
    return n < 0 ? undefined : n;
  };
  const bool = (key: Directive): boolean | undefined => {
    const t = scalar(key);
    if (t === undefined) return undefined;
    if (t === 'true' || t === 'false') return t === 'true';
    problems.add(at(key), path(key), `must be true or false (nutcracker accepts only these), got ${JSON.stringify(t)}`);
    return undefined;
  };

  // Refused outright.
  if (bool('redis') === true) {
    problems.add(at('redis'), path('redis'), 'a redis pool cannot be converted: memshift speaks the memcached protocol only');
  }
  if (settings.has('redis_auth')) {
    problems.add(settings.get('redis_auth')!.keyNode, path('redis_auth'), 'redis_auth is a redis setting (nutcracker refuses it in a memcached pool)');
  }

  // listen
  let listen = '';
  let listenComment: string | undefined;
  const listenText = scalar('listen');
  if (!settings.has('listen')) {
    problems.add(poolKey, path(), 'listen is missing (nutcracker requires it)');
  } else if (listenText !== undefined) {
    const converted = convertListen(listenText);
    if ('error' in converted) problems.add(at('listen'), path('listen'), converted.error);
    else ({ listen, comment: listenComment } = converted);
  }

  // hash, distribution, hash_tag
  let hash: HashName = DEFAULTS.hash;
  const hashText = scalar('hash');
  if (hashText !== undefined) {
    if ((HASH_NAMES as readonly string[]).includes(hashText)) hash = hashText as HashName;
    else {
      const near = closestName(hashText, HASH_NAMES);
      problems.add(at('hash'), path('hash'), `${JSON.stringify(hashText)} is not a twemproxy hash (nutcracker refuses it too); the hashes are ${HASH_NAMES.join(', ')}${near === undefined ? '' : `; did you mean "${near}"?`}`);
    }
  }
  let distribution: 'ketama' | 'modula' = 'ketama';
  const distText = scalar('distribution');
  if (distText === 'ketama' || distText === 'modula') distribution = distText;
  else if (distText === 'random') {
    problems.add(
      at('distribution'),
      path('distribution'),
      'distribution random cannot be reproduced: nutcracker sends each request to a random server, so a key has no one place and a cache behind it never stays warm; memshift places every key on one server (switch the pool to ketama or modula first: a cold start either way)',
    );
  } else if (distText !== undefined) {
    problems.add(at('distribution'), path('distribution'), `${JSON.stringify(distText)} is not a twemproxy distribution (nutcracker refuses it too); memshift reproduces ketama and modula`);
  }
  let hashTag: string | undefined;
  const tagText = scalar('hash_tag');
  if (tagText !== undefined) {
    if (Buffer.byteLength(tagText) !== 2) problems.add(at('hash_tag'), path('hash_tag'), `must be two characters, such as "{}" (nutcracker refuses anything else), got ${JSON.stringify(tagText)}`);
    else if (tagText.length !== 2) problems.add(at('hash_tag'), path('hash_tag'), `nutcracker reads ${JSON.stringify(tagText)} as two bytes of one character; memshift takes two ASCII characters, such as "{}"`);
    else hashTag = tagText;
  }

  // timeout, server_connections
  const timeout = number('timeout');
  const serverConnections = number('server_connections');
  if (serverConnections === 0) problems.add(at('server_connections'), path('server_connections'), 'cannot be 0 (nutcracker refuses it too)');

  // auto_eject_hosts and friends
  const autoEject = bool('auto_eject_hosts') ?? false;
  const failureLimit = number('server_failure_limit') ?? TWEMPROXY_DEFAULTS.serverFailureLimit;
  const retryTimeoutMs = number('server_retry_timeout') ?? TWEMPROXY_DEFAULTS.serverRetryTimeoutMs;

  // Settings with no effect on placement.
  const notes: [string, string][] = [];
  for (const key of ['backlog', 'client_connections', 'redis_db'] as const) {
    const n = number(key);
    if (n !== undefined) notes.push([`${key}: ${n}`, NOTES[key]!]);
  }
  for (const key of ['tcpkeepalive', 'preconnect', 'reuseport'] as const) {
    const b = bool(key);
    if (b !== undefined) notes.push([`${key}: ${b}`, NOTES[key]!]);
  }

  const servers = convertServers(settings.get('servers'), poolKey, path, problems);

  if (problems.list.length > before) return null;
  let memshiftName = name;
  if (!POOL_NAME.test(name)) {
    memshiftName = name.replace(/[^A-Za-z0-9_.-]/g, '_');
    if (!/^[A-Za-z0-9]/.test(memshiftName)) memshiftName = `pool${memshiftName}`;
  }
  return {
    twemproxyName: name,
    name: memshiftName,
    listen,
    ...(listenComment === undefined ? {} : { listenComment }),
    servers,
    hash,
    hashDefaulted: hashText === undefined,
    distribution,
    distributionDefaulted: distText === undefined,
    ...(hashTag === undefined ? {} : { hashTag }),
    ...(timeout === undefined || timeout === 0 ? {} : { timeoutMs: timeout }),
    ...(serverConnections === undefined ? {} : { serverConnections }),
    autoEject,
    failureLimit,
    retryTimeoutMs,
    explicit,
    notes,
  };
}

/** nc_conf.c conf_set_listen: "host:port" split at the last ":", or "/path [permissions]". */
function convertListen(value: string): { listen: string; comment?: string } | { error: string } {
  if (value.startsWith('/')) {
    const space = value.lastIndexOf(' ');
    const path = space < 0 ? value : value.slice(0, space);
    if (space < 0) return { listen: `{path: ${JSON.stringify(path)}}` };
    const permText = value.slice(space + 1);
    const perm = /^[0-7]+$/.test(permText) ? Number.parseInt(permText, 8) : NaN;
    if (!(perm <= 0o777)) return { error: `has an invalid file permission ${JSON.stringify(permText)} (nutcracker refuses it too)` };
    return { listen: `{path: ${JSON.stringify(path)}, mode: "0${perm.toString(8).padStart(3, '0')}"}` };
  }
  const colon = value.lastIndexOf(':');
  if (colon < 0) return { error: `expected "host:port" or "/path/to/socket [permissions]", got ${JSON.stringify(value)}` };
  let host = value.slice(0, colon);
  const port = ncAtoi(value.slice(colon + 1));
  if (port < 1 || port > 65535) return { error: `has an invalid port in ${JSON.stringify(value)} (nutcracker refuses it too)` };
  if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
  const out = isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
  return out === value ? { listen: out } : { listen: out, comment: `nutcracker.yml: ${value}` };
}

/** nc_conf.c conf_add_server: "host:port:weight [name]", split from the end. */
function parseTwemproxyServer(value: string): { addr: string; portText: string; port: number; weight: number; name?: string } | { error: string } {
  if (value.startsWith('/')) return { error: 'unix-socket servers are not supported by memshift' };
  let rest = value;
  let name: string | undefined;
  const space = rest.lastIndexOf(' ');
  if (space >= 0) {
    name = rest.slice(space + 1);
    rest = rest.slice(0, space);
  }
  const c1 = rest.lastIndexOf(':');
  const c2 = c1 < 0 ? -1 : rest.lastIndexOf(':', c1 - 1);
  if (c2 < 0) return { error: `expected "host:port:weight [name]" (nutcracker needs the weight), got ${JSON.stringify(value)}` };
  const weight = ncAtoi(rest.slice(c1 + 1));
  const portText = rest.slice(c2 + 1, c1);
  const port = ncAtoi(portText);
  const addr = rest.slice(0, c2);
  if (weight < 0) return { error: `has an invalid weight in ${JSON.stringify(value)} (nutcracker refuses it too)` };
  if (weight === 0) return { error: `has a zero weight in ${JSON.stringify(value)} (nutcracker refuses it too)` };
  if (port < 1 || port > 65535) return { error: `has an invalid port in ${JSON.stringify(value)} (nutcracker refuses it too)` };
  if (addr === '') return { error: `has no host in ${JSON.stringify(value)}` };
  if (name === '') name = undefined;
  return { addr, portText, port, weight, ...(name === undefined ? {} : { name }) };
}

function convertServers(
  setting: Setting | undefined,
  poolKey: Node,
  path: (key?: PropertyKey, ...rest: PropertyKey[]) => PropertyKey[],
  problems: Problems,
): ServerOut[] {
  if (setting === undefined) {
    problems.add(poolKey, path(), 'servers is missing (nutcracker requires at least one)');
    return [];
  }
  if (!isSeq(setting.node) || setting.node.items.length === 0) {
    problems.add(setting.node ?? setting.keyNode, path('servers'), `expected a list of "host:port:weight [name]", got ${isSeq(setting.node) ? 'an empty list' : describeNode(setting.node)}`);
    return [];
  }
  const out: ServerOut[] = [];
  const names = new Map<string, number>();
  setting.node.items.forEach((item, i) => {
    const node = item as Node;
    const value = text(node);
    if (value === undefined || value === '') {
      problems.add(node, path('servers', i), `expected "host:port:weight [name]", got ${describeNode(node)}`);
      return;
    }
    const s = parseTwemproxyServer(value);
    if ('error' in s) {
      problems.add(node, path('servers', i), s.error);
      return;
    }
    // The ring name nutcracker gives it: the node name, else the address, with ":port" unless 11211.
    const ringName = s.name ?? (s.port === TWEMPROXY_DEFAULTS.ketamaPort ? s.addr : `${s.addr}:${s.portText}`);
    const first = names.get(ringName);
    if (first !== undefined) {
      problems.add(node, path('servers', i), `has the same name "${ringName}" as servers[${first}] (nutcracker refuses it too)`);
      return;
    }
    names.set(ringName, i);
    const bare = s.addr.startsWith('[') && s.addr.endsWith(']') ? s.addr.slice(1, -1) : s.addr;
    const hostPort = isIPv6(bare) ? `[${bare}]:${s.port}` : `${bare}:${s.port}`;
    let spec = `${hostPort}:${s.weight}${s.name === undefined ? '' : ` ${s.name}`}`;
    let comment: string | undefined;
    const parsed = parseServerSpec(spec);
    if (!parsed.ok) {
      problems.add(node, path('servers', i), `memshift cannot take this server: ${parsed.error}`);
      return;
    }
    if (ketamaServerName(parsed.value) !== ringName) {
      // memshift would name it differently on the ring: keep nutcracker's name as the node name.
      spec = `${hostPort}:${s.weight} ${ringName}`;
      comment = `nutcracker.yml: ${value} (its ring name kept as the node name)`;
    } else if (spec !== value) {
      comment = `nutcracker.yml: ${value}`;
    }
    out.push(comment === undefined ? { spec } : { spec, comment });
  });
  return out;
}

// ---- writing memshift.yml ----

const key = (name: string): string => stringify(name).trimEnd();

function render(p: PoolOut, source: string): string {
  const out: string[] = [];
  const line = (s: string, comment?: string): void => void out.push(comment === undefined ? s : `${s}   # ${comment}`);
  out.push(
    `# memshift config converted by \`memshift import-twemproxy\` from ${source}, pool "${p.twemproxyName}".`,
    '# It places every key on the server nutcracker places it on: the same hash, distribution,',
    '# hash_tag, servers, weights and ring names. Check it with `memshift check -c FILE`.',
    '',
  );
  out.push('listen:');
  line(`  - ${p.listen.startsWith('{') ? p.listen : JSON.stringify(p.listen)}`, p.listenComment);
  out.push('pools:');
  line(`  ${key(p.name)}:`, p.name === p.twemproxyName ? undefined : `twemproxy's pool ${JSON.stringify(p.twemproxyName)}`);
  out.push('    servers:');
  for (const s of p.servers) line(`      - ${JSON.stringify(s.spec)}`, s.comment);
  line(`    hash: ${p.hash}`, p.hashDefaulted ? "twemproxy's default" : undefined);
  line(`    distribution: ${p.distribution}`, p.distributionDefaulted ? "twemproxy's default" : undefined);
  if (p.hashTag !== undefined) line(`    hash_tag: ${JSON.stringify(p.hashTag)}`);
  if (p.timeoutMs !== undefined) line(`    timeout: ${p.timeoutMs}`, 'ms');
  else {
    out.push(
      `    # timeout: nutcracker had ${p.explicit.has('timeout') ? 'timeout: 0, that is none' : 'none'} (it waits for a server for ever); memshift needs one`,
      `    # and uses ${DEFAULTS.timeoutMs} ms. Set it to what your clients wait at most.`,
    );
  }
  if (p.serverConnections !== undefined) line(`    server_connections: ${p.serverConnections}`);
  if (p.autoEject && p.distribution === 'ketama') {
    out.push(`    # failover_after: 30s   # moves a dead server's keys to the other servers, coordinated (see backend below)`);
  }
  out.push('');
  renderBackend(p, out);
  if (p.notes.length > 0) {
    out.push('', '# Not converted (no effect on where keys go):');
    const width = Math.max(...p.notes.map(([s]) => s.length));
    for (const [setting, what] of p.notes) out.push(`#   ${setting.padEnd(width)}  ${what}`);
  }
  return `${out.join('\n')}\n`;
}

/** `text` as `# ` comment lines of at most `width` columns. */
function comment(text: string, width = 100): string[] {
  const lines: string[] = [];
  let line = '#';
  for (const word of text.split(/\s+/).filter((w) => w !== '')) {
    if (line.length + 1 + word.length > width && line !== '#') {
      lines.push(line);
      line = '#';
    }
    line += ` ${word}`;
  }
  if (line !== '#') lines.push(line);
  return lines;
}

function renderBackend(p: PoolOut, out: string[]): void {
  const shown = (k: 'auto_eject_hosts' | 'server_failure_limit' | 'server_retry_timeout', v: unknown): string => `${k}: ${String(v)}${p.explicit.has(k) ? '' : ' (default)'}`;
  const settings = `twemproxy: ${shown('auto_eject_hosts', p.autoEject)}, ${shown('server_failure_limit', p.failureLimit)}, ${shown('server_retry_timeout', p.retryTimeoutMs)}.`;
  if (!p.autoEject) {
    out.push(
      ...comment(
        `${settings} Without auto_eject_hosts nutcracker never takes a server off the ring, and the other two settings do nothing. Neither does memshift: a dead server's keys fail (SERVER_ERROR) until it is back, as they did through nutcracker, and no key moves. memshift's backend settings only decide when it stops sending to a dead server (after failure_limit failures in a row) and how often it probes it (probe_min, doubling up to probe_max). Its defaults:`,
      ),
      `# backend: {failure_limit: ${DEFAULTS.backend.failureLimit}, probe_min: ${DEFAULTS.backend.probeMinMs}, probe_max: ${DEFAULTS.backend.probeMaxMs}}`,
    );
    return;
  }
  const failureLimit = Math.max(1, p.failureLimit);
  const retry = Math.max(1, p.retryTimeoutMs);
  const move =
    p.distribution === 'ketama'
      ? 'To move a dead server\'s keys to the other servers, set failover_after on the pool: every memshift then moves them together, as a migration (docs/migration.md, "Passive migration").'
      : 'A modula pool cannot move one server\'s keys (hash % total weight would change for nearly every key), so they stay on the dead server until it is back.';
  out.push(
    ...comment(
      `${settings} What differs: nutcracker took a server off the ring after server_failure_limit failures in a row, for server_retry_timeout ms, so its keys moved to the other servers meanwhile (and moved back when it returned). memshift never takes a server off the ring on its own: after failure_limit failures it stops sending to it (its keys get SERVER_ERROR, a miss for most clients), probes it every probe_min ms (as nutcracker retried), and every key stays where it is. ${move}`,
    ),
  );
  if (failureLimit !== p.failureLimit) out.push('# (server_failure_limit 0 ejected on the first failure; memshift counts at least 1.)');
  if (retry !== p.retryTimeoutMs) out.push('# (server_retry_timeout 0 retried at once; memshift probes after at least 1 ms.)');
  out.push('backend:', `  failure_limit: ${failureLimit}`, `  probe_min: ${retry}`, `  probe_max: ${retry}`);
}

// ---- the whole file ----

export function importTwemproxy(input: string, options: TwemproxyImportOptions = {}): TwemproxyImport {
  const source = options.source ?? 'nutcracker.yml';
  const lines = new LineCounter();
  const doc: Document = parseDocument(input, { lineCounter: lines, schema: 'failsafe', uniqueKeys: true, prettyErrors: true });
  const problems = new Problems(source, lines);
  if (doc.errors.length > 0) throw new TwemproxyImportError(doc.errors.map((e) => yamlIssue(source, e)));
  const root = doc.contents as Node | null;
  if (!isMap(root) || root.items.length === 0) {
    problems.add(root, [], root === null || (isScalar(root) && text(root) === '') ? 'the file is empty: expected a map of twemproxy pools' : `expected a map of twemproxy pools, got ${describeNode(root)}`);
    throw new TwemproxyImportError(problems.list);
  }
  const pools = root.items.map((pair) => ({ name: text(pair.key as Node) ?? '', keyNode: pair.key as Node, node: (pair.value ?? null) as Node | null }));
  let chosen = pools[0]!;
  if (options.pool !== undefined) {
    const found = pools.find((p) => p.name === options.pool);
    if (found === undefined) {
      problems.add(root, [], `no pool ${JSON.stringify(options.pool)}; the pools are ${pools.map((p) => JSON.stringify(p.name)).join(', ')}`);
      throw new TwemproxyImportError(problems.list);
    }
    chosen = found;
  } else if (pools.length > 1) {
    const listenOf = (p: (typeof pools)[number]): string => {
      const l = isMap(p.node) ? p.node.items.find((pair) => text(pair.key as Node) === 'listen') : undefined;
      const t = l === undefined ? undefined : text((l.value ?? null) as Node | null);
      return t === undefined ? '' : ` (listen ${t})`;
    };
    problems.add(
      root,
      [],
      `${pools.length} pools: ${pools.map((p) => `"${p.name}"${listenOf(p)}`).join(', ')}. nutcracker picks a pool by the address a client connects to; memshift picks one by the key's prefix (routes), the same on every listener, so one memshift config cannot place keys as these pools do. Convert one pool at a time (--pool NAME) and run one memshift for each`,
    );
    throw new TwemproxyImportError(problems.list);
  }
  const pool = convertPool(chosen.name, chosen.keyNode, chosen.node, problems);
  if (pool === null) throw new TwemproxyImportError(problems.list.sort((a, b) => a.line - b.line || a.column - b.column));
  const yaml = render(pool, source);
  // The result must be a config memshift runs, with a ring for the pool; anything else is a bug or
  // something memshift cannot take (two servers on one address, which nutcracker allows with names).
  let config: Config;
  try {
    config = parseConfig(yaml, `${source} (converted)`);
    for (const p of config.pools.values()) createRing(p);
  } catch (err) {
    const what = err instanceof ConfigError ? err.issues.map((i) => `${i.path}: ${i.message}`).join('; ') : err instanceof Error ? err.message : String(err);
    problems.add(chosen.keyNode, [chosen.name], `memshift cannot take this pool as converted: ${what}`);
    throw new TwemproxyImportError(problems.list);
  }
  return { yaml, pool: chosen.name, config };
}
