import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, loadConfigFile } from '../../../src/config/index.js';

const EXAMPLE = fileURLToPath(new URL('../../../config/memshift.example.yml', import.meta.url));

describe('config/memshift.example.yml', () => {
  it('is valid, and the values it shows as defaults are the defaults', () => {
    const config = loadConfigFile(EXAMPLE);
    expect(config.limits).toEqual(DEFAULTS.limits);
    expect(config.backend).toEqual(DEFAULTS.backend);
    expect(config.flushAll).toBe(DEFAULTS.flushAll);
    expect(config.workers).toBe(DEFAULTS.workers);
    expect(config.pools.get('main')).toMatchObject({ hash: DEFAULTS.hash, distribution: DEFAULTS.distribution, timeoutMs: DEFAULTS.timeoutMs, connections: DEFAULTS.serverConnections });
    expect([...config.pools.keys()]).toEqual(['main', 'replicated', 'sessions']);
    expect(config.pools.get('replicated')).toMatchObject({
      groups: [{ name: 'zone-a' }, { name: 'zone-b' }],
      write: DEFAULTS.write,
      readFailover: DEFAULTS.readFailover,
      resync: { rateKeysPerSec: DEFAULTS.resyncRate },
      writeLog: { maxBytes: DEFAULTS.writeLogMaxBytes },
    });
  });
});
