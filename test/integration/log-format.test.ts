/**
 * `serve --log-format` (issue 14): pretty, by pino-pretty, is the default on a terminal; json (one
 * object a line, what log shippers read) everywhere else. The terminal is a real pseudo-terminal
 * (util-linux `script`), and the run is a start that fails (its port taken), so it ends by itself.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, REPO_ROOT, startMemcached, startMemshift, stopAll, TextClient } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';

const holders: Server[] = [];
afterAll(async () => {
  await Promise.all(holders.map((h) => new Promise((r) => h.close(r))));
  await stopAll();
});

const PRETTY_LINE = /^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] (INFO|WARN|ERROR|FATAL): /;
// eslint-disable-next-line no-control-regex
const plain = (text: string): string => text.replace(/\x1b\[[0-9;]*m/g, '').replace(/\r/g, '');

it('on a terminal the default is pretty (coloured); --log-format json there gives JSON', async () => {
  const backend = await startMemcached();
  const port = await freePort();
  const holder = createServer();
  await new Promise<void>((resolve) => holder.listen(port, '127.0.0.1', resolve));
  holders.push(holder);
  const file = join(makeTempDir('log-format'), 'memshift.yml');
  writeFileSync(file, stringify({ listen: [`127.0.0.1:${port}`], pools: { main: { servers: [`${backend.address}:1`] } } }));
  const underTerminal = (extra: string): { status: number | null; out: string } => {
    const command = `${process.execPath} ${join(REPO_ROOT, 'dist/cli.js')} serve -c ${file}${extra}`;
    const r = spawnSync('script', ['-qec', command, '/dev/null'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, TERM: 'xterm-256color', FORCE_COLOR: '1' } });
    return { status: r.status, out: r.stdout };
  };

  const pretty = underTerminal('');
  expect(pretty.status).toBe(69);
  expect(pretty.out).toContain('\x1b['); // coloured
  const lines = plain(pretty.out).split('\n');
  const fatal = lines.findIndex((l) => l.includes('FATAL'));
  expect(lines[fatal]).toMatch(PRETTY_LINE);
  expect(lines[fatal]).toContain('FATAL: memshift cannot start; exiting {"code":"MS_ERR_LISTEN","exit":69}');
  // pino-pretty puts the error under its line.
  expect(lines[fatal + 1]).toBe(`    err: "cannot listen on 127.0.0.1:${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}"`);
  expect(pretty.out).not.toContain('"level":');

  const json = underTerminal(' --log-format json');
  expect(json.status).toBe(69);
  const line = plain(json.out).split('\n').find((l) => l.includes('"level":"fatal"'));
  expect(JSON.parse(line!)).toMatchObject({ level: 'fatal', code: 'MS_ERR_LISTEN', exit: 69 });
});

it('off a terminal the default is JSON; --log-format pretty gives one pretty line an event', async () => {
  const backend = await startMemcached();
  const port = await freePort();
  const yaml = stringify({ listen: [`127.0.0.1:${port}`], pools: { main: { servers: [`${backend.address}:1`] } } });
  const json = await startMemshift(yaml);
  await json.stop();
  const jsonLines = json.logs().trim().split('\n');
  expect(jsonLines.length).toBeGreaterThan(2);
  for (const l of jsonLines) expect(JSON.parse(l)).toHaveProperty('level');

  const pretty = await startMemshift(yaml, { args: ['--log-format', 'pretty'] });
  const c = await TextClient.connect(pretty.port);
  expect(await c.request('version')).toMatch(/^VERSION /);
  await c.close();
  expect(await pretty.stop()).toBe(0);
  const lines = pretty.logs().trim().split('\n');
  expect(lines.some((l) => /\] INFO: memshift started \{"version":/.test(l))).toBe(true);
  expect(lines.some((l) => l.includes('INFO: memshift stopped; exiting'))).toBe(true);
  // Each event is one line (an error would add its own indented line under it).
  for (const l of lines) expect(l).toMatch(l.startsWith('    ') ? /^ {4}err: / : PRETTY_LINE);
  expect(pretty.logs()).not.toContain('\x1b['); // not a terminal: no colour
});
