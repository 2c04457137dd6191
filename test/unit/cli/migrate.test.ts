import { EventEmitter } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from '../../../src/cli/common.js';
import { runMigrate, type MigrateDeps } from '../../../src/cli/migrate.js';
import type { MigrationStatus } from '../../../src/migration/status.js';
import { migrationStatus } from '../../support/migration-status.js';
import { waitUntil } from '../../support/process.js';
import { run, tempConfigs, type Run } from './helpers.js';

const status = migrationStatus;

/** What GET /migration answers (src/migration/admin.ts): the first pool's status with every pool's. */
const body = (...all: MigrationStatus[]): object => ({ ...all[0]!, pools: all });

const DONE = status({
  phase: 'done',
  counts: { scanned: 100_000, copied: 99_000, skipped: 1_000, verified: 100_000, mismatched: 0, repaired: 0, backfilled: 7, errors: 0, cleaned: 100_000 },
  t_copy_s: 30.5,
  t_sync_s: 2,
  t_verify_s: 10.25,
  t_total_s: 42.75,
  t_cleanup_s: 5,
  progress: null,
  verify: { passes: 1, left: 0, note: 'the last pass found no difference' },
});

interface Post {
  path: string;
  authorization: string | undefined;
  body: string;
}

/** A fake admin API: GET /migration answers the next canned body (the last one repeats); POSTs are recorded. */
class FakeAdmin {
  readonly server = http.createServer((req, res) => void this.handle(req, res));
  gets: object[] = [{ phase: null }];
  getCount = 0;
  history: object = { history: [] };
  historyUrls: string[] = [];
  posts: Post[] = [];
  postAnswer: (p: Post) => { status: number; body: unknown } = () => ({ status: 200, body: status() });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  reset(): void {
    this.gets = [{ phase: null }];
    this.getCount = 0;
    this.history = { history: [] };
    this.historyUrls = [];
    this.posts = [];
    this.postAnswer = () => ({ status: 200, body: status() });
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let text = '';
    for await (const chunk of req) text += String(chunk);
    const reply = (code: number, payload: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    if (req.method === 'GET' && req.url?.startsWith('/migration/history') === true) {
      this.historyUrls.push(req.url);
      return reply(200, this.history);
    }
    if (req.method === 'GET' && req.url === '/migration') {
      const answer = this.gets[Math.min(this.getCount, this.gets.length - 1)]!;
      this.getCount += 1;
      const failing = (answer as { failWith?: number }).failWith;
      return failing === undefined ? reply(200, answer) : reply(failing, { error: 'not ready' });
    }
    if (req.method === 'POST' && req.url?.startsWith('/migration/') === true) {
      const post = { path: req.url, authorization: req.headers.authorization, body: text };
      this.posts.push(post);
      const a = this.postAnswer(post);
      return reply(a.status, a.body);
    }
    reply(404, { error: `no admin endpoint at ${req.url}` });
  }
}

const fake = new FakeAdmin();
const files = tempConfigs();
beforeAll(() => fake.start());
afterAll(async () => {
  await fake.close();
  files.cleanup();
});
afterEach(() => fake.reset());

const configWith = (admin: string): string => files.write(`c${Math.random().toString(36).slice(2)}.yml`, `listen: ["127.0.0.1:0"]\npools:\n  main:\n    servers: ["127.0.0.1:1"]\n${admin}`);

/** runMigrate with explicit deps (watch: TTY or not, SIGINT source); returns what it printed. */
async function runWith(args: string[], deps: Partial<MigrateDeps> = {}, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = { out: (t) => void (stdout += t), err: (t) => void (stderr += t), env };
  const status = await runMigrate(args, io, { isTTY: false, signals: new EventEmitter() as unknown as MigrateDeps['signals'], ...deps });
  return { status, stdout, stderr };
}

describe('memshift migrate (help and usage)', () => {
  it('is listed, and prints its usage on --help', async () => {
    expect((await run(['--help'])).stdout).toMatch(/^ {2}migrate +show, watch and control a running migration/m);
    for (const argv of [['migrate', '--help'], ['migrate', 'status', '-h'], ['help', 'migrate']]) {
      const r = await run(argv);
      expect(r).toMatchObject({ status: 0, stderr: '' });
      expect(r.stdout).toContain('Usage: memshift migrate status [-c FILE | --admin URL]');
      expect(r.stdout).toContain('--token TOKEN');
      expect(r.stdout).toContain('69 unavailable');
    }
  });

  it.each([
    [['migrate'], 'name what to do: status, watch, history, start, pause, resume, abort, drain'],
    [['migrate', 'drain', '--admin', 'http://127.0.0.1:1'], 'drain needs the server to take out: memshift migrate drain HOST'],
    [['migrate', 'drain', 'mc-3', 'mc-4', '--admin', 'http://127.0.0.1:1'], 'unexpected argument "mc-4"'],
    [['migrate', 'frob'], 'unknown subcommand "frob"'],
    [['migrate', 'status', 'extra', '--admin', 'http://127.0.0.1:1'], 'unexpected argument "extra"'],
    [['migrate', 'status', '--bogus'], "Unknown option '--bogus'"],
    [['migrate', 'status'], 'no admin URL: pass --admin URL, or -c FILE'],
    [['migrate', 'status', '--admin', 'ftp://x'], '--admin must be an http:// or https:// URL'],
    [['migrate', 'status', '--admin', 'http://[nope'], '--admin must be a URL like http://127.0.0.1:9121'],
    [['migrate', 'watch', '--admin', 'http://127.0.0.1:1', '--interval', '0'], '--interval must be a positive number'],
    [['migrate', 'start', '--admin', 'http://127.0.0.1:1', '--pool', ''], '--pool must not be empty'],
  ])('%j is a usage error', async (argv, message) => {
    const r = await run(argv);
    expect(r.status).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(message);
    expect(r.stderr).toContain('Try "memshift migrate --help".');
    expect(fake.getCount + fake.posts.length).toBe(0);
  });

  it('needs an admin block when the URL comes from the config', async () => {
    const file = configWith('');
    const r = await run(['migrate', 'status', '-c', file]);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain(`${file} has no admin block`);
  });

  it('names the URL when nothing listens there, and exits 69', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    for (const sub of ['status', 'watch', 'pause']) {
      const r = await run(['migrate', sub, '--admin', `http://127.0.0.1:${port}`, '--token', 't']);
      expect(r.status).toBe(69);
      expect(r.stdout).toBe('');
      expect(r.stderr).toBe(`memshift migrate: cannot reach the memshift admin API at http://127.0.0.1:${port}: connection refused (is "memshift serve" running with an admin block there?)\n`);
    }
  });
});

describe('memshift migrate status', () => {
  it('prints the header, the progress bar, the counts and the T line', async () => {
    fake.gets = [body(status())];
    const r = await run(['migrate', 'status', '--admin', fake.url]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        'pool      main',
        'id        m1',
        'phase     copy',
        'paused    no',
        'leader    web-1:4242:m1 (the sidecar answering)',
        'progress  [##########--------------]  41% 41000/100000 keys walked, ETA 12s',
        'counts    scanned 41000 copied 40000 skipped 1000 verified 0 mismatched 0 repaired 0 backfilled 3 errors 0 cleaned 0',
        'times     T_copy - s + T_sync - s + T_verify - s = T_total - s',
        'cleanup   T_cleanup - s',
        'verify    -',
        'moved     24.90% of the keyspace',
        'route     backfilled 3 (0 failed), sync races 0, sync errors 0, held 0 (this sidecar)',
        '',
      ].join('\n'),
    );
  });

  it('reads the URL from the config, and shows verify, the times and the note', async () => {
    fake.gets = [body(status({ phase: 'verify', paused: true, this_process_leads: false, progress: null, t_copy_s: 30.5, t_sync_s: 2, counts: { ...status().counts, scanned: 1000, verified: 450, mismatched: 50 }, verify: { passes: 2, left: 3, note: 'under write load' } }))];
    const r = await run(['migrate', 'status'], { MEMSHIFT_CONFIG: configWith(`admin: {listen: "127.0.0.1:${fake.port}"}\n`) });
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toContain('paused    yes\n');
    expect(r.stdout).toContain('leader    web-1:4242:m1\n');
    expect(r.stdout).toContain('progress  [############------------]  50% 500/1000 keys checked, 50 mismatched\n');
    expect(r.stdout).toContain('times     T_copy 30.50 s + T_sync 2.00 s + T_verify - s = T_total - s\n');
    expect(r.stdout).toContain('verify    2 passes, 3 left: under write load\n');
  });

  it('shows each verify pass with its keys and time', async () => {
    const passTimes = [
      { kind: 'full' as const, checked: 71062, swept: 73027, seconds: 9.93 },
      { kind: 'incremental' as const, checked: 11797, swept: 0, seconds: 1.405 },
    ];
    fake.gets = [body({ ...DONE, verify: { passes: 2, left: 0, note: 'the last pass found no difference', pass_times: passTimes } })];
    const r = await run(['migrate', 'status', '--admin', fake.url]);
    expect(r.stdout).toContain('verify    2 passes (full 71,062 checked + 73,027 swept in 9.93 s; incremental 11,797 checked in 1.41 s), 0 left: the last pass found no difference\n');
  });

  it('says what a planned migration waits for', async () => {
    fake.gets = [body(status({ phase: 'planned', progress: null, waiting: 'waiting for migrate start' }))];
    const r = await run(['migrate', 'status', '--admin', fake.url]);
    expect(r.stdout).toContain('progress  waiting for migrate start\n');
  });

  it('prints the final times of a finished migration', async () => {
    fake.gets = [body(DONE)];
    const r = await run(['migrate', 'status', '--admin', `${fake.url}/`]);
    expect(r.stdout).toContain('progress  [########################] 100%\n');
    expect(r.stdout).toContain('times     T_copy 30.50 s + T_sync 2.00 s + T_verify 10.25 s = T_total 42.75 s\n');
    expect(r.stdout).toContain('cleanup   T_cleanup 5.00 s\n');
    expect(r.stdout).toContain('verify    1 pass, 0 left: the last pass found no difference\n');
  });

  it('names a failover\'s server and the ones earlier failovers took out', async () => {
    fake.gets = [body({ ...DONE, id: 'failover-b-10.0.1.2_11211-3', failover: { group: 'b', server: '10.0.1.2:11211', out: [{ group: 'a', server: '10.0.0.2:11211' }, { group: 'a', server: '10.0.0.1:11211' }] } })];
    const r = await run(['migrate', 'status', '--admin', `${fake.url}/`]);
    expect(r.stdout).toContain('failover  10.0.1.2:11211 out of group b; out before it: 10.0.0.2:11211 (a), 10.0.0.1:11211 (a)\n');
  });

  it('--json prints the server JSON unchanged', async () => {
    const canned = body(status(), status({ pool: 'sessions', id: 's1', phase: 'planned' }));
    fake.gets = [canned];
    const r = await run(['migrate', 'status', '--json', '--admin', fake.url]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(JSON.parse(r.stdout)).toEqual(canned);
    const one = await run(['migrate', 'status', '--json', '--pool', 'sessions', '--admin', fake.url]);
    expect(JSON.parse(one.stdout)).toEqual(status({ pool: 'sessions', id: 's1', phase: 'planned' }));
  });

  it('shows one pool and lists the others; --pool picks one; an unknown pool is a usage error', async () => {
    fake.gets = [body(status(), status({ pool: 'sessions', id: 's1', phase: 'aborted', rolled_back: false, paused: false }))];
    const all = await run(['migrate', 'status', '--admin', fake.url]);
    expect(all.stdout).toContain('pool      main\n');
    expect(all.stdout).toContain('others    sessions: aborted (rolling back) (pass --pool to show one)\n');
    const one = await run(['migrate', 'status', '--pool', 'sessions', '--admin', fake.url]);
    expect(one.stdout).toContain('pool      sessions\n');
    expect(one.stdout).toContain('phase     aborted (rolling back)\n');
    expect(one.stdout).not.toContain('others');
    const bad = await run(['migrate', 'status', '--pool', 'nope', '--admin', fake.url]);
    expect(bad.status).toBe(64);
    expect(bad.stderr).toContain('no migration for pool "nope"; pools with one: "main", "sessions"');
  });

  it('--id picks a migration by id (a route migration shares its pool with the pool\'s own); an unknown id is a usage error', async () => {
    fake.gets = [body(status(), status({ id: 'tenant42-move', phase: 'copy' }))];
    const one = await run(['migrate', 'status', '--json', '--id', 'tenant42-move', '--admin', fake.url]);
    expect(JSON.parse(one.stdout)).toEqual(status({ id: 'tenant42-move', phase: 'copy' }));
    const bad = await run(['migrate', 'status', '--id', 'nope', '--admin', fake.url]);
    expect(bad.status).toBe(64);
    expect(bad.stderr).toContain('no migration "nope"; migrations: "m1", "tenant42-move"');
  });

  it('says so when no pool has a migration', async () => {
    const r = await run(['migrate', 'status', '--admin', fake.url]);
    expect(r).toEqual({ status: 0, stdout: `no migration: no pool of the sidecar at ${fake.url} has one configured\n`, stderr: '' });
  });
});

describe('memshift migrate watch', () => {
  const copying = (walked: number): MigrationStatus => status({ progress: { phase: 'copy', expected: 100_000, walked, eta_s: null, scanned: walked, checked: 0 } });

  it('prints a line per change until done, then the final table, and exits 0', async () => {
    fake.gets = [body(status({ phase: 'dual_write', progress: null })), body(copying(50_000)), body(copying(50_000)), body(copying(100_000)), body(status({ phase: 'verify', counts: { ...DONE.counts, verified: 25_000 } })), body(DONE)];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(fake.getCount).toBe(6);
    const lines = r.stdout.split('\n');
    expect(lines.slice(0, 5)).toEqual([
      'main/m1 dual_write writes reach both owners; the copy follows',
      'main/m1 copy       [#####-----]  50% 50000/100000 walked | copied 40000 errors 0',
      'main/m1 copy       [##########] 100% | copied 40000 errors 0',
      'main/m1 verify     [###-------]  25% | mismatched 0 errors 0',
      'main/m1 done       [########################] 100%',
    ]);
    expect(lines.slice(5).join('\n')).toContain('phase     done\n');
    expect(r.stdout).toContain('times     T_copy 30.50 s + T_sync 2.00 s + T_verify 10.25 s = T_total 42.75 s\n');
  });

  it('runs through the top-level command too', async () => {
    fake.gets = [body(DONE)];
    const r = await run(['migrate', 'watch', '--admin', fake.url]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('phase     done\n');
  });

  it('redraws one line on a terminal', async () => {
    fake.gets = [body(copying(10_000)), body(copying(10_000)), body(DONE)];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01'], { isTTY: true });
    expect(r.status).toBe(0);
    const draws = r.stdout.split('\r\x1b[2K').slice(1);
    expect(draws).toHaveLength(3); // every poll redraws, even without a change
    expect(draws[0]).toBe('main/m1 copy       [#---------]  10% 10000/100000 walked | copied 40000 errors 0');
    expect(draws[2]).toMatch(/^main\/m1 done [^\n]*\npool {6}main\n/);
  });

  it('fits a redrawn line to the terminal width', async () => {
    fake.gets = [body(copying(10_000)), body(DONE)];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01'], { isTTY: true, columns: 40 });
    const draws = r.stdout.split('\r\x1b[2K').slice(1).map((d) => d.split('\n')[0]!);
    expect(draws).toEqual(['main/m1 copy       [#---------]  10%', 'main/m1 done       [##########] 100%']);
  });

  it('fits 80 columns with a long pool name and id: the counts shrink, then the name is cut in its middle', async () => {
    const long = { pool: 'sessions-eu-west-1-production-cluster', id: 'grow-2026-11-28-from-three-to-four-servers' };
    fake.gets = [body(status({ ...long, progress: { phase: 'copy', expected: 100_000, walked: 41_000, eta_s: 11.2, scanned: 41_000, checked: 0 } })), body(status({ ...long, phase: 'aborted', rolled_back: true }))];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01']);
    const lines = r.stdout.split('\n').slice(0, 2);
    expect(lines).toEqual([
      'sessions-eu-west-1-produ…m-three-to-four-servers copy [####------]  41%, ETA 12s',
      'sessions-eu-west-1-prod…-three-to-four-servers aborted (rolled back) rolled back',
    ]);
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);
  });

  it('says what a planned migration waits for', async () => {
    fake.gets = [body(status({ phase: 'planned', progress: null, waiting: 'waiting for migrate start' })), body(DONE)];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01']);
    expect(r.stdout.split('\n')[0]).toBe('main/m1 planned    waiting for migrate start');
  });

  it('exits 1 when the migration ends rolled back', async () => {
    fake.gets = [body(status({ phase: 'aborted' })), body(status({ phase: 'aborted', rolled_back: true }))];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01']);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('main/m1 aborted (rolling back) writes reach both owners until all read the old\n');
    expect(r.stdout).toContain('phase     aborted (rolled back)\n');
  });

  it('--json prints one JSON line per change', async () => {
    fake.gets = [body(copying(1)), body(copying(1)), body(DONE)];
    const r = await runWith(['watch', '--json', '--admin', fake.url, '--interval', '0.01'], { isTTY: true });
    expect(r.status).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as MigrationStatus).phase)).toEqual(['copy', 'done']);
  });

  it('exits 130 on Ctrl-C and removes its handler', async () => {
    fake.gets = [body(copying(1))];
    const signals = new EventEmitter();
    const done = runWith(['watch', '--admin', fake.url, '--interval', '30'], { isTTY: true, signals: signals as unknown as MigrateDeps['signals'] });
    await waitUntil('the first GET', () => fake.getCount > 0, 5_000, 5);
    await waitUntil('the SIGINT handler', () => signals.listenerCount('SIGINT') > 0, 5_000, 5);
    expect(signals.listenerCount('SIGINT')).toBe(1);
    signals.emit('SIGINT', 'SIGINT');
    const r = await done;
    expect(r.status).toBe(130);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stderr).toBe('memshift migrate: stopped watching; migration m1 of pool main (copy) goes on without it ("memshift migrate watch" follows it again)\n');
    expect(signals.listenerCount('SIGINT')).toBe(0);
  });

  it('keeps watching through a few failed polls, but not when the first one fails', async () => {
    fake.gets = [body(copying(1)), { failWith: 503 }, body(DONE)];
    const r = await runWith(['watch', '--admin', fake.url, '--interval', '0.01']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe(`memshift migrate: GET ${fake.url}/migration: HTTP 503: not ready; retry 1/9\n`);
    fake.reset();
    fake.gets = [{ failWith: 503 }, body(DONE)];
    const first = await runWith(['watch', '--admin', fake.url, '--interval', '0.01']);
    expect(first).toEqual({ status: 69, stdout: '', stderr: `memshift migrate: GET ${fake.url}/migration: HTTP 503: not ready\n` });
  });

  it('exits 1 when there is nothing to watch', async () => {
    const r = await runWith(['watch', '--admin', fake.url]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no migration: no pool of the sidecar');
  });
});

describe('memshift migrate start|pause|resume|abort', () => {
  it.each(['start', 'pause', 'resume', 'abort'])('%s POSTs with the bearer token and prints the phase', async (action) => {
    const paused = action === 'pause';
    fake.postAnswer = () => ({ status: 200, body: status({ phase: action === 'abort' ? 'aborted' : 'dual_write', paused }) });
    const r = await run(['migrate', action, '--admin', fake.url, '--token', 's3cret']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(fake.posts).toEqual([{ path: `/migration/${action}`, authorization: 'Bearer s3cret', body: '' }]);
    const phase = action === 'abort' ? 'aborted (rolling back)' : paused ? 'dual_write (paused)' : 'dual_write';
    expect(r.stdout).toBe(`main: migration m1: ${action} accepted; phase ${phase}\n`);
  });

  it('sends the pool, and --json prints the answer', async () => {
    const r = await run(['migrate', 'pause', '--pool', 'main', '--json', '--admin', fake.url, '--token', 't']);
    expect(r.status).toBe(0);
    expect(JSON.parse(fake.posts[0]!.body)).toEqual({ pool: 'main' });
    expect(JSON.parse(r.stdout)).toEqual(status());
  });

  it('sends the id', async () => {
    const r = await run(['migrate', 'start', '--id', 'tenant42-move', '--admin', fake.url, '--token', 't']);
    expect(r.status).toBe(0);
    expect(JSON.parse(fake.posts[0]!.body)).toEqual({ id: 'tenant42-move' });
  });

  it('takes the token from the config, the token file, then MEMSHIFT_ADMIN_TOKEN; --token first', async () => {
    const admin = `admin: {listen: "127.0.0.1:${fake.port}"`;
    const tokenFile = files.write('token', 'from-file\n');
    await run(['migrate', 'start', '-c', configWith(`${admin}, token: from-config}\n`)], { MEMSHIFT_ADMIN_TOKEN: 'from-env' });
    await run(['migrate', 'start', '-c', configWith(`${admin}, token_file: ${tokenFile}}\n`)], { MEMSHIFT_ADMIN_TOKEN: 'from-env' });
    await run(['migrate', 'start', '-c', configWith(`${admin}}\n`)], { MEMSHIFT_ADMIN_TOKEN: 'from-env' });
    await run(['migrate', 'start', '-c', configWith(`${admin}, token: from-config}\n`), '--token', 'from-flag']);
    await run(['migrate', 'start', '--admin', fake.url], { MEMSHIFT_ADMIN_TOKEN: 'env-only' });
    await run(['migrate', 'start', '--admin', fake.url]);
    expect(fake.posts.map((p) => p.authorization)).toEqual(['Bearer from-config', 'Bearer from-file', 'Bearer from-env', 'Bearer from-flag', 'Bearer env-only', undefined]);
  });

  it('an unreadable token file exits 66', async () => {
    const r = await run(['migrate', 'start', '-c', configWith(`admin: {listen: "127.0.0.1:${fake.port}", token_file: /nonexistent/memshift-token}\n`)]);
    expect(r.status).toBe(66);
    expect(r.stderr).toContain('cannot read admin.token_file "/nonexistent/memshift-token"');
    expect(fake.posts).toEqual([]);
  });

  it('401 prints the server message with a hint and exits 64', async () => {
    fake.postAnswer = () => ({ status: 401, body: { error: 'missing or invalid bearer token' } });
    const r = await run(['migrate', 'start', '--admin', fake.url]);
    expect(r.status).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      `memshift migrate: POST ${fake.url}/migration/start: HTTP 401: missing or invalid bearer token; no token was sent: pass --token, set admin.token or admin.token_file in the config, or set MEMSHIFT_ADMIN_TOKEN\n`,
    );
    const wrong = await run(['migrate', 'start', '--admin', fake.url, '--token', 'bad']);
    expect(wrong.status).toBe(64);
    expect(wrong.stderr).toBe(`memshift migrate: POST ${fake.url}/migration/start: HTTP 401: missing or invalid bearer token\n`);
  });

  it('409 (the phase forbids it) prints the reason and exits 69', async () => {
    const reason = 'migration "m1" is past its cutover (phase cleanup): the old owners no longer hold every write; migrate back instead';
    fake.postAnswer = () => ({ status: 409, body: { error: reason } });
    const r = await run(['migrate', 'abort', '--admin', fake.url, '--token', 't']);
    expect(r.status).toBe(69);
    expect(r.stderr).toBe(`memshift migrate: POST ${fake.url}/migration/abort: HTTP 409: ${reason}\n`);
  });

  it('404 (unknown pool) exits 64; 500 exits 69', async () => {
    fake.postAnswer = () => ({ status: 404, body: { error: 'name the pool: {"pool": one of "main"}' } });
    const r = await run(['migrate', 'resume', '--pool', 'x', '--admin', fake.url, '--token', 't']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('HTTP 404: name the pool');
    fake.postAnswer = () => ({ status: 500, body: { error: 'internal error in POST /migration/resume' } });
    expect((await run(['migrate', 'resume', '--admin', fake.url, '--token', 't'])).status).toBe(69);
  });
});

describe('memshift migrate history', () => {
  const result = (id: string, ended: string, over: object = {}): object => ({
    kind: 'planned',
    pool: 'main',
    id,
    outcome: 'done',
    from: ['10.0.0.1:11211', '10.0.0.2:11211'],
    to: ['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211'],
    started_at: '2026-11-28T10:00:00.000Z',
    ended_at: ended,
    switches: [
      { phase: 'dual_write', at: '2026-11-28T10:00:00.000Z' },
      { phase: 'done', at: ended },
    ],
    counts: { copied: 40_000, errors: 0 },
    t_copy_s: 30.5,
    t_sync_s: 2,
    t_verify_s: 10.25,
    t_total_s: 42.75,
    t_cleanup_s: 5,
    ...over,
  });

  it('prints a table, newest first, and --pool asks for one pool', async () => {
    fake.history = { history: [result('grow', '2026-11-28T10:01:00.000Z'), result('failover-main-x', '2026-11-27T09:00:00.000Z', { kind: 'passive', outcome: 'done', t_cleanup_s: null })] };
    const r = await run(['migrate', 'history', '--admin', fake.url, '--pool', 'main']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toBe(
      [
        'ENDED                 KIND     POOL  ID               OUTCOME  T_COPY  T_SYNC  T_VERIFY  T_TOTAL  CLEANUP  COPIED  ERRORS',
        '2026-11-28 10:01:00Z  planned  main  grow             done      30.50    2.00     10.25    42.75     5.00   40000       0',
        '2026-11-27 09:00:00Z  passive  main  failover-main-x  done      30.50    2.00     10.25    42.75        -   40000       0',
        '',
      ].join('\n'),
    );
    expect(fake.historyUrls).toEqual(['/migration/history?pool=main']);
  });

  it('--id prints one in full with every switch; --json prints what the server sent', async () => {
    fake.history = { history: [result('grow', '2026-11-28T10:01:00.000Z')] };
    const r = await run(['migrate', 'history', '--admin', fake.url, '--id', 'grow']);
    expect(r.stdout).toContain('from      10.0.0.1:11211, 10.0.0.2:11211\n');
    expect(r.stdout).toContain('switches  2026-11-28 10:00:00Z  dual_write\n          2026-11-28 10:01:00Z  done\n');
    expect(r.stdout).toContain('times     T_copy 30.50 s + T_sync 2.00 s + T_verify 10.25 s = T_total 42.75 s\n');
    const json = await run(['migrate', 'history', '--admin', fake.url, '--json']);
    expect(JSON.parse(json.stdout)).toEqual(fake.history);
    const missing = await run(['migrate', 'history', '--admin', fake.url, '--id', 'nope']);
    expect(missing).toMatchObject({ status: 1, stdout: '' });
    expect(missing.stderr).toContain('no migration "nope" in the history');
  });

  it('says so when nothing is on record', async () => {
    const r = await run(['migrate', 'history', '--admin', fake.url]);
    expect(r.stdout).toBe('no finished migration, sync or rebuild on record\n');
  });
});

describe('memshift migrate drain HOST', () => {
  it('POSTs the host (and the pool) with the bearer token and prints the migration it starts', async () => {
    fake.postAnswer = () => ({ status: 200, body: { pool: 'main', id: 'auto-main-0badcafe', server: 'mc-3.mc.test', moved_share: 0.25 } });
    const r = await run(['migrate', 'drain', 'mc-3.mc.test', '--pool', 'main', '--admin', fake.url, '--token', 's3cret']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(fake.posts).toEqual([{ path: '/migration/drain', authorization: 'Bearer s3cret', body: JSON.stringify({ host: 'mc-3.mc.test', pool: 'main' }) }]);
    expect(r.stdout).toBe('main: drain of mc-3.mc.test: migration auto-main-0badcafe starts (it moves 25.0% of the keys); "memshift migrate watch" follows it\n');
  });

  it('404 (no such server) exits 64; 409 (a migration is not over) exits 69', async () => {
    fake.postAnswer = () => ({ status: 404, body: { error: 'pool main has no server mc-9 in its ring (mc-0.mc.test)' } });
    const r = await run(['migrate', 'drain', 'mc-9', '--admin', fake.url, '--token', 't']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('HTTP 404: pool main has no server mc-9');
    fake.postAnswer = () => ({ status: 409, body: { error: 'pool main: migration auto-main-1 is not over' } });
    expect((await run(['migrate', 'drain', 'mc-0', '--admin', fake.url, '--token', 't'])).status).toBe(69);
  });
});
