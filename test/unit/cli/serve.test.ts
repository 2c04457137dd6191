import { spawn } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { CliIo } from '../../../src/cli/common.js';
import { runServe, type RunningProxy, type ServeDeps } from '../../../src/cli/serve.js';
import { MemshiftError } from '../../../src/errors.js';
import { createLogger } from '../../../src/observability/logger.js';
import { run, tempConfigs } from './helpers.js';

const files = tempConfigs();
afterAll(() => files.cleanup());
const CONFIG = 'listen: ["127.0.0.1:0"]\npools:\n  main:\n    servers: ["127.0.0.1:1"]\n';

/** A fake process: signals on demand, logs captured as parsed JSON lines, startProxy recorded. */
function harness(proxy: Partial<RunningProxy> & { fail?: Error } = {}) {
  const signals = new EventEmitter();
  const logs: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const exits: number[] = [];
  let closed = 0;
  let started: { level?: string; format?: string } = {};
  const deps: ServeDeps = {
    startProxy: (_config, { logger }) => {
      logger.info('fake proxy started');
      if (proxy.fail) return Promise.reject(proxy.fail);
      return Promise.resolve({
        addresses: ['127.0.0.1:12345'],
        close: proxy.close ?? (() => ((closed += 1), Promise.resolve())),
      });
    },
    createLogger: (options) => ((started = options), createLogger({ ...options, format: 'json', destination: sink })),
    signals: signals as unknown as ServeDeps['signals'],
    exit: (code) => void exits.push(code),
    version: '9.9.9',
  };
  const io: CliIo = { out: () => undefined, err: () => undefined, env: {} };
  return { deps, io, signals, logs, exits, closed: () => closed, started: () => started };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('memshift serve (in-process)', () => {
  const file = files.write('serve.yml', CONFIG);

  it('starts the proxy, and on SIGTERM closes it and resolves 0', async () => {
    const h = harness();
    const done = runServe(['-c', file, '--log-level', 'debug'], h.io, h.deps);
    await tick();
    expect(h.started()).toEqual({ level: 'debug', format: 'json' });
    expect(h.logs.map((l) => l.msg)).toEqual(['fake proxy started', 'memshift started']);
    expect(h.logs[1]).toMatchObject({ level: 'info', version: '9.9.9', config: file, addresses: ['127.0.0.1:12345'] });
    h.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(0);
    expect(h.closed()).toBe(1);
    expect(h.logs.map((l) => l.msg).slice(2)).toEqual(['signal received; shutting down', 'memshift stopped; exiting']);
    expect(h.signals.listenerCount('SIGTERM') + h.signals.listenerCount('SIGINT')).toBe(0);
  });

  it('exits at once on a second signal while draining', async () => {
    let finish: () => void = () => undefined;
    const h = harness({ close: () => new Promise<void>((resolve) => (finish = resolve)) });
    const done = runServe(['-c', file], h.io, h.deps);
    await tick();
    h.signals.emit('SIGINT', 'SIGINT');
    await tick();
    h.signals.emit('SIGINT', 'SIGINT');
    expect(h.exits).toEqual([1]);
    expect(h.logs.at(-1)).toMatchObject({ level: 'warn', signal: 'SIGINT' });
    finish();
    expect(await done).toBe(0);
  });

  it('handles a signal that arrives while the proxy is starting', async () => {
    const h = harness();
    const done = runServe(['-c', file], h.io, h.deps);
    h.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(0);
    expect(h.closed()).toBe(1);
  });

  it('resolves 70 when closing fails', async () => {
    const h = harness({ close: () => Promise.reject(new Error('stuck')) });
    const done = runServe(['-c', file], h.io, h.deps);
    await tick();
    h.signals.emit('SIGTERM', 'SIGTERM');
    expect(await done).toBe(70);
    expect(h.logs.at(-1)).toMatchObject({ level: 'error', msg: 'shutdown failed' });
  });

  it('passes a start-up error on (MS_ERR_LISTEN exits 69 from main) and removes its signal handlers', async () => {
    const h = harness({ fail: new MemshiftError('MS_ERR_LISTEN', 'listen 127.0.0.1:11211: EADDRINUSE') });
    await expect(runServe(['-c', file], h.io, h.deps)).rejects.toMatchObject({ code: 'MS_ERR_LISTEN' });
    expect(h.signals.listenerCount('SIGTERM')).toBe(0);
  });

  it('logs a failed start as fatal, and exits with its status should anything still hold the process 2 s later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const h = harness({ fail: new MemshiftError('MS_ERR_LISTEN', 'cannot listen on admin 127.0.0.1:9121: listen EADDRINUSE') });
      await expect(runServe(['-c', file], h.io, h.deps)).rejects.toMatchObject({ code: 'MS_ERR_LISTEN' });
      expect(h.logs.at(-1)).toMatchObject({ level: 'fatal', code: 'MS_ERR_LISTEN', exit: 69, err: 'cannot listen on admin 127.0.0.1:9121: listen EADDRINUSE', msg: 'memshift cannot start; exiting' });
      vi.advanceTimersByTime(1_999);
      expect(h.exits).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(h.exits).toEqual([69]);
      expect(h.logs.at(-1)).toMatchObject({ level: 'error', msg: 'still running 2000 ms after a failed start; exiting now' });
      // Any other failure is EX_SOFTWARE.
      const other = harness({ fail: new Error('boom') });
      await expect(runServe(['-c', file], other.io, other.deps)).rejects.toThrow('boom');
      vi.advanceTimersByTime(2_000);
      expect(other.exits).toEqual([70]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('after a complete shutdown, exits 0 should anything still hold the process 2 s later', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] });
    try {
      const h = harness();
      const done = runServe(['-c', file], h.io, h.deps);
      await tick();
      h.signals.emit('SIGTERM', 'SIGTERM');
      expect(await done).toBe(0);
      vi.advanceTimersByTime(1_999);
      expect(h.exits).toEqual([]);
      vi.advanceTimersByTime(1);
      expect(h.exits).toEqual([0]);
      expect(h.logs.at(-1)).toMatchObject({ level: 'error', msg: 'still running 2000 ms after the shutdown; exiting now' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('--log-format: json or pretty; by default pretty on a terminal, json elsewhere', async () => {
    const formatOf = async (args: string[], isTTY?: boolean): Promise<unknown> => {
      const h = harness();
      const done = runServe(['-c', file, ...args], h.io, { ...h.deps, ...(isTTY === undefined ? {} : { isTTY }) });
      await tick();
      h.signals.emit('SIGTERM', 'SIGTERM');
      await done;
      return h.started().format;
    };
    expect(await formatOf([], true)).toBe('pretty');
    expect(await formatOf([], false)).toBe('json');
    expect(await formatOf(['--log-format', 'json'], true)).toBe('json');
    expect(await formatOf(['--log-format', 'pretty'], false)).toBe('pretty');
    const r = await run(['serve', '-c', file, '--log-format', 'fancy']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('--log-format must be one of json, pretty, got "fancy"');
  });

  it('refuses an unknown log level (exit 64) and reports a bad config (exit 78) before starting', async () => {
    const r = await run(['serve', '-c', file, '--log-level', 'loud']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('--log-level must be one of fatal, error, warn, info, debug, trace, silent, got "loud"');
    const bad = await run(['serve', '-c', files.write('bad.yml', 'listen: ["127.0.0.1:0"]\n')]);
    expect(bad.status).toBe(78);
    expect(bad.stderr).toContain('bad.yml:1:1 pools: required setting is missing');
  });
});

describe('memshift serve (a real process)', () => {
  it('logs JSON to stdout, and exits 0 after SIGTERM', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve', '-c', files.write('real.yml', CONFIG)], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const started = new Promise<void>((resolve) => {
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
        if (stdout.includes('"msg":"memshift started"')) resolve();
      });
    });
    const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    try {
      await Promise.race([started, exited]);
      expect(stderr).toBe('');
      child.kill('SIGTERM');
      const [code, signal] = await exited;
      expect({ code, signal }).toEqual({ code: 0, signal: null });
    } finally {
      clearTimeout(timer);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const lines = stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
    expect(lines.map((l) => l.msg)).toContain('signal received; shutting down');
    expect(lines.at(-1)?.msg).toBe('memshift stopped; exiting');
  }, 30_000);
});
