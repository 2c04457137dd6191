/**
 * The pieces every started server shares: free ports, waiting for a listener while watching the
 * child, and the `ServerHandle` that wraps a `ManagedProcess` and can relaunch it. The start
 * functions themselves are in `harness.ts`.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { connect as netConnect, createServer } from 'node:net';
import { ManagedProcess, sleep, type ExitInfo } from './process.js';

const handedOut = new Set<string>();

function listenOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ port: 0, host, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** A TCP port that was free on `host` a moment ago, never the same one twice in this process. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await listenOnce(host);
    if (!handedOut.has(`${host}:${port}`)) {
      handedOut.add(`${host}:${port}`);
      return port;
    }
  }
  throw new Error(`freePort(${host}): no unused port after 50 tries`);
}

/** The child could not have the port (taken meanwhile); the start may be retried on another one. */
export class PortInUseError extends Error {}

export type Endpoint = { readonly host: string; readonly port: number } | { readonly path: string };

function tryConnect(endpoint: Endpoint): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = netConnect(endpoint);
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Inodes of the TCP sockets in LISTEN state on `port` (any address), from /proc/net/tcp{,6}; null without /proc. */
function listeningInodes(port: number): Set<string> | null {
  const inodes = new Set<string>();
  let readable = false;
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
      readable = true;
    } catch {
      continue;
    }
    // sl local_address rem_address st ... inode: st 0A is LISTEN, the port is hex after the colon.
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols[3] === '0A' && parseInt(cols[1]?.split(':')[1] ?? '', 16) === port && cols[9] !== undefined) inodes.add(cols[9]);
    }
  }
  return readable ? inodes : null;
}

/**
 * Whether process `pid` itself holds the listening socket on `port`, so a connect that worked did
 * not reach someone else who took the port meanwhile. True where /proc cannot tell.
 */
export function ownsListener(pid: number, port: number): boolean {
  const inodes = listeningInodes(port);
  if (inodes === null) return true;
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return true;
  }
  return fds.some((fd) => {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      return m?.[1] !== undefined && inodes.has(m[1]);
    } catch {
      return false;
    }
  });
}

/**
 * Polls every 20 ms until `endpoint` accepts a connection on a socket `proc` holds. Fails fast with
 * the child's output when it dies first, and stops it and fails when it does not listen within
 * `timeoutMs`.
 */
export async function waitForEndpoint(endpoint: Endpoint, proc: ManagedProcess, timeoutMs = 10_000): Promise<void> {
  const where = 'path' in endpoint ? endpoint.path : `${endpoint.host}:${endpoint.port}`;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (!proc.running) throw diedBeforeListening(proc, where);
    // A connect may reach whoever else took the port; it counts once our child holds the listener.
    if ((await tryConnect(endpoint)) && ('path' in endpoint || ownsListener(proc.pid, endpoint.port))) return;
    if (Date.now() > deadline) {
      await proc.stop(1_000);
      throw new Error(`${proc.name} did not listen on ${where} within ${timeoutMs} ms; output:\n${proc.logTail()}`);
    }
    await sleep(20);
  }
}

/** The error for a child that exited before listening on `where`: a `PortInUseError` when its output says so. */
export function diedBeforeListening(proc: ManagedProcess, where: string): Error {
  const log = proc.logTail();
  const msg = `${proc.name} (pid ${proc.pid}) ${proc.describeExit()} before listening on ${where}; output:\n${log}`;
  return /address already in use|EADDRINUSE/i.test(log) ? new PortInUseError(msg) : new Error(msg);
}

/** Runs `attempt` on a free port, retrying on a `PortInUseError`; or once on `fixed` when given. */
export async function onFreePort<T>(host: string, fixed: number | undefined, attempt: (port: number) => Promise<T>): Promise<T> {
  if (fixed !== undefined) return attempt(fixed);
  for (let i = 1; ; i++) {
    try {
      return await attempt(await freePort(host));
    } catch (err) {
      if (!(err instanceof PortInUseError) || i >= 5) throw err;
    }
  }
}

export interface ServerHandle {
  readonly host: string;
  readonly port: number;
  /** `host:port`. */
  readonly address: string;
  /** The current process (a new one after `restart()`). */
  readonly pid: number;
  readonly running: boolean;
  /**
   * SIGTERM (SIGCONT first, SIGKILL after `graceMs`, default 5 s), waits for the exit; the exit code, or null when a
   * signal ended it. memcached acts on SIGTERM at its next clock tick (up to 1 s); for a quick
   * crash use `kill()` then `waitExit()`.
   */
  stop(graceMs?: number): Promise<number | null>;
  /** Sends a signal (SIGKILL by default) without waiting; see `waitExit`. */
  kill(signal?: NodeJS.Signals): void;
  /** The exit, or undefined when it did not come within `timeoutMs` (default 5 s). */
  waitExit(timeoutMs?: number): Promise<ExitInfo | undefined>;
  /** Stops the process if it runs and starts it again with the same config, on the same host:port (a memshift listening on port 0 gets a new one). */
  restart(): Promise<void>;
  /** SIGSTOP, returning once every thread is stopped: the kernel still accepts connections, nothing is answered. */
  pause(): void;
  /** SIGCONT, returning once the process runs again. */
  resume(): void;
  /** stdout, stderr and the program's own log of the current process. */
  logs(): string;
}

/** What a launch produced: the process and where it listens (a memshift on port 0 gets a new port each time). */
export interface Launched {
  readonly proc: ManagedProcess;
  readonly host: string;
  readonly port: number;
}

export class Server implements ServerHandle {
  #launched: Launched;
  readonly #launch: () => Promise<Launched>;

  private constructor(launched: Launched, launch: () => Promise<Launched>) {
    this.#launched = launched;
    this.#launch = launch;
  }

  /** Launches once and keeps `launch` for `restart()`. */
  static async start(launch: () => Promise<Launched>): Promise<Server> {
    return new Server(await launch(), launch);
  }

  get host(): string {
    return this.#launched.host;
  }
  get port(): number {
    return this.#launched.port;
  }
  get address(): string {
    return `${this.host}:${this.port}`;
  }
  get pid(): number {
    return this.#launched.proc.pid;
  }
  get running(): boolean {
    return this.#launched.proc.running;
  }
  async stop(graceMs?: number): Promise<number | null> {
    return (await this.#launched.proc.stop(graceMs)).code;
  }
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    this.#launched.proc.signal(signal);
  }
  waitExit(timeoutMs?: number): Promise<ExitInfo | undefined> {
    return this.#launched.proc.waitExit(timeoutMs);
  }
  async restart(): Promise<void> {
    if (this.#launched.proc.running) await this.#launched.proc.stop();
    this.#launched = await this.#launch();
  }
  pause(): void {
    this.#launched.proc.pause();
  }
  resume(): void {
    this.#launched.proc.resume();
  }
  logs(): string {
    return this.#launched.proc.logs();
  }
}
