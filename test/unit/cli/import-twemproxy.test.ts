import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { run, tempConfigs } from './helpers.js';

const NUTCRACKER = `alpha:
  listen: 127.0.0.1:22121
  hash: murmur
  distribution: modula
  hash_tag: "{}"
  timeout: 250
  servers:
   - 127.0.0.1:11211:1
   - 127.0.0.1:11212:2 b
beta:
  listen: 127.0.0.1:22122
  distribution: random
  redis: true
  servers:
   - 127.0.0.1:11213:1
`;

describe('memshift import-twemproxy', () => {
  const files = tempConfigs();
  afterAll(() => files.cleanup());
  const file = files.write('nutcracker.yml', NUTCRACKER);

  it('prints its help', async () => {
    for (const argv of [['import-twemproxy', '--help'], ['import-twemproxy', '-h'], ['help', 'import-twemproxy']]) {
      const r = await run(argv);
      expect(r).toMatchObject({ status: 0, stderr: '' });
      expect(r.stdout).toContain('Usage: memshift import-twemproxy [--pool NAME] FILE');
      expect(r.stdout).toContain('one_at_a_time, md5, crc16, crc32, crc32a,\nfnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins');
    }
    expect((await run(['--help'])).stdout).toMatch(/^ {2}import-twemproxy +convert a twemproxy \(nutcracker\) config to memshift, keys in place$/m);
  });

  it('prints the memshift config of the pool chosen on stdout', async () => {
    const r = await run(['import-twemproxy', '--pool', 'alpha', file]);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`from ${file}, pool "alpha"`);
    expect(parseConfig(r.stdout).pools.get('alpha')).toMatchObject({ hash: 'murmur', distribution: 'modula', hashTag: '{}', timeoutMs: 250 });
  });

  it('exits 65 with every problem on stderr when the pool cannot be reproduced', async () => {
    const r = await run(['import-twemproxy', '--pool', 'beta', file]);
    expect(r.status).toBe(65);
    expect(r.stdout).toBe('');
    const lines = r.stderr.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:12:17 beta\\.distribution: distribution random cannot be reproduced`));
    expect(lines[1]).toBe(`${file}:13:10 beta.redis: a redis pool cannot be converted: memshift speaks the memcached protocol only`);
    expect(lines[2]).toBe(`memshift import-twemproxy: cannot convert ${file} exactly (2 problems)`);
  });

  it('exits 65 on a file with several pools and no --pool', async () => {
    const r = await run(['import-twemproxy', file]);
    expect(r.status).toBe(65);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('2 pools: "alpha" (listen 127.0.0.1:22121), "beta" (listen 127.0.0.1:22122). nutcracker picks a pool by the address');
    expect(r.stderr).toContain('Convert one pool at a time (--pool NAME)');
  });

  it('exits 66 on a file it cannot read, 64 on a usage error', async () => {
    const missing = await run(['import-twemproxy', '/nonexistent/nutcracker.yml']);
    expect(missing.status).toBe(66);
    expect(missing.stderr).toMatch(/^memshift: cannot read twemproxy config \/nonexistent\/nutcracker\.yml: ENOENT.*\[MS_ERR_CONFIG_READ\]\n$/);
    const none = await run(['import-twemproxy']);
    expect(none).toMatchObject({ status: 64, stdout: '' });
    expect(none.stderr).toBe('memshift import-twemproxy: give the twemproxy config FILE\nTry "memshift import-twemproxy --help".\n');
    expect((await run(['import-twemproxy', file, file])).status).toBe(64);
    expect((await run(['import-twemproxy', '--bogus', file])).stderr).toContain("Unknown option '--bogus'");
  });

  it('as a process: reads standard input with "-", and exits with the status', () => {
    const memshift = (args: string[], input: string) =>
      spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'import-twemproxy', ...args], { input, encoding: 'utf8', timeout: 30_000 });
    const ok = memshift(['--pool', 'alpha', '-'], NUTCRACKER);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(ok.stdout).toContain('from <stdin>, pool "alpha"');
    const bad = memshift(['-'], 'a:\n  listen: 127.0.0.1:1\n  distribution: random\n  servers: [127.0.0.1:11211:1]\n');
    expect(bad.status).toBe(65);
    expect(bad.stderr).toContain('<stdin>:3:17 a.distribution: distribution random cannot be reproduced');
  }, 60_000); // two processes that load tsx: seconds each on a busy 2-core machine
});
