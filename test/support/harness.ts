/**
 * Real servers for integration tests, after memcached's t/lib/MemcachedTest.pm: pick a free
 * loopback port, start the real binary, poll until a TCP connect works, fail fast with the
 * child's output when it dies, and record every process so `stopAll()` can end them.
 *
 *   import { afterAll } from 'vitest';
 *   import { startMemcached, startNutcracker, stopAll } from '../support/harness.js';
 *   afterAll(stopAll);   // runs when a test failed too
 *
 * Children are also killed on process exit/SIGINT/SIGTERM/SIGHUP, and by the kernel when the
 * test process dies (setpriv --pdeathsig): see `process.ts`. Each server gets its own temp dir
 * (config, pid file, log), removed by `stopAll()` (MEMSHIFT_KEEP_TEST_TMP=1 keeps them).
 * This module re-exports the whole test-support API, so tests import from here only.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { ensureTempDir, makeTempDir, ManagedProcess, sleep } from './process.js';
import { diedBeforeListening, freePort, onFreePort, Server, waitForEndpoint, type Endpoint, type ServerHandle } from './servers.js';
import { requireBinary } from './system-deps.js';

export { startDnsmasq, type DnsmasqHandle, type DnsmasqOptions, type HostsLine, type SrvRecord } from './dnsmasq.js';
export { flushAll, keysOnServer, stats } from './inspect.js';
export { spreadKeys } from './keys.js';
export { hold, liveProcesses, pollUntil, sleep, stopAll, waitUntil, type ExitInfo } from './process.js';
export { freePort, waitForEndpoint, type Endpoint, type ServerHandle } from './servers.js';
export { replyLength, TextClient, untilReply, type ReadUntil } from './text-client.js';

/** The repository root (package.json, dist/). */
export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

export type MemcachedHandle = ServerHandle;
export interface NutcrackerHandle extends ServerHandle {
  readonly statsPort: number;
  readonly configFile: string;
}
export interface MemshiftHandle extends ServerHandle {
  readonly configFile: string;
}

// ---------------------------------------------------------------- memcached

export interface MemcachedOptions {
  /** Default 127.0.0.1; any 127.0.0.x works, also with port 11211. */
  host?: string;
  /** Default: a free port. A given port is used as is (no retry). */
  port?: number;
  /** memcached -m, default 64. */
  memoryMb?: number;
  /** Extra memcached arguments, e.g. ['-I', '2m']. */
  args?: string[];
}

/** Starts `memcached -U 0 -l host -p port -m 64` and waits until it accepts connections. */
export async function startMemcached(opts: MemcachedOptions = {}): Promise<MemcachedHandle> {
  const host = opts.host ?? '127.0.0.1';
  const asRoot = process.getuid?.() === 0 ? ['-u', 'root'] : [];
  const dir = makeTempDir('memcached');
  return onFreePort(host, opts.port, (port) =>
    Server.start(async () => {
      ensureTempDir(dir);
      const mem = String(opts.memoryMb ?? 64);
      const args = ['-U', '0', '-l', host, '-p', String(port), '-m', mem, ...asRoot, ...(opts.args ?? [])];
      const name = `memcached ${host}:${port}`;
      const proc = ManagedProcess.start({ name, command: requireBinary('memcached'), args, logFile: join(dir, 'memcached.log') });
      await waitForEndpoint({ host, port }, proc);
      return { proc, host, port };
    }),
  );
}

// ---------------------------------------------------------------- nutcracker

export interface NutcrackerPool {
  /** `host:port[:weight] [name]` (weight 1 when left out), or a handle (weight 1). */
  servers: ReadonlyArray<string | ServerHandle>;
  /** Default fnv1a_64, twemproxy's default. */
  hash?: string;
  /** Default ketama. */
  distribution?: string;
  /** Two characters, e.g. '{}'. */
  hashTag?: string;
  /** Default 1000. */
  timeoutMs?: number;
  /** auto_eject_hosts, default false. */
  autoEject?: boolean;
  serverRetryTimeoutMs?: number;
  serverFailureLimit?: number;
}

export interface NutcrackerOptions {
  host?: string;
  /** Default: a free port. */
  port?: number;
  /** The pool's name in the YAML, default `memshift_test`. */
  name?: string;
}

/** `host:port:weight [name]` from a handle or a server string, adding weight 1 when missing. */
export function serverSpec(server: string | ServerHandle): string {
  if (typeof server !== 'string') return `${server.address}:1`;
  const [hostPort = '', ...name] = server.split(' ');
  return [hostPort.split(':').length === 2 ? `${hostPort}:1` : hostPort, ...name].join(' ');
}

/** Writes a one-pool YAML config and runs `nutcracker -c conf -s <free stats port> -a host -p pidfile -o logfile`. */
export async function startNutcracker(pool: NutcrackerPool, opts: NutcrackerOptions = {}): Promise<NutcrackerHandle> {
  const host = opts.host ?? '127.0.0.1';
  const dir = makeTempDir('nutcracker');
  const configFile = join(dir, 'nutcracker.yml');
  const logFile = join(dir, 'nutcracker.log');
  return onFreePort(host, opts.port, async (port) => {
    const statsPort = await freePort(host);
    const conf = {
      listen: `${host}:${port}`,
      hash: pool.hash ?? 'fnv1a_64',
      distribution: pool.distribution ?? 'ketama',
      ...(pool.hashTag !== undefined && { hash_tag: pool.hashTag }),
      timeout: pool.timeoutMs ?? 1_000,
      auto_eject_hosts: pool.autoEject ?? false,
      ...(pool.serverRetryTimeoutMs !== undefined && { server_retry_timeout: pool.serverRetryTimeoutMs }),
      ...(pool.serverFailureLimit !== undefined && { server_failure_limit: pool.serverFailureLimit }),
      servers: pool.servers.map(serverSpec),
    };
    const yaml = stringifyYaml({ [opts.name ?? 'memshift_test']: conf });
    const server = await Server.start(async () => {
      ensureTempDir(dir);
      writeFileSync(configFile, yaml);
      const args = ['-c', configFile, '-s', String(statsPort), '-a', host, '-p', join(dir, 'nutcracker.pid'), '-o', logFile];
      const proc = ManagedProcess.start({
        name: `nutcracker ${host}:${port}`,
        command: requireBinary('nutcracker'),
        args,
        logFile: join(dir, 'nutcracker.out'),
        extraLogFiles: [logFile],
      });
      await waitForEndpoint({ host, port }, proc);
      return { proc, host, port };
    });
    return Object.assign(server, { statsPort, configFile });
  });
}

// ---------------------------------------------------------------- memshift

export interface MemshiftOptions {
  /** Added to the environment. */
  env?: Record<string, string>;
  /** Added after `serve -c FILE`. */
  args?: string[];
  /** Replaces `-c FILE` (e.g. `--config-url URL`); the YAML still gives the listeners to wait for. */
  configArgs?: string[];
  /** The script node runs, relative to the repo root; default `dist/cli.js` (`npm run build`). */
  entry?: string;
  /** How long to wait for every listener, default 15 s. */
  startTimeoutMs?: number;
  /**
   * false: return once every listener accepts, while memshift may still be starting (it binds its
   * listeners first, holds clients that connect and answers 503 on the admin API until it serves).
   * Default: also wait for its `memshift started` line.
   */
  untilStarted?: boolean;
}

/** One listen entry: `host:port` (IPv6 in brackets), `unix:/path` or `/path`, or the map forms `{host, port}` / `{path}`. */
export function parseListen(entry: unknown): Endpoint {
  if (typeof entry === 'object' && entry !== null) {
    const e = entry as { host?: unknown; port?: unknown; path?: unknown; address?: unknown };
    if (typeof e.path === 'string') return { path: e.path };
    if (typeof e.address === 'string') return parseListen(e.address);
    return { host: typeof e.host === 'string' ? e.host : '127.0.0.1', port: Number(e.port) };
  }
  const item = String(entry).trim();
  if (item.startsWith('unix:')) return { path: item.slice(5) };
  if (item.startsWith('/')) return { path: item };
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(item);
  if (m === null) throw new Error(`cannot read listen entry ${JSON.stringify(item)}`);
  return { host: m[1] ?? '', port: Number(m[2]) };
}

/** The `listen` entries of a memshift config. */
export function listenEndpoints(configYaml: string): Endpoint[] {
  const listen = (parseYaml(configYaml) as { listen?: unknown } | null)?.listen;
  return (Array.isArray(listen) ? listen : listen === undefined ? [] : [listen]).map(parseListen);
}

/** The `addresses` of serve's `memshift started` log line (pino JSON), read as the child writes it. */
async function startedAddresses(proc: ManagedProcess, timeoutMs: number): Promise<Endpoint[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const line of proc.logs().split('\n')) {
      if (!line.includes('memshift started')) continue;
      try {
        const addresses = (JSON.parse(line) as { addresses?: unknown }).addresses;
        if (Array.isArray(addresses)) return addresses.map(parseListen);
      } catch {
        // not JSON (yet): keep waiting
      }
    }
    if (!proc.running) throw diedBeforeListening(proc, 'its listen addresses');
    if (Date.now() > deadline) {
      await proc.stop(1_000);
      throw new Error(`${proc.name} logged no "memshift started" line with addresses within ${timeoutMs} ms; output:\n${proc.logTail()}`);
    }
    await sleep(25);
  }
}

/** Waits for serve's `memshift started` line (in either log format): it serves from then on. */
async function loggedStarted(proc: ManagedProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!proc.logs().includes('memshift started')) {
    if (!proc.running) throw diedBeforeListening(proc, 'its start');
    if (Date.now() > deadline) {
      await proc.stop(1_000);
      throw new Error(`${proc.name} logged no "memshift started" within ${timeoutMs} ms; output:\n${proc.logTail()}`);
    }
    await sleep(25);
  }
}

/** Writes `configYaml` to `dir`/memshift.yaml and starts `node dist/cli.js serve -c FILE` there; waits for nothing. */
function serveIn(dir: string, configYaml: string, name: string, opts: MemshiftOptions): ManagedProcess {
  const entry = resolve(REPO_ROOT, opts.entry ?? 'dist/cli.js');
  if (!existsSync(entry)) {
    throw new Error(`${entry} is missing: run \`npm run build\` first (scripts/run-integration.mjs does)`);
  }
  ensureTempDir(dir);
  const configFile = join(dir, 'memshift.yaml');
  writeFileSync(configFile, configYaml);
  return ManagedProcess.start({
    name,
    command: process.execPath,
    args: [entry, 'serve', ...(opts.configArgs ?? ['-c', configFile]), ...(opts.args ?? [])],
    logFile: join(dir, 'memshift.log'),
    env: { ...process.env, ...opts.env },
    cwd: REPO_ROOT,
  });
}

/**
 * `memshift serve` on `configYaml` (a temp file), without waiting for anything: for a start that is
 * to fail (a listener that cannot bind, a pool with no servers). `name` is for messages.
 */
export function spawnMemshift(configYaml: string, name: string, opts: Pick<MemshiftOptions, 'env' | 'args'> = {}): ManagedProcess {
  return serveIn(makeTempDir('memshift'), configYaml, name, opts);
}

/**
 * Writes `configYaml` to a temp file and runs `node dist/cli.js serve -c FILE`, waiting until every
 * listener accepts a connection. A listener on port 0 is found in serve's `memshift started` log
 * line. `host`/`port` are the first TCP listener's (port 0 when there is none). `stop()` sends
 * SIGTERM and resolves with the exit code.
 */
export async function startMemshift(configYaml: string, opts: MemshiftOptions = {}): Promise<MemshiftHandle> {
  const configured = listenEndpoints(configYaml);
  const portZero = configured.some((e) => 'port' in e && e.port === 0);
  const timeoutMs = opts.startTimeoutMs ?? 15_000;
  const dir = makeTempDir('memshift');
  const configFile = join(dir, 'memshift.yaml');
  const name = `memshift ${configured.map((e) => ('path' in e ? e.path : `${e.host}:${e.port}`)).join(' ')}`;
  const server = await Server.start(async () => {
    const proc = serveIn(dir, configYaml, name, opts);
    const endpoints = portZero ? await startedAddresses(proc, timeoutMs) : configured;
    for (const endpoint of endpoints) await waitForEndpoint(endpoint, proc, timeoutMs);
    if (!portZero && opts.untilStarted !== false) await loggedStarted(proc, timeoutMs);
    const tcp = endpoints.find((e): e is Extract<Endpoint, { port: number }> => 'port' in e);
    return { proc, host: tcp?.host ?? '127.0.0.1', port: tcp?.port ?? 0 };
  });
  return Object.assign(server, { configFile });
}

export interface MemshiftPoolSpec {
  /** `host:port[:weight] [name]` strings as written, or handles (rendered `host:port:1`); absent for a pool with `discovery` or `replicas`. */
  servers?: ReadonlyArray<string | ServerHandle>;
  /** Default fnv1a_64. */
  hash?: string;
  /** Default ketama. */
  distribution?: string;
  /** Any other pool field, in the config file's own spelling (e.g. `hash_tag`, `timeout`). */
  [field: string]: unknown;
}

export interface MemshiftConfigSpec {
  /** Default 0: the OS picks the port and `startMemshift` reads it from serve's log. */
  listenPort?: number;
  /** Default 127.0.0.1. */
  listenHost?: string;
  pools: Record<string, MemshiftPoolSpec>;
  /** Default `main` when there is such a pool, else the first pool. */
  defaultPool?: string;
  /** Any other top-level field, in the config file's spelling (e.g. `routes`, `limits`, `flush_all`). */
  [field: string]: unknown;
}

/** Renders a memshift YAML config: `listen`, `pools` (hash fnv1a_64, distribution ketama by default), `default_pool`, then the rest as given. */
export function memshiftConfig(spec: MemshiftConfigSpec): string {
  const { listenPort, listenHost, pools, defaultPool, ...rest } = spec;
  const poolNames = Object.keys(pools);
  const rendered = Object.fromEntries(
    Object.entries(pools).map(([name, { servers, hash, distribution, ...fields }]) => [
      name,
      {
        ...(servers === undefined ? {} : { servers: servers.map((s) => (typeof s === 'string' ? s : serverSpec(s))) }),
        hash: hash ?? 'fnv1a_64',
        distribution: distribution ?? 'ketama',
        ...fields,
      },
    ]),
  );
  return stringifyYaml({
    listen: [`${listenHost ?? '127.0.0.1'}:${listenPort ?? 0}`],
    pools: rendered,
    default_pool: defaultPool ?? (poolNames.includes('main') ? 'main' : poolNames[0]),
    ...rest,
  });
}

/**
 * `n` fresh memcached backends (started with `memcached`'s options) and one memshift in front of them
 * as pool `main` (extra pool or top-level fields as in the config file).
 */
export async function startMemshiftPool(
  n = 3,
  fields: { pool?: Record<string, unknown>; config?: Record<string, unknown>; memcached?: MemcachedOptions } = {},
): Promise<{ backends: ServerHandle[]; proxy: MemshiftHandle }> {
  const backends = await Promise.all(Array.from({ length: n }, () => startMemcached(fields.memcached)));
  const yaml = memshiftConfig({ listenPort: await freePort(), pools: { main: { servers: backends, ...fields.pool } }, ...fields.config });
  return { backends, proxy: await startMemshift(yaml) };
}
