/**
 * A route's `migration:` block: what the schema accepts and refuses (config/route-migration.ts),
 * and what a reload may do with it (config/route-migration-reload.ts).
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';
import { checkReload } from '../../../src/config/reload.js';
import { problems } from './problems.js';

const pools = {
  main: { servers: ['10.0.0.1:11211', '10.0.0.2:11211'] },
  tenant: { servers: ['10.0.1.1:11211'] },
};
const yaml = (routes: unknown[], p: Record<string, unknown> = pools): string => stringify({ listen: ['127.0.0.1:11211'], pools: p, default_pool: 'main', routes });
const moving = (extra: Record<string, unknown> = {}) => ({ prefix: 't:', pool: 'tenant', migration: { id: 'move-t', from_pool: 'main', ...extra } });

describe('a route migration block', () => {
  it('takes the fields of a pool migration, with from_pool instead of from', () => {
    const c = parseConfig(yaml([moving({ rate: 5000, settle: '2s', copy: 'lazy', cleanup: false, start: '2030-01-01T00:00:00Z' })]));
    expect(c.routes[0]).toEqual({
      prefix: 't:',
      pool: 'tenant',
      migration: { id: 'move-t', fromPool: 'main', copy: 'lazy', rateKeysPerSec: 5000, startAt: Date.parse('2030-01-01T00:00:00Z'), settleMs: 2000, cleanup: false },
    });
  });

  it('refuses what cannot move, at the field to fix', () => {
    const at = (routes: unknown[], p?: Record<string, unknown>): string[] => problems(yaml(routes, p), 'm.yml').map((l) => l.replace(/^m\.yml:\d+:\d+ /, ''));
    expect(at([{ prefix: 't:', pool: 'tenant', migration: { id: 'x', from_pool: 'nope' } }])).toEqual(['routes[0].migration.from_pool: unknown pool "nope"; pools are "main", "tenant"']);
    expect(at([{ prefix: 't:', pool: 'tenant', migration: { id: 'x', from_pool: 'tenant' } }])).toEqual(['routes[0].migration.from_pool: from_pool is the route\'s own pool "tenant": nothing would move']);
    expect(at([{ prefix: 't:', pool: 'tenant', migration: { id: 'x', from: 'main' } }])).toEqual([
      'routes[0].migration.from_pool: required setting is missing',
      'routes[0].migration.from: unknown key "from"; expected one of "id", "copy", "rate", "rate_bytes", "start", "settle", "cleanup", "from_pool"',
    ]);
    expect(at([moving()], { ...pools, tenant: { replicas: [{ name: 'a', servers: ['10.0.1.1:11211'] }] } })).toEqual([
      'routes[0].migration.from_pool: pool tenant has replicas: a route migration moves keys between pools with plain servers',
    ]);
    expect(at([moving()], { ...pools, main: { ...pools.main, failover_after: '5s' } })).toEqual([
      'routes[0].migration.from_pool: pool main has failover_after: a failover would change its ring under the route migration; leave it out while the route moves',
    ]);
    expect(at([moving()], { ...pools, main: { ...pools.main, migration: { id: 'grow', from: ['10.0.0.1:11211'] } } })).toEqual([
      'routes[0].migration.from_pool: pool main has a migration block of its own: a pool takes part in one migration at a time; finish that one first',
    ]);
    expect(at([moving()], { ...pools, tenant: { servers: ['10.0.0.2:11211'] } })).toEqual([
      'routes[0].migration.from_pool: pools main and tenant share 10.0.0.2:11211: a route migration moves keys between pools with different servers',
    ]);
    expect(at([moving(), { prefix: 'u:', pool: 'tenant', migration: { id: 'move-t', from_pool: 'main' } }])).toEqual([
      'routes[1].migration.id: migration id "move-t" is also the id of routes[0]\'s migration; ids must be unique',
    ]);
    expect(at([{ ...moving(), prefix: 'p'.repeat(151) }])).toEqual(["routes[0].prefix: a migrating route's prefix is at most 150 bytes (it names the migration's record)"]);
  });
});

describe('reloading a route migration', () => {
  const before = parseConfig(yaml([{ prefix: 't:', pool: 'main' }]));
  const during = parseConfig(yaml([moving()]));
  const after = parseConfig(yaml([{ prefix: 't:', pool: 'tenant' }]));
  const ctx = (phase: string | null, running: string | null = null) => ({ running: () => null, routeRunning: () => running, routePhase: () => phase });
  const outcome = (r: ReturnType<typeof checkReload>) => ({ refused: r.refused, changes: r.changes });

  it('a route pointed at a new pool with a block from the pool serving it now starts the migration', () => {
    expect(outcome(checkReload(before, during, ctx(null)))).toEqual({ refused: [], changes: ['keys under "t:" move from pool main to pool tenant: route migration "move-t" starts'] });
    // Into a pool the same reload adds, from the default pool.
    const small = parseConfig(yaml([], { main: pools.main }));
    expect(outcome(checkReload(small, during, ctx(null)))).toEqual({
      refused: [],
      changes: ['pool tenant added: 10.0.1.1:11211:1', 'keys under "t:" move from pool main to pool tenant: route migration "move-t" starts'],
    });
  });

  it('an unchanged block goes on: nothing to say', () => {
    expect(outcome(checkReload(during, parseConfig(`${yaml([moving()])}flush_all: false\n`), ctx('copy', 'move-t')))).toEqual({ refused: [], changes: ['flush_all: false'] });
  });

  it('removing the block once done is a no-op for where keys live', () => {
    expect(outcome(checkReload(during, after, ctx('done')))).toEqual({ refused: [], changes: ['route "t:": migration block removed (its keys are on pool tenant)'] });
  });

  it('refuses a change of the block or of the routes while it runs', () => {
    expect(checkReload(during, after, ctx('copy', 'move-t')).refused).toContain('route "t:": migration "move-t" is running; its route and block cannot change until it is done (or aborted)');
    const more = parseConfig(yaml([moving(), { prefix: 't:x:', pool: 'main' }]));
    expect(checkReload(during, more, ctx('copy', 'move-t')).refused).toEqual([
      'routes changed while route migration "move-t" runs: they decide which keys it moves; change them once it is done (or aborted)',
    ]);
  });

  it('refuses a change of the servers, hashing, tls or auth of either of its pools while it runs; a timeout applies', () => {
    const withTenant = (tenant: Record<string, unknown>) => parseConfig(yaml([moving()], { ...pools, tenant: { ...pools.tenant, ...tenant } }));
    const forced = { ...ctx('copy', 'move-t'), force: true };
    expect(checkReload(during, withTenant({ servers: ['10.0.1.2:11211'] }), forced).refused).toContain(
      'route "t:": migration "move-t" is running; pool tenant\'s servers cannot change until it is done (or aborted)',
    );
    expect(checkReload(during, withTenant({ tls: { server_name: 'cache.internal' } }), forced).refused).toEqual([
      'route "t:": migration "move-t" is running; pool tenant\'s tls cannot change until it is done (or aborted)',
    ]);
    expect(outcome(checkReload(during, withTenant({ timeout: 2000 }), ctx('copy', 'move-t')))).toEqual({ refused: [], changes: ['pool tenant: timeout 2000 ms'] });
  });

  it('removing the block before done, or after an abort, moves keys cold (needs force); pointing the route back after an abort does not', () => {
    for (const phase of ['aborted', 'planned']) {
      const r = checkReload(during, after, ctx(phase));
      expect(r.needsForce).toEqual([expect.stringMatching(/^keys under "t:" move from pool main to pool tenant: this would move keys without a migration/)]);
    }
    expect(outcome(checkReload(during, before, ctx('aborted')))).toEqual({ refused: [], changes: ['route "t:": migration block removed (its keys are on pool main)'] });
  });

  it('a block whose from_pool is not where the keys are is refused', () => {
    const back = parseConfig(yaml([{ prefix: 't:', pool: 'tenant', migration: { id: 'again', from_pool: 'main' } }]));
    expect(checkReload(after, back, ctx(null)).refused).toEqual(['route "t:": the migration\'s from_pool (main) must be the pool its keys are served by now (tenant)']);
  });

  it('pointing a route at another pool without a block still needs force', () => {
    expect(checkReload(before, after, ctx(null)).needsForce).toEqual([expect.stringMatching(/^keys under "t:" move from pool main to pool tenant: this would move keys/)]);
  });
});
