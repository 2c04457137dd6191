/** Every memshift config in examples/ passes memshift's own config check (what `memshift check` runs). */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';

const DIR = fileURLToPath(new URL('../../../examples/', import.meta.url));
const files = readdirSync(DIR).filter((f) => f.endsWith('.yml'));

describe('examples/*.yml', () => {
  it('finds the example configs', () => {
    expect(files).toContain('route-migration.yml');
  });

  it.each(files)('%s is a valid memshift config', (file) => {
    expect(() => parseConfig(readFileSync(`${DIR}${file}`, 'utf8'), file)).not.toThrow();
  });

  it('route-migration.yml moves "tenant42:" from main to tenant42, waiting for migrate start', () => {
    const c = parseConfig(readFileSync(`${DIR}route-migration.yml`, 'utf8'));
    expect(c.routes[0]).toMatchObject({ prefix: 'tenant42:', pool: 'tenant42', migration: { id: 'tenant42-to-own-pool', fromPool: 'main', startAt: 'command' } });
  });
});
