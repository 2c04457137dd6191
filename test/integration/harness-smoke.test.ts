/**
 * The test harness itself against real servers: two memcached behind one nutcracker, the handle
 * operations later failure tests rely on, startMemshift's plumbing (with a stand-in entry script,
 * so this file does not depend on the proxy), and that no child outlives stopAll() or its parent.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  freePort,
  keysOnServer,
  liveProcesses,
  memshiftConfig,
  REPO_ROOT,
  startMemcached,
  startMemshift,
  startNutcracker,
  stats,
  stopAll,
  TextClient,
  waitUntil,
} from '../support/harness.js';

afterAll(stopAll);

const alive = (pid: number): boolean => existsSync(`/proc/${pid}`);

/** Whether `pid` exits within `ms`. */
const gone = (pid: number, ms: number): Promise<boolean> =>
  waitUntil(`pid ${pid} to exit`, () => !alive(pid), ms, 20).then(
    () => true,
    () => false,
  );

describe('harness', () => {
  it('sets and gets through nutcracker in front of two memcached', async () => {
    const [a, b] = await Promise.all([startMemcached(), startMemcached()]);
    // md5 spreads these similar keys; fnv1a_64 may put all of them on one server.
    const nc = await startNutcracker({ servers: [a, b], hash: 'md5' });
    expect(nc.statsPort).not.toBe(nc.port);
    const client = await TextClient.connect(nc.port);
    const keys = Array.from({ length: 200 }, (_, i) => `smoke:${i}`);
    for (const key of keys) expect(await client.request(`set ${key} 5 0 ${key.length}\r\n${key}`)).toBe('STORED\r\n');
    expect(await client.request('get smoke:1 smoke:2')).toBe('VALUE smoke:1 5 7\r\nsmoke:1\r\nVALUE smoke:2 5 7\r\nsmoke:2\r\nEND\r\n');
    await client.close();

    const getsBefore = (await stats(a.port)).get('cmd_get');
    const [onA, onB] = await Promise.all([keysOnServer(a.port, keys), keysOnServer(b.port, keys)]);
    expect((await stats(a.port)).get('cmd_get')).toBe(getsBefore); // looking leaves no trace
    expect(onA.size).toBeGreaterThan(0);
    expect(onB.size).toBeGreaterThan(0);
    expect(onA.size + onB.size).toBe(keys.length);
    expect([...onA].filter((k) => onB.has(k))).toEqual([]);
    expect((await stats(a.port)).get('curr_items')).toBe(String(onA.size));
  });

  it('restarts on the same port, pauses and resumes', async () => {
    const m = await startMemcached({ memoryMb: 16 });
    const client = await TextClient.connect(m.port);
    expect(await client.request('set k 0 0 1\r\nx')).toBe('STORED\r\n');

    m.pause();
    await client.write('get k\r\n');
    expect((await client.readFor(300)).length).toBe(0);
    m.resume();
    expect((await client.read((buf) => buf.includes('END\r\n'), 2_000)).toString()).toBe('VALUE k 0 1\r\nx\r\nEND\r\n');

    const { port, pid } = m;
    await m.restart();
    expect(m.port).toBe(port);
    expect(m.pid).not.toBe(pid);
    expect(alive(pid)).toBe(false);
    expect(await client.waitClosed(2_000)).toBe(true);
    const again = await TextClient.connect(m.port);
    expect(await again.request('get k')).toBe('END\r\n');
    await again.close();

    m.kill('SIGKILL');
    expect((await m.waitExit())?.signal).toBe('SIGKILL');
  });

  it('fails fast with the output when memcached cannot bind', async () => {
    const m = await startMemcached();
    const started = Date.now();
    await expect(startMemcached({ port: m.port })).rejects.toThrow(/exited with code .* before listening[\s\S]*Address already in use/);
    expect(Date.now() - started).toBeLessThan(3_000);
  });

  it('runs memcached on port 11211 of another 127.0.0.x address', async () => {
    let lastError: unknown;
    for (let i = 0; i < 5; i++) {
      const host = `127.0.0.${2 + Math.floor(Math.random() * 250)}`;
      try {
        const m = await startMemcached({ host, port: 11211 });
        expect(m.address).toBe(`${host}:11211`);
        expect((await stats(11211, host)).get('pid')).toBe(String(m.pid));
        expect(await m.stop()).toBe(0);
        return;
      } catch (err) {
        lastError = err; // another run holds that address; try another one
      }
    }
    throw lastError;
  });

  it('starts memshift from a config, waits for its port, keeps its logs and reports the exit code', async () => {
    const port = await freePort();
    const yaml = memshiftConfig({ listenPort: port, pools: { main: { servers: ['127.0.0.1:1:1', '127.0.0.1:2:1'] } }, flush_all: false });
    expect(parseYaml(yaml)).toEqual({
      listen: [`127.0.0.1:${port}`],
      pools: { main: { servers: ['127.0.0.1:1:1', '127.0.0.1:2:1'], hash: 'fnv1a_64', distribution: 'ketama' } },
      default_pool: 'main',
      flush_all: false,
    });
    // Stand-in for dist/cli.js `serve -c FILE`: listens on the config's port (0: any, announced in a
    // pino-style "memshift started" line, as serve does) and exits 0 on SIGTERM.
    const dir = mkdtempSync(join(tmpdir(), 'memshift-fake-cli-'));
    try {
      const entry = join(dir, 'fake-cli.mjs');
      writeFileSync(
        entry,
        `import { readFileSync } from 'node:fs'; import { createServer } from 'node:net';
const [, , cmd, flag, file] = process.argv;
if (cmd !== 'serve' || flag !== '-c') process.exit(64);
const port = parseInt(readFileSync(file, 'utf8').split('127.0.0.1:')[1], 10);
// The harness's readiness probe connects and hangs up at once: a reset is no error here.
const srv = createServer((s) => s.on('error', () => {}).end('hello\\r\\n')).listen(port, '127.0.0.1', () => {
  const addresses = ['127.0.0.1:' + srv.address().port];
  console.log(JSON.stringify({ level: 'info', pid: process.pid, addresses, tag: process.env.FAKE_TAG, msg: 'memshift started' }));
});
process.on('SIGTERM', () => srv.close(() => process.exit(0)));
`,
      );
      const ms = await startMemshift(yaml, { entry, env: { FAKE_TAG: 'tagged' } });
      expect(ms.port).toBe(port);
      const client = await TextClient.connect(port);
      expect((await client.read(7)).toString()).toBe('hello\r\n');
      expect(await client.waitClosed()).toBe(true);
      expect(ms.logs()).toContain(`"addresses":["127.0.0.1:${port}"],"tag":"tagged"`);
      expect(await ms.stop()).toBe(0);

      const anyPort = await startMemshift(memshiftConfig({ pools: { main: { servers: ['127.0.0.1:1'] } } }), { entry });
      const first = anyPort.port;
      expect(first).toBeGreaterThan(0);
      await anyPort.restart(); // a new process, a new port, and logs() shows only its own lines
      expect(anyPort.logs().match(/memshift started/g)).toHaveLength(1);
      expect(anyPort.logs()).toContain(`127.0.0.1:${anyPort.port}`);
      expect((await (await TextClient.connect(anyPort.port)).read(7)).toString()).toBe('hello\r\n');
      expect(await anyPort.stop()).toBe(0);

      await expect(startMemshift('listen: ["127.0.0.1:1"]\n', { entry: join(dir, 'nope.mjs') })).rejects.toThrow(/npm run build/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kills the servers when the process that started them dies by SIGKILL', async () => {
    const harness = new URL('../support/harness.ts', import.meta.url).href;
    const code = `import(${JSON.stringify(harness)}).then(async (h) => {
      const m = await h.startMemcached(); console.log('PID', m.pid); setInterval(() => {}, 1000); });`;
    // The helper dies by SIGKILL and cannot remove its temp dirs: give it a TMPDIR of our own.
    const tmp = mkdtempSync(join(tmpdir(), 'memshift-orphan-'));
    const env = { ...process.env, TMPDIR: tmp };
    const child = spawn(process.execPath, ['--import', 'tsx', '-e', code], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const pid = await new Promise<number>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          const m = /PID (\d+)/.exec(out);
          if (m) resolve(Number(m[1]));
        });
        child.once('exit', (c) => reject(new Error(`helper exited ${c}: ${out}`)));
      });
      expect(alive(pid)).toBe(true);
      child.kill('SIGKILL');
      expect(await gone(pid, 3_000)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('stopAll leaves no process behind', async () => {
    await Promise.all([startMemcached(), startMemcached()]);
    const paused = await startMemcached();
    paused.pause();
    const pids = liveProcesses().map((p) => p.pid);
    expect(pids.length).toBeGreaterThanOrEqual(3);
    await stopAll();
    expect(liveProcesses()).toEqual([]);
    expect(pids.filter(alive)).toEqual([]);
  });
});
