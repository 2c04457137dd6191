/**
 * Child processes for tests, and the registry that makes sure none outlives the test run.
 *
 * Three layers, from gentle to blunt:
 *  1. `stopAll()` (call it from `afterAll`): SIGCONT + SIGTERM to every live child, SIGKILL after a
 *     grace period, waits for each exit, then removes the temp dirs.
 *  2. Process hooks, installed once per process: on `exit` every live child gets SIGKILL
 *     synchronously and the temp dirs are removed; on SIGINT/SIGTERM/SIGHUP the same, then the
 *     signal is re-raised when nothing else listens for it.
 *     In a vitest `forks` worker, losing the IPC channel (vitest's main process died, e.g. a CI
 *     timeout killed it while a test hung) also kills every child at once, makes later starts throw,
 *     and ends the worker after 1 s: it would otherwise run the hung test, and keep its servers,
 *     indefinitely.
 *  3. Parent-death signal: each child is started as `setpriv --pdeathsig KILL -- <program> ...`.
 *     setpriv sets PR_SET_PDEATHSIG and execs the program in place (same pid, no extra process),
 *     so the kernel sends SIGKILL to the server when the process that spawned it dies, even by
 *     SIGKILL (vitest killing a worker on a timeout), when no JS hook can run. Without a setpriv
 *     that knows `--pdeathsig` (util-linux < 2.33) layers 1 and 2 still apply.
 *
 * The registry lives on `globalThis`, so every copy of this module that vitest loads into one
 * worker shares it and the hooks are installed once.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface SpawnSpec {
  /** For messages, e.g. `memcached 127.0.0.1:40001`. */
  readonly name: string;
  /** The program, preferably an absolute path. */
  readonly command: string;
  readonly args: readonly string[];
  /** stdout and stderr are appended here. */
  readonly logFile: string;
  /** Other files the program logs to (e.g. nutcracker's -o); `logs()` appends them. */
  readonly extraLogFiles?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly cwd?: string;
}

interface Registry {
  readonly procs: Set<ManagedProcess>;
  readonly dirs: Set<string>;
  hooked: boolean;
  /** The vitest main process is gone (IPC disconnected): start nothing more. */
  orphaned: boolean;
}

const REGISTRY_KEY = Symbol.for('memshift.test.process-registry');
const globalSlot = globalThis as unknown as Record<symbol, Registry | undefined>;
const registry: Registry = (globalSlot[REGISTRY_KEY] ??= { procs: new Set(), dirs: new Set(), hooked: false, orphaned: false });

/** Set MEMSHIFT_KEEP_TEST_TMP=1 to keep configs and logs after the run. */
const keepTmp = process.env['MEMSHIFT_KEEP_TEST_TMP'] === '1';

let pdeathsigWrapper: string | null | undefined;

/** `setpriv` when it supports `--pdeathsig`, else null. Checked once. */
export function parentDeathWrapper(): string | null {
  if (pdeathsigWrapper === undefined) {
    const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8', timeout: 5_000 });
    pdeathsigWrapper = r.status === 0 && r.stdout.includes('--pdeathsig') ? 'setpriv' : null;
  }
  return pdeathsigWrapper;
}

function sizeOrZero(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** The file from byte `from` on, '' when it is gone. */
function readFrom(path: string, from: number): string {
  try {
    return readFileSync(path).subarray(from).toString('utf8');
  } catch {
    return '';
  }
}

/** The state letter of each thread of `pid` (R, S, T, …) from /proc; null when /proc cannot tell. */
function threadStates(pid: number): string[] | null {
  try {
    return readdirSync(`/proc/${pid}/task`).map((tid) => {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'latin1');
      return stat.charAt(stat.lastIndexOf(')') + 2);
    });
  } catch {
    return null;
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Tests wait on conditions, not clocks: `pollUntil` and `waitUntil` for something that will happen
 * (a phase, a log line, a reply, a process exit), with a deadline and a message naming it; `hold`
 * only where the time itself is the scenario.
 */

/**
 * Calls `get` every `everyMs` until `ok` holds for its value and returns that value; throws
 * `timed out waiting for <what>: <the last value>` after `ms`.
 */
export async function pollUntil<T>(what: string, get: () => T | Promise<T>, ok: (value: T) => boolean, ms: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} after ${ms} ms: ${String(JSON.stringify(value)).slice(0, 500)}`);
    await sleep(everyMs);
  }
}

/** Polls `check` every `everyMs` until it holds; throws `timed out waiting for <what>` after `ms`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, ms: number, everyMs = 50): Promise<void> {
  await pollUntil(what, check, (held) => held, ms, everyMs);
}

/**
 * Lets `ms` pass on purpose, where the duration is the scenario: a load that runs for a while, a
 * backend kept stopped, a client that does not read, time that must pass without something
 * happening. `why` says which, for the reader; never use it to wait for something to happen.
 */
export const hold = (ms: number, _why: string): Promise<void> => sleep(ms);

/** A child process with its log file, its exit as a promise, and a place in the registry. */
export class ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /** Each log file with its size when this process started: a restart appends to the same files. */
  readonly #logs: ReadonlyArray<readonly [string, number]>;
  readonly #exited: Promise<ExitInfo>;
  #exitInfo: ExitInfo | undefined;

  private constructor(spec: SpawnSpec, child: ChildProcess, pid: number, logs: ReadonlyArray<readonly [string, number]>) {
    this.name = spec.name;
    this.logFile = spec.logFile;
    this.#logs = logs;
    this.pid = pid;
    this.#exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#exitInfo = { code, signal };
        registry.procs.delete(this);
        resolve(this.#exitInfo);
      });
    });
  }

  /** Starts the program (under the parent-death wrapper when there is one) and registers it. */
  static start(spec: SpawnSpec): ManagedProcess {
    installHooks();
    if (registry.orphaned) throw new Error(`${spec.name}: not started, the test runner that owns this process is gone`);
    const logs = [spec.logFile, ...(spec.extraLogFiles ?? [])].map((f) => [f, sizeOrZero(f)] as const);
    const fd = openSync(spec.logFile, 'a');
    let child: ChildProcess;
    try {
      const wrapper = parentDeathWrapper();
      const [command, args] =
        wrapper === null
          ? [spec.command, [...spec.args]]
          : [wrapper, ['--pdeathsig', 'KILL', '--', spec.command, ...spec.args]];
      child = spawn(command, args, {
        stdio: ['ignore', fd, fd],
        env: spec.env ?? process.env,
        cwd: spec.cwd,
        detached: false,
      });
    } finally {
      closeSync(fd);
    }
    child.on('error', () => {
      // Reported through `exit` or the missing pid below; without a listener it would throw.
    });
    if (child.pid === undefined) throw new Error(`${spec.name}: could not spawn ${spec.command}`);
    const proc = new ManagedProcess(spec, child, child.pid, logs);
    registry.procs.add(proc);
    return proc;
  }

  get exitInfo(): ExitInfo | undefined {
    return this.#exitInfo;
  }

  get running(): boolean {
    return this.#exitInfo === undefined;
  }

  /** Resolves with the exit, or undefined when it did not happen within `timeoutMs`. */
  async waitExit(timeoutMs = 5_000): Promise<ExitInfo | undefined> {
    if (this.#exitInfo !== undefined) return this.#exitInfo;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), timeoutMs);
    });
    try {
      return await Promise.race([this.#exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Sends a signal if the process is still running. */
  signal(signal: NodeJS.Signals): void {
    if (this.#exitInfo !== undefined) return;
    try {
      process.kill(this.pid, signal);
    } catch {
      // It exited between the check and the kill.
    }
  }

  /**
   * SIGSTOP, and waits (synchronously, up to 2 s) until every thread of the process is stopped: the
   * signal alone takes effect asynchronously, and a request sent right after it could still be
   * answered (seen 2 times in 40 with memcached).
   */
  pause(): void {
    this.signal('SIGSTOP');
    this.#waitThreads((state) => state === 'T');
  }

  /** SIGCONT, and waits until no thread is stopped any more. */
  resume(): void {
    this.signal('SIGCONT');
    this.#waitThreads((state) => state !== 'T');
  }

  #waitThreads(done: (state: string) => boolean): void {
    const deadline = Date.now() + 2_000;
    // A synchronous spin, so callers need not await: it ends within a few milliseconds.
    while (this.running && Date.now() < deadline) {
      const states = threadStates(this.pid);
      if (states === null || states.every((s) => done(s) || s === 'Z' || s === 'X')) return;
    }
  }

  /** SIGTERM (after SIGCONT, in case it is paused), then SIGKILL after `graceMs`; waits for the exit. */
  async stop(graceMs = 5_000): Promise<ExitInfo> {
    this.signal('SIGCONT');
    this.signal('SIGTERM');
    const info = await this.waitExit(graceMs);
    if (info !== undefined) return info;
    this.signal('SIGKILL');
    return this.#exited;
  }

  /** What this process wrote to stdout, stderr and its extra log files so far ('' once the temp dir is gone). */
  logs(): string {
    return this.#logs.map(([file, from]) => readFrom(file, from)).join('');
  }

  /** The last `lines` lines of the log, for error messages. */
  logTail(lines = 30): string {
    return this.logs().trimEnd().split('\n').slice(-lines).join('\n');
  }

  describeExit(): string {
    const e = this.#exitInfo;
    if (e === undefined) return 'still running';
    return e.signal !== null ? `killed by ${e.signal}` : `exited with code ${e.code}`;
  }
}

/** A fresh temp dir, removed by `stopAll()` or at process exit. */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `memshift-test-${prefix}-`));
  registry.dirs.add(dir);
  return dir;
}

/** Re-creates a dir that `stopAll()` removed (for `restart()` after `stopAll()`). */
export function ensureTempDir(dir: string): void {
  mkdirSync(dir, { recursive: true });
  registry.dirs.add(dir);
}

/** The processes started and not yet exited. */
export function liveProcesses(): ManagedProcess[] {
  return [...registry.procs];
}

function removeTempDirs(): void {
  if (keepTmp) {
    if (registry.dirs.size > 0) console.error(`[harness] kept temp dirs: ${[...registry.dirs].join(' ')}`);
    registry.dirs.clear();
    return;
  }
  for (const dir of registry.dirs) rmSync(dir, { recursive: true, force: true });
  registry.dirs.clear();
}

/** Stops every process started through the harness and removes the temp dirs. Safe to call twice. */
export async function stopAll(): Promise<void> {
  await Promise.all([...registry.procs].map((p) => p.stop(3_000)));
  removeTempDirs();
}

function killAllSync(): void {
  for (const proc of registry.procs) {
    try {
      process.kill(proc.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  removeTempDirs();
}

function onSignal(signal: NodeJS.Signals): void {
  killAllSync();
  if (process.listenerCount(signal) === 1) {
    process.removeListener(signal, onSignal);
    process.kill(process.pid, signal);
  }
}

function installHooks(): void {
  if (registry.hooked) return;
  registry.hooked = true;
  process.on('exit', killAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, onSignal);
  if (typeof process.send === 'function') process.once('disconnect', onParentGone);
}

function onParentGone(): void {
  registry.orphaned = true;
  killAllSync();
  // Nobody can receive this worker's results any more; leave if a hung test keeps it alive.
  setTimeout(() => process.exit(1), 1_000).unref();
}
