import { EventEmitter } from 'node:events';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { waitUntil } from '../../support/process.js';
import type { CliIo } from '../../../src/cli/common.js';
import { runTop, type TopDeps } from '../../../src/cli/top.js';
import type { TopView } from '../../../src/cli/top-view.js';
import type { BackendsBody } from '../../../src/app/backends-endpoint.js';
import { run, type Run } from './helpers.js';
import { backend, body, pool } from './top-samples.js';

/** A fake admin API: GET /backends answers the next canned body (the last one repeats); /migration and /replication are empty. */
class FakeAdmin {
  readonly server = http.createServer((req, res) => this.handle(req, res));
  samples: (BackendsBody | { failWith: number })[] = [];
  gets = 0;
  authorization: (string | undefined)[] = [];

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.samples = [];
    this.gets = 0;
    this.authorization = [];
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const reply = (code: number, payload: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.url === '/backends') {
      this.authorization.push(req.headers.authorization);
      const answer = this.samples[Math.min(this.gets, this.samples.length - 1)]!;
      this.gets += 1;
      return 'failWith' in answer ? reply(answer.failWith, { error: 'token needed' }) : reply(200, answer);
    }
    if (req.url === '/migration') return reply(200, { phase: null });
    if (req.url === '/replication') return reply(200, { pools: [] });
    reply(404, { error: `no admin endpoint at ${req.url}` });
  }
}

const fake = new FakeAdmin();
beforeAll(() => fake.start());
afterAll(() => fake.close());
afterEach(() => fake.reset());

/** Two samples a second apart (server time): 10.0.0.1 did 500 requests, 30 hits and 10 misses. */
function twoSamples(): BackendsBody[] {
  const at = (ms: number, requests: number, hits: number, misses: number): BackendsBody =>
    body(ms, [pool('main', [['main', [backend('10.0.0.1:11211', { requests, server: { get_hits: hits, get_misses: misses } }), backend('10.0.0.2:11211', { state: 'tko', reason: 'connect ECONNREFUSED' })]]])], {
      cmd_get: hits + misses,
      get_hits: hits,
      get_misses: misses,
    });
  return [at(5_000, 100, 0, 0), at(6_000, 600, 30, 10)];
}

interface Live {
  readonly deps: TopDeps;
  readonly signals: EventEmitter;
  key(k: string): void;
  resize(): void;
  keysReleased(): boolean;
}

function liveDeps(over: Partial<TopDeps> = {}): Live {
  const signals = new EventEmitter();
  let onKey: ((k: string) => void) | undefined;
  let onResize: (() => void) | undefined;
  let released = false;
  return {
    signals,
    deps: {
      isTTY: true,
      columns: () => 80,
      rows: () => 24,
      signals: signals as unknown as TopDeps['signals'],
      keys: (f) => {
        onKey = f;
        return () => void (released = true);
      },
      resize: (f) => {
        onResize = f;
        return () => void (onResize = undefined);
      },
      ...over,
    },
    key: (k) => onKey?.(k),
    resize: () => onResize?.(),
    keysReleased: () => released,
  };
}

/** runTop with explicit deps; `out` grows while it runs. */
function start(args: string[], deps: TopDeps, env: NodeJS.ProcessEnv = {}): { done: Promise<number>; out: () => string; err: () => string } {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env };
  return { done: runTop(args, io, deps), out: () => stdout, err: () => stderr };
}

async function runWith(args: string[], deps: Partial<TopDeps> = {}, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const s = start(args, { ...liveDeps().deps, isTTY: false, ...deps }, env);
  const status = await s.done;
  return { status, stdout: s.out(), stderr: s.err() };
}

/** A loopback port nothing listens on (just freed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const until = (what: string, cond: () => boolean, ms = 5_000): Promise<void> => waitUntil(what, cond, ms, 5);

describe('memshift top (help and usage)', () => {
  it('is listed, and prints its usage on --help', async () => {
    expect((await run(['--help'])).stdout).toMatch(/^ {2}top +a live view of each backend/m);
    const r = await run(['top', '--help']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toContain('Usage: memshift top [-c FILE | --admin URL] [--token TOKEN] [--interval 1s]');
  });

  it.each([
    [['top'], 'no admin URL: pass --admin URL, or -c FILE'],
    [['top', 'extra', '--admin', 'http://127.0.0.1:1'], 'unexpected argument "extra"'],
    [['top', '--admin', 'http://127.0.0.1:1', '--interval', '0'], '--interval must be a positive number'],
    [['top', '--admin', 'http://127.0.0.1:1', '--interval', 'soon'], '--interval must be a positive number'],
    [['top', '--admin', 'http://127.0.0.1:1', '--pool', ''], '--pool must not be empty'],
  ])('%j is a usage error', async (argv, message) => {
    const r = await run(argv);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Try "memshift top --help".');
  });

  it('an unknown pool is a usage error naming the pools', async () => {
    fake.samples = twoSamples();
    const r = await run(['top', '--admin', fake.url, '--once', '--pool', 'nope', '--interval', '10ms']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('no pool "nope"; the sidecar has "main"');
  });

  it('an admin API that cannot be reached is 69; a refused token is 64 with a hint', async () => {
    const closed = await closedPort();
    const down = await runWith(['--admin', `http://127.0.0.1:${closed}`, '--once']);
    expect(down.status).toBe(69);
    expect(down.stderr).toContain(`memshift top: cannot reach the memshift admin API at http://127.0.0.1:${closed}: connection refused`);
    fake.samples = [{ failWith: 401 }];
    const refused = await runWith(['--admin', fake.url, '--once']);
    expect(refused.status).toBe(64);
    expect(refused.stderr).toContain('HTTP 401: token needed; no token was sent: pass --token');
  });
});

describe('memshift top --once', () => {
  it('--json: two samples an interval apart, one JSON view with the rates; the token goes with each GET', async () => {
    fake.samples = twoSamples();
    const t0 = Date.now();
    const r = await runWith(['--admin', fake.url, '--once', '--json', '--interval', '200ms', '--token', 's3cret']);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(fake.gets).toBe(2);
    expect(fake.authorization).toEqual(['Bearer s3cret', 'Bearer s3cret']);
    const v = JSON.parse(r.stdout) as TopView;
    expect(v.interval_s).toBe(1); // the server's clock, not the client's
    const [a, b] = v.pools[0]!.groups[0]!.backends;
    expect(a).toMatchObject({ ops_per_s: 500, hit_ratio: 0.75, delta: { requests: 500, get_hits: 30, get_misses: 10 } });
    expect(b).toMatchObject({ state: 'tko', reason: 'connect ECONNREFUSED', ops_per_s: 0 });
    expect(v.proxy).toMatchObject({ gets_per_s: 40, hit_ratio: 0.75 });
  });

  it('standard output not a terminal: one frame, no escape codes, cut to $COLUMNS when set', async () => {
    fake.samples = twoSamples();
    const r = await runWith(['--admin', fake.url, '--interval', '10ms']);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain('\x1b');
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^memshift top {2}http:\/\/127\.0\.0\.1:\d+ {2}every 1s/);
    expect(lines).toContain('  10.0.0.1:11211 up         500  75.0      -      -      0     0     0B');
    expect(lines).toContain('    └ connect ECONNREFUSED');
    fake.reset();
    fake.samples = twoSamples();
    const narrow = await runWith(['--admin', fake.url, '--interval', '10ms'], {}, { COLUMNS: '50' });
    for (const l of narrow.stdout.trimEnd().split('\n')) expect(l.length).toBeLessThanOrEqual(50);
  });
});

describe('memshift top on a terminal', () => {
  it('takes the alternate screen, redraws in place and on resize, and gives the terminal back on q', async () => {
    fake.samples = twoSamples();
    const live = liveDeps();
    const s = start(['--admin', fake.url, '--interval', '20ms'], live.deps);
    await until('3 GETs', () => fake.gets >= 3);
    const frames = (): number => s.out().split('\x1b[H').length - 1;
    const before = frames();
    live.resize();
    expect(frames()).toBe(before + 1);
    live.key('q');
    expect(await s.done).toBe(0);
    const out = s.out();
    expect(out.startsWith('\x1b[?1049h\x1b[?25l\x1b[H')).toBe(true);
    expect(out.endsWith('\x1b[J\x1b[?25h\x1b[?1049l')).toBe(true);
    expect(out).toContain('first sample: rates follow');
    expect(out).toContain('  10.0.0.1:11211 up         500  75.0');
    // Each frame: at most 24 lines of at most 80 columns, each cleared to its end.
    const controls = ['\x1b[?25h', '\x1b[?1049l', '\x1b[J'];
    for (const frame of out.split('\x1b[H').slice(1)) {
      const lines = controls.reduce((f, c) => f.replaceAll(c, ''), frame).split('\r\n');
      expect(lines.length).toBeLessThanOrEqual(24);
      for (const l of lines) {
        expect(l.endsWith('\x1b[K')).toBe(true);
        expect(l.length - '\x1b[K'.length).toBeLessThanOrEqual(80);
      }
    }
    expect(live.keysReleased()).toBe(true);
    expect(live.signals.listenerCount('SIGINT') + live.signals.listenerCount('SIGTERM')).toBe(0);
  });

  it.each(['SIGINT', 'SIGTERM'])('%s gives the terminal back and exits 0', async (signal) => {
    fake.samples = twoSamples();
    const live = liveDeps();
    const s = start(['--admin', fake.url, '--interval', '20ms'], live.deps);
    await until('2 GETs', () => fake.gets >= 2);
    live.signals.emit(signal);
    expect(await s.done).toBe(0);
    expect(s.out().endsWith('\x1b[?25h\x1b[?1049l')).toBe(true);
  });

  it('Ctrl-C typed in raw mode quits too; an admin API that stops answering is shown, and the view goes on', async () => {
    fake.samples = [...twoSamples(), { failWith: 503 }];
    const live = liveDeps({ columns: () => 200 });
    const s = start(['--admin', fake.url, '--interval', '20ms'], live.deps);
    await until('the failed GET shown', () => s.out().includes('! GET'));
    expect(s.out()).toMatch(/! GET http:\/\/127\.0\.0\.1:\d+\/backends: HTTP 503: token needed; trying again every 0\.02s/);
    fake.samples = twoSamples();
    fake.gets = 1;
    const shown = s.out().length;
    await until('a good GET shown after it', () => s.out().length > shown && !s.out().slice(shown).includes('! GET'));
    live.key('\x03');
    expect(await s.done).toBe(0);
  });

  it('a first sample that fails leaves the terminal untouched', async () => {
    const live = liveDeps();
    const s = start(['--admin', `http://127.0.0.1:${await closedPort()}`], live.deps);
    expect(await s.done).toBe(69);
    expect(s.out()).toBe('');
    expect(live.keysReleased()).toBe(true);
  });

  it('--json without --once prints one line per interval until interrupted', async () => {
    fake.samples = twoSamples();
    const live = liveDeps();
    const s = start(['--admin', fake.url, '--json', '--interval', '10ms'], live.deps);
    await until('more than 3 lines out', () => s.out().split('\n').length > 3);
    live.signals.emit('SIGINT');
    expect(await s.done).toBe(0);
    const lines = s.out().trimEnd().split('\n');
    expect((JSON.parse(lines[0]!) as TopView).pools[0]!.groups[0]!.backends[0]!.ops_per_s).toBe(500);
    expect(s.out()).not.toContain('\x1b');
  });
});
