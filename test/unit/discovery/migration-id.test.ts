import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { autoMigrationId, ringText } from '../../../src/discovery/migration-id.js';
import { parseConfig } from '../../../src/config/index.js';

const named = (...names: string[]) => names.map((name, i) => ({ host: `10.0.0.${i + 1}`, port: 11211, name }));
const OLD = named('mc-0', 'mc-1', 'mc-2');
const NEW = named('mc-0', 'mc-1', 'mc-2', 'mc-3');

describe('autoMigrationId', () => {
  it('is auto-<pool>-<8 hex of sha256 of the old and new rings>', () => {
    const digest = createHash('sha256').update('memshift-auto-v1\nmc-0*1,mc-1*1,mc-2*1|mc-0*1,mc-1*1,mc-2*1,mc-3*1').digest('hex').slice(0, 8);
    expect(autoMigrationId('main', OLD, NEW)).toBe(`auto-main-${digest}`);
  });

  it('is the same for the same change whatever the order or the addresses, and differs for another change', () => {
    const reordered = [...NEW].reverse().map((s, i) => ({ ...s, host: `10.9.9.${i}` }));
    expect(autoMigrationId('main', [...OLD].reverse(), reordered)).toBe(autoMigrationId('main', OLD, NEW));
    expect(autoMigrationId('main', NEW, OLD)).not.toBe(autoMigrationId('main', OLD, NEW));
    expect(autoMigrationId('main', OLD, named('mc-0', 'mc-1', 'mc-2', 'mc-4'))).not.toBe(autoMigrationId('main', OLD, NEW));
    expect(autoMigrationId('sessions', OLD, NEW).slice(-8)).toBe(autoMigrationId('main', OLD, NEW).slice(-8));
  });

  it('names servers by their ring identity: node name, else host on 11211, else host:port; with their weights', () => {
    expect(ringText([{ host: '10.0.0.1', port: 11211 }, { host: '10.0.0.2', port: 11311, weight: 2 }, { host: '10.0.0.3', port: 11211, name: 'c' }])).toBe('10.0.0.1*1,10.0.0.2:11311*2,c*1');
  });

  it('keeps the groups of a pool with replicas apart, in the pool order', () => {
    const a = named('a-0', 'a-1');
    const b = named('b-0');
    expect(ringText([a, b])).toBe('a-0*1,a-1*1;b-0*1');
    expect(autoMigrationId('main', [a, b], [a, named('b-0', 'b-1')])).not.toBe(autoMigrationId('main', [a, b], [named('a-0', 'a-1', 'b-1'), b]));
  });

  it('is a valid migration id, a long pool name cut to fit 64 characters', () => {
    const pool = `p${'x'.repeat(80)}`;
    const id = autoMigrationId(pool, OLD, NEW);
    expect(id).toHaveLength(64);
    for (const candidate of [id, autoMigrationId('main', OLD, NEW)]) {
      const config = parseConfig(`listen: ["127.0.0.1:0"]\npools:\n  main:\n    servers: ["10.0.0.2:11211"]\n    migration: {id: ${candidate}, from: ["10.0.0.1:11211"]}\n`);
      expect(config.pools.get('main')?.migration?.id).toBe(candidate);
    }
  });
});
