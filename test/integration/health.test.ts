/**
 * `memshift health`, the image's HEALTHCHECK (issue 14: it hard-coded 11211): run beside a real
 * memshift with the same config, it asks the admin API's /readyz (an admin listener on every address
 * is asked on loopback), or without one sends `version` to the first client listener. Ready: 0;
 * starting (a migration record that no server answers yet): 1; stopped: 69.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { freePort, REPO_ROOT, startMemcached, startMemshift, stopAll } from '../support/harness.js';
import { startMemshiftStillStarting } from '../support/slow-start.js';

afterAll(stopAll);

function health(configFile: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'health', '--timeout', '2s'], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, MEMSHIFT_CONFIG: configFile } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

it('asks /readyz of the admin listener: ready 0, starting 1, stopped 69', async () => {
  // Joining the migration waits for its record while no server answers: memshift is starting.
  const { proxy, admin, release } = await startMemshiftStillStarting('0.0.0.0');
  try {
    const starting = health(proxy.configFile);
    expect(starting).toMatchObject({ status: 1, stdout: `not ready: http://127.0.0.1:${admin}/readyz: 503\n` });
  } finally {
    release();
  }
  const deadline = Date.now() + 20_000;
  let r = health(proxy.configFile);
  while (r.status !== 0 && Date.now() < deadline) r = health(proxy.configFile);
  expect(r).toEqual({ status: 0, stdout: `ready: http://127.0.0.1:${admin}/readyz: 200\n`, stderr: '' });
  await proxy.stop();
  const stopped = health(proxy.configFile);
  expect(stopped.status).toBe(69);
  expect(stopped.stderr).toMatch(new RegExp(`^memshift health: unavailable: http://127\\.0\\.0\\.1:${admin}/readyz: connect ECONNREFUSED`));
});

it('without an admin listener, sends version to the client listener', async () => {
  const backend = await startMemcached();
  const port = await freePort();
  const proxy = await startMemshift(stringify({ listen: [`127.0.0.1:${port}`], pools: { main: { servers: [`${backend.address}:1`] } } }));
  const r = health(proxy.configFile);
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^ready: 127\\.0\\.0\\.1:${port}: VERSION \\S+\\n$`));
  await proxy.stop();
  expect(health(proxy.configFile).status).toBe(69);
});
