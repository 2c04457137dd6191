/**
 * Runs one memcaslap load (`-s HOST:PORT -T threads -c conns -t Ns -X 100 -S Ns [-d keys] [-P rate]`) and parses it.
 * `-S` equal to the duration makes memaslap record latencies and print its histogram once at
 * the end. The child is started under `setpriv --pdeathsig KILL` when available (it dies with
 * us), and `killRunning()` ends it on Ctrl-C.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { parseMemcaslapOutput, type MemcaslapResult } from './memcaslap-output.js';

export interface LoadSpec {
  readonly host: string;
  readonly port: number;
  readonly durationS: number;
  readonly concurrency: number;
  readonly threads: number;
  readonly valueSize: number;
  /** Keys per get (memcaslap -d): above 1, multi-gets. */
  readonly division?: number;
  /** The offered rate in requests per second over all connections (memcaslap -P); absent: as fast as it can. */
  readonly tps?: number;
  /** Kills the run: its promise then rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

export interface LoadRun {
  readonly args: readonly string[];
  readonly output: string;
  readonly result: MemcaslapResult;
}

const running = new Set<ChildProcess>();

function findExecutable(name: string): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(delimiter).filter(Boolean), '/usr/local/bin', '/usr/bin', '/usr/sbin', '/bin'];
  for (const dir of dirs) {
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch {
      // next
    }
  }
  return undefined;
}

let binary: string | undefined;
let wrapper: string | null | undefined;

export function memcaslapBinary(): string {
  binary ??= findExecutable('memcaslap') ?? findExecutable('memaslap');
  if (binary === undefined) throw new Error('memcaslap not found; install it: apt-get install -y libmemcached-tools');
  return binary;
}

function withParentDeath(command: string, args: string[]): [string, string[]] {
  if (wrapper === undefined) {
    const r = spawnSync('setpriv', ['--help'], { encoding: 'utf8', timeout: 5_000 });
    wrapper = r.status === 0 && r.stdout.includes('--pdeathsig') ? 'setpriv' : null;
  }
  return wrapper === null ? [command, args] : [wrapper, ['--pdeathsig', 'KILL', '--', command, ...args]];
}

/** Runs memcaslap to the end (killed after duration + 30 s) and parses its output; throws with the output on failure. */
export function runMemcaslap(spec: LoadSpec): Promise<LoadRun> {
  const t = `${spec.durationS}s`;
  const args = ['-s', `${spec.host}:${spec.port}`, '-T', String(spec.threads), '-c', String(spec.concurrency), '-t', t, '-X', String(spec.valueSize), '-S', t];
  if (spec.division !== undefined && spec.division > 1) args.push('-d', String(spec.division));
  if (spec.tps !== undefined) args.push('-P', String(spec.tps));
  const [command, argv] = withParentDeath(memcaslapBinary(), args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const abort = (): void => void child.kill('SIGKILL');
    spec.signal?.addEventListener('abort', abort, { once: true });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (c: Buffer) => chunks.push(c));
    child.stderr?.on('data', (c: Buffer) => chunks.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), (spec.durationS + 30) * 1000);
    child.once('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      spec.signal?.removeEventListener('abort', abort);
      reject(new Error(`memcaslap: ${err.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      spec.signal?.removeEventListener('abort', abort);
      if (spec.signal?.aborted === true) return reject(spec.signal.reason as Error);
      const output = Buffer.concat(chunks).toString('utf8');
      const how = signal !== null ? `was killed by ${signal}` : `exited with ${code}`;
      try {
        if (code !== 0) throw new Error(`memcaslap ${args.join(' ')} ${how}`);
        resolve({ args, output, result: parseMemcaslapOutput(output) });
      } catch (err) {
        reject(new Error(`${(err as Error).message}\n--- output tail ---\n${output.split('\n').slice(-20).join('\n')}`));
      }
    });
  });
}

/** Kills every memcaslap that is running. */
export function killRunning(): void {
  for (const child of running) child.kill('SIGKILL');
}
