/**
 * GET /config of a running memshift (issue 14: it showed camelCase, `defaultPool`): the config in
 * memshift.yml's own names, the token redacted; `?format=yaml` is a file `memshift check` accepts
 * (once the token is put back) and that describes the same setup.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, REPO_ROOT, startMemcached, startMemshift, stopAll } from '../support/harness.js';
import { makeTempDir } from '../support/process.js';

afterAll(stopAll);

const check = (file: string): string => {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'check', '--json', file], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  return r.stdout.replace(/"source": "[^"]*"/, '"source": null');
};

it('GET /config answers in the YAML names, and its YAML form checks as the same config', async () => {
  const backends = await Promise.all([startMemcached(), startMemcached()]);
  const admin = await freePort();
  const yaml = stringify({
    listen: [`127.0.0.1:${await freePort()}`],
    admin: { listen: `127.0.0.1:${admin}`, token: 'sekret' },
    pools: { main: { servers: backends.map((b) => `${b.address}:1`), timeout: '1500ms' }, other: { servers: [`${backends[0]!.address}:1`], hash_tag: '{}' } },
    routes: [{ prefix: 'o:', pool: 'other' }],
    default_pool: 'main',
    limits: { max_connections: 300 },
  });
  const proxy = await startMemshift(yaml);
  const res = await fetch(`http://127.0.0.1:${admin}/config`);
  expect(res.status).toBe(200);
  const body = (await res.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ default_pool: 'main', flush_all: true, routes: [{ prefix: 'o:', pool: 'other' }], limits: { max_connections: 300 }, admin: { listen: `127.0.0.1:${admin}`, token: '<redacted>' } });
  expect(body.pools).toMatchObject({ main: { timeout: 1500, server_connections: 1 }, other: { hash_tag: '{}' } });
  expect(JSON.stringify(body)).not.toMatch(/defaultPool|timeoutMs|hashTag|sekret/);

  const text = await (await fetch(`http://127.0.0.1:${admin}/config?format=yaml`)).text();
  expect(text).toMatch(/^default_pool: main$/m);
  const dir = makeTempDir('admin-config');
  const shown = join(dir, 'shown.yml');
  writeFileSync(shown, text.replace('<redacted>', 'sekret'));
  expect(check(shown)).toBe(check(proxy.configFile));
  await proxy.stop();
});
