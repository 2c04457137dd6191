import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS, EXIT_STATUS, exitStatusOf } from '../../../src/cli.js';
import { ERROR_CODES, MemshiftError, type ErrorCode } from '../../../src/errors.js';
import { DEMO, run, tempConfigs } from './helpers.js';

const configs = tempConfigs();
afterAll(() => configs.cleanup());
const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

describe('memshift (top level)', () => {
  it('prints help with every command on --help, -h and help', async () => {
    for (const flag of ['--help', '-h', 'help']) {
      const r = await run([flag]);
      expect(r.status).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain('Usage: memshift <command> [options]');
      const literal = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      for (const c of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^  ${c.name}\\s+${literal(c.summary)}$`, 'm'));
    }
  });

  it('prints a command\'s help with "help <command>"', async () => {
    const r = await run(['help', 'route']);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toContain('Usage: memshift route');
  });

  it('prints the version', async () => {
    expect(await run(['--version'])).toEqual({ status: 0, stdout: `memshift ${version}\n`, stderr: '' });
    expect((await run(['-v'])).stdout).toBe(`memshift ${version}\n`);
  });

  it('exits 64 with the usage on stderr when there is no command', async () => {
    const r = await run([]);
    expect(r).toMatchObject({ status: 64, stdout: '' });
    expect(r.stderr).toContain('Usage: memshift');
  });

  it.each([
    [['frobnicate'], 'memshift: unknown command "frobnicate"'],
    [['--frobnicate'], 'memshift: unknown option "--frobnicate"'],
    [['help', 'nope'], 'memshift: unknown command "nope"'],
  ])('exits 64 on %j', async (argv, message) => {
    const r = await run(argv);
    expect(r.status).toBe(64);
    expect(r.stdout).toBe('');
    expect(r.stderr.split('\n')[0]).toBe(message);
  });

  it.each(['serve', 'check', 'route'])('%s: --help and -h print its usage and exit 0', async (name) => {
    for (const flag of ['--help', '-h']) {
      const r = await run([name, flag]);
      expect(r).toMatchObject({ status: 0, stderr: '' });
      expect(r.stdout).toContain(`Usage: memshift ${name}`);
      expect(r.stdout).toContain('-c, --config FILE');
    }
  });

  it.each(['serve', 'check', 'route'])('%s: an unknown flag exits 64 and names the flag', async (name) => {
    const r = await run([name, '--bogus']);
    expect(r.status).toBe(64);
    expect(r.stderr).toBe(`memshift ${name}: Unknown option '--bogus'\nTry "memshift ${name} --help".\n`);
  });

  it.each(['serve', 'check', 'route'])('%s: without -c or $MEMSHIFT_CONFIG exits 64', async (name) => {
    const r = await run(name === 'route' ? [name, 'k'] : [name]);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain(`memshift ${name}: no config file: pass -c FILE or set MEMSHIFT_CONFIG`);
  });

  it('a positional argument where none is taken is a usage error that says to use -c', async () => {
    const r = await run(['serve', 'memshift.yml']);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain('memshift serve: unexpected argument "memshift.yml": to name the config file, use -c memshift.yml\n');
  });

  it('check takes the config file as its one argument, as well as with -c', async () => {
    const file = configs.write('positional.yml', DEMO);
    const r = await run(['check', file]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(r.stdout).toBe((await run(['check', '-c', file])).stdout);
    expect((await run(['check', '--json', file])).stdout).toBe((await run(['check', '--json', '-c', file])).stdout);
    const twice = await run(['check', '-c', file, file]);
    expect(twice.status).toBe(64);
    expect(twice.stderr).toContain('the config file is given twice');
    const two = await run(['check', file, file]);
    expect(two.status).toBe(64);
    expect(two.stderr).toContain('one config file at a time');
  });

  it('suggests the closest command for a misspelt one, and the closest option', async () => {
    for (const [typo, command] of [['chekc', 'check'], ['serv', 'serve'], ['migarte', 'migrate'], ['plna', 'plan'], ['verison', 'version']]) {
      const r = await run([typo!]);
      expect(r.status).toBe(64);
      expect(r.stderr).toBe(`memshift: unknown command "${typo}"\nDid you mean "memshift ${command}"? Try "memshift --help" for every command.\n`);
    }
    const help = await run(['help', 'chekc']);
    expect(help.status).toBe(64);
    expect(help.stderr).toContain('Did you mean "memshift check"?');
    const option = await run(['check', '--jsno', '-c', 'x.yml']);
    expect(option.status).toBe(64);
    expect(option.stderr).toContain("memshift check: Unknown option '--jsno'; did you mean --json?\n");
    const far = await run(['check', '--frobnicate']);
    expect(far.stderr).not.toContain('did you mean');
  });
});

describe('memshift version', () => {
  it('-V, -v, --version and "memshift version" print the version; --json adds node and the platform', async () => {
    for (const argv of [['-V'], ['-v'], ['--version'], ['version']]) expect(await run(argv)).toEqual({ status: 0, stdout: `memshift ${version}\n`, stderr: '' });
    const json = await run(['version', '--json']);
    expect(json.status).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ memshift: version, node: process.versions.node, platform: `${process.platform}-${process.arch}` });
    expect((await run(['--help'])).stdout).toMatch(/^ {2}-V, -v, --version +print the version/m);
  });
});

describe('exit statuses', () => {
  it('maps every error code (sysexits.h) and anything else to 70', () => {
    expect(Object.keys(EXIT_STATUS).sort()).toEqual(Object.keys(ERROR_CODES).sort());
    expect(EXIT_STATUS).toMatchObject({ MS_ERR_CONFIG: 78, MS_ERR_CONFIG_READ: 66, MS_ERR_USAGE: 64, MS_ERR_LISTEN: 69 });
    for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
      expect(exitStatusOf(new MemshiftError(code))).toBe(EXIT_STATUS[code]);
    }
    expect(exitStatusOf(new Error('boom'))).toBe(70);
    expect(exitStatusOf('boom')).toBe(70);
  });
});

describe('the bin as a process', () => {
  const files = tempConfigs();
  afterAll(() => files.cleanup());
  const memshift = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, MEMSHIFT_CONFIG: '' } });

  it('runs the command and exits with its status', () => {
    const ok = memshift('check', '-c', files.write('ok.yml', DEMO));
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain(': OK');
    const bad = memshift('check', '-c', files.write('bad.yml', 'listen: 5\npools: {}\n'));
    expect(bad.status).toBe(78);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('bad.yml:1:9 listen: expected a list, got 5');
  }, 60_000);

  it('starts with a shebang, as the package bin', () => {
    expect(readFileSync(new URL('../../../src/cli.ts', import.meta.url), 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });
});
