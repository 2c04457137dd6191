import { afterAll, describe, expect, it } from 'vitest';
import { formatReload, reloadExit } from '../../../src/cli/reload.js';
import type { ReloadResult } from '../../../src/app/reload.js';
import { DEMO, run, tempConfigs } from './helpers.js';

const files = tempConfigs();
afterAll(() => files.cleanup());

const answer = (over: Partial<ReloadResult>): ReloadResult => ({ result: 'applied', dry_run: false, changes: [], errors: [], needs_force: [], needs_restart: [], ...over });

describe('memshift reload: the answer', () => {
  it('prints a verdict and one row per change and refusal, and exits by the result', () => {
    const force = 'keys under "t:" move from pool main to pool t: this would move keys without a migration. reload with force';
    const refused = answer({ result: 'refused', dry_run: true, changes: ['pool t added: 10.0.0.9:11211:1'], errors: [force, 'listen changed: needs a restart'], needs_force: [force], needs_restart: ['listen changed: needs a restart'] });
    expect(formatReload(refused, 'reload at http://h:1', 'memshift reload --force')).toBe(
      'reload at http://h:1 (dry run): refused; nothing changed\n' +
        '  would apply    pool t added: 10.0.0.9:11211:1\n' +
        `  needs force    ${force}\n` +
        '  needs restart  listen changed: needs a restart\n',
    );
    expect(reloadExit(refused)).toBe(1);
    // Only force stands in the way: say how to apply it.
    const forceOnly = answer({ result: 'refused', errors: [force], needs_force: [force] });
    expect(formatReload(forceOnly, 'x', 'memshift reload --force')).toContain('with force the keys named above move cold (they start empty where they go): memshift reload --force\n');
    // Refusals that are neither (a running migration) are listed as refused.
    expect(formatReload(answer({ result: 'refused', errors: ['pool main: migration "m" is running'] }), 'x', '')).toContain('  refused  pool main: migration "m" is running\n');
    expect(formatReload(answer({ changes: ['flush_all: false'] }), 'x', '')).toBe('x: applied\n  applied  flush_all: false\n');
    expect(reloadExit(answer({ result: 'unchanged' }))).toBe(0);
    expect(reloadExit(answer({ result: 'would_apply', dry_run: true }))).toBe(0);
    expect(reloadExit(answer({ result: 'failed', errors: ['bad'] }))).toBe(78);
  });

  it('needs an admin URL, and reports an admin API that cannot be reached as unavailable', async () => {
    expect((await run(['reload'])).status).toBe(64);
    const r = await run(['reload', '--admin', 'http://127.0.0.1:1', '--token', 't']);
    expect(r.status).toBe(69);
    expect(r.stderr).toContain('memshift reload: cannot reach the memshift admin API at http://127.0.0.1:1');
  });
});

describe('memshift check --against', () => {
  it('reports the file\'s problems before asking the sidecar', async () => {
    const file = files.write('bad.yml', 'listen: ["127.0.0.1:1"]\npools: {main: {servers: ["10.0.0.1:11211:1"], hash: nope}}\n');
    const r = await run(['check', '-c', file, '--against', 'http://127.0.0.1:1']);
    expect(r.status).toBe(78);
    expect(r.stderr).toContain(`${file}:2:`);
  });

  it('takes --token only with --against, and needs a reachable sidecar', async () => {
    const file = files.write('demo.yml', DEMO);
    expect((await run(['check', '-c', file, '--token', 't'])).status).toBe(64);
    const r = await run(['check', '-c', file, '--against', '127.0.0.1:1']);
    expect(r.status).toBe(69);
    expect(r.stderr).toContain('memshift check: cannot reach the memshift admin API at http://127.0.0.1:1');
  });
});
