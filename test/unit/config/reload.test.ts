import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';
import { checkReload } from '../../../src/config/reload.js';

const A = '10.0.0.1:11211:1';
const B = '10.0.0.2:11211:1';
const C = '10.0.0.3:11211:1';

const config = (pool: Record<string, unknown> = { servers: [A, B] }, top: Record<string, unknown> = {}) =>
  parseConfig(stringify({ listen: ['127.0.0.1:11211'], pools: { main: pool }, ...top }));
const notRunning = { running: () => null };

describe('checkReload', () => {
  it('applies limits, flush_all and timeouts', () => {
    const r = checkReload(config(), config({ servers: [A, B], timeout: 500 }, { flush_all: false, limits: { max_connections: 10 } }), notRunning);
    expect(r.refused).toEqual([]);
    expect(r.changes).toEqual(['limits (for new client connections)', 'flush_all: false', 'pool main: timeout 500 ms']);
  });

  it('needs a restart for server_connections (the kept backends keep their connections)', () => {
    expect(checkReload(config(), config({ servers: [A, B], server_connections: 2 }), notRunning).refused).toEqual(['pool main: server_connections changed: needs a restart']);
  });

  it('needs a restart for workers (the processes are forked at start)', () => {
    const r = checkReload(config(), config(undefined, { workers: 2 }), notRunning);
    expect(r.refused).toEqual(['workers changed (1 to 2): needs a restart']);
    expect(r.needsRestart).toEqual(r.refused);
  });

  it('refuses a server list, a weight or a hash change without a migration, and says to write one', () => {
    for (const next of [config({ servers: [A, B, C] }), config({ servers: [A, '10.0.0.2:11211:2'] }), config({ servers: [A, B], hash: 'md5' })]) {
      const r = checkReload(config(), next, notRunning);
      expect(r.refused).toHaveLength(1);
      expect(r.refused[0]).toMatch(/^pool main: .*this would move keys without a migration\. Write a migration/);
    }
  });

  it('accepts key-moving changes with force, saying so', () => {
    const r = checkReload(config(), config({ servers: [A, B, C] }), { ...notRunning, force: true });
    expect(r.refused).toEqual([]);
    expect(r.changes[0]).toContain('forced');
  });

  it('accepts a new server list that comes with a migration from the current one', () => {
    const r = checkReload(config(), config({ servers: [A, B, C], migration: { id: 'grow', from: [A, B] } }), notRunning);
    expect(r.refused).toEqual([]);
    expect(r.changes).toContain(`pool main: migration "grow" starts: ${A}, ${B} -> ${A}, ${B}, ${C}`);
  });

  it('refuses a migration whose from is not the current server list', () => {
    const r = checkReload(config(), config({ servers: [A, C], migration: { id: 'x', from: [A, '10.0.0.9:11211:1'] } }), notRunning);
    expect(r.refused[0]).toContain('must be the servers the pool is served by now');
  });

  it('refuses a hash change even with a migration', () => {
    const r = checkReload(config(), config({ servers: [A, B, C], hash: 'md5', migration: { id: 'grow', from: [A, B] } }), notRunning);
    expect(r.refused.join()).toContain('hash, distribution or hash_tag changed');
  });

  it('refuses to change or drop the block of a running migration', () => {
    const running = config({ servers: [A, B, C], migration: { id: 'grow', from: [A, B] } });
    const r = checkReload(running, config({ servers: [A, B, C] }), { running: () => 'grow' });
    expect(r.refused).toEqual(['pool main: migration "grow" is running; its block cannot change until it is done (or aborted)']);
    // Once it is done the block may go (the pool is served by its servers already) ...
    expect(checkReload(running, config({ servers: [A, B, C] }), { ...notRunning, phase: () => 'done' }).refused).toEqual([]);
    // ... but not before: the pool is still served by `from`, and the keys would move.
    for (const phase of ['planned', 'aborted']) {
      expect(checkReload(running, config({ servers: [A, B, C] }), { ...notRunning, phase: () => phase }).refused[0]).toContain('removed before its migration is done');
    }
    // After a rollback, putting `from` back as the servers and dropping the block moves nothing.
    expect(checkReload(running, config({ servers: [A, B] }), { ...notRunning, phase: () => 'aborted' }).refused).toEqual([]);
  });

  it("applies listeners added and removed; a listener's tls or mode changed needs a restart", () => {
    const listen = (entries: unknown[]) => config(undefined, { listen: entries });
    const moved = checkReload(config(), listen(['127.0.0.1:11212']), notRunning);
    expect(moved).toEqual({ refused: [], needsForce: [], needsRestart: [], changes: ['listen: opens 127.0.0.1:11212', 'listen: closes 127.0.0.1:11211 (its clients stay connected)'] });
    // The same listener written another way, or listed in another order, is no change.
    expect(checkReload(listen(['127.0.0.1:11211', 'unix:/tmp/m.sock']), listen([{ path: '/tmp/m.sock' }, { host: '127.0.0.1', port: 11211 }]), notRunning)).toEqual({ refused: [], needsForce: [], needsRestart: [], changes: [] });
    // Port 0: the nth such entry of a host stays the nth.
    expect(checkReload(listen(['127.0.0.1:0']), listen(['127.0.0.1:0', '127.0.0.1:0']), notRunning).changes).toEqual(['listen: opens 127.0.0.1:0']);
    const mode = checkReload(listen([{ path: '/tmp/m.sock', mode: '0660' }]), listen([{ path: '/tmp/m.sock', mode: '0600' }]), notRunning);
    expect(mode.refused).toEqual(['listen unix:/tmp/m.sock: its mode changed: needs a restart']);
    expect(mode.needsRestart).toEqual(mode.refused);
  });

  it('needs a restart for replica groups', () => {
    const groups = (write: string) => config({ replicas: [{ name: 'a', servers: [A] }, { name: 'b', servers: [B] }], write });
    expect(checkReload(groups('all'), groups('one'), notRunning).refused).toEqual(['pool main: replica groups or their settings changed: needs a restart']);
  });

  it('refuses a new migration whose from is not what the pool is served by (a migration not done yet)', () => {
    const planned = config({ servers: [A, B, C], migration: { id: 'grow', from: [A, B] } });
    const next = config({ servers: [A, C], migration: { id: 'other', from: [A, B, C] } });
    expect(checkReload(planned, next, { ...notRunning, phase: () => 'planned' }).refused[0]).toContain('must be the servers the pool is served by now');
    expect(checkReload(planned, next, { ...notRunning, phase: () => 'done' }).refused).toEqual([]);
  });

  it('refuses a migration on a pool a failover moved, and failover settings changes', () => {
    const r = checkReload(config(), config({ servers: [A, B, C], migration: { id: 'grow', from: [A, B] } }), { ...notRunning, failedOver: () => true });
    expect(r.refused[0]).toContain('a failover moved its keys');
    expect(checkReload(config(), config({ servers: [A, B], failover_after: '5s' }), notRunning).refused).toEqual(['pool main: failover_after or failover_settle changed: needs a restart']);
  });

  it('refuses a route change that would move keys between pools', () => {
    const pools = { main: { servers: [A, B] }, s: { servers: [C] } };
    const before = parseConfig(stringify({ listen: ['127.0.0.1:11211'], pools, default_pool: 'main' }));
    const after = parseConfig(stringify({ listen: ['127.0.0.1:11211'], pools, default_pool: 'main', routes: [{ prefix: 's:', pool: 's' }] }));
    const r = checkReload(before, after, notRunning);
    expect(r.refused).toEqual(['keys under "s:" move from pool main to pool s: this would move keys without a migration. reload with force to move them cold (they start empty on their new pool)']);
    expect(r.needsForce).toEqual(r.refused);
    const forced = checkReload(before, after, { ...notRunning, force: true });
    expect(forced.refused).toEqual([]);
    expect(forced.changes).toEqual(['keys under "s:" move from pool main to pool s (forced: keys are remapped without a migration)']);
  });
});

describe('checkReload: pools and routes', () => {
  const cfg = (pools: Record<string, unknown>, top: Record<string, unknown> = {}) =>
    parseConfig(stringify({ listen: ['127.0.0.1:11211'], pools, ...(Object.keys(pools).length > 1 ? { default_pool: 'main' } : {}), ...top }));
  const main = { servers: [A, B] };

  it('applies a pool added (no route to it) and one removed that nothing routes to', () => {
    const added = checkReload(cfg({ main }), cfg({ main, extra: { servers: [C] } }), notRunning);
    expect(added).toEqual({ refused: [], needsForce: [], needsRestart: [], changes: [`pool extra added: ${C}`] });
    const removed = checkReload(cfg({ main, extra: { servers: [C] } }), cfg({ main }), notRunning);
    expect(removed).toEqual({ refused: [], needsForce: [], needsRestart: [], changes: ['pool extra removed: its connections close'] });
  });

  it('describes a pool added with replica groups, and refuses a new pool with a migration block', () => {
    const groups = { replicas: [{ name: 'a', servers: [B] }, { name: 'b', servers: [C] }] };
    expect(checkReload(cfg({ main }), cfg({ main, rep: groups }), notRunning).changes).toEqual([`pool rep added: a [${B}]; b [${C}]`]);
    const r = checkReload(cfg({ main }), cfg({ main, grown: { servers: [C], migration: { id: 'm', from: [B] } } }), notRunning);
    expect(r.refused[0]).toContain('pool grown is new: it cannot start with a migration block');
  });

  it('takes reordered pools and routes as no change', () => {
    const routes = [{ prefix: 'a:', pool: 'main' }, { prefix: 'b:', pool: 'other' }];
    const before = cfg({ main, other: { servers: [C] } }, { routes });
    const after = cfg({ other: { servers: [C] }, main }, { routes: [...routes].reverse() });
    expect(checkReload(before, after, notRunning)).toEqual({ refused: [], needsForce: [], needsRestart: [], changes: [] });
  });

  it('applies route edits that move no key', () => {
    const before = cfg({ main, other: { servers: [C] } });
    const after = cfg({ main, other: { servers: [C] } }, { routes: [{ prefix: 'm:', pool: 'main' }] });
    expect(checkReload(before, after, notRunning).changes).toEqual(['routes or default_pool changed; no key changes pool']);
  });

  it('needs force for a default_pool change and for removing a pool a route uses', () => {
    const two = (top: Record<string, unknown>) => cfg({ main, other: { servers: [C] } }, top);
    const r = checkReload(two({}), two({ default_pool: 'other' }), notRunning);
    expect(r.needsForce).toEqual([expect.stringContaining('keys no route matches (default_pool) move from pool main to pool other') as string]);
    const gone = checkReload(two({ routes: [{ prefix: 'o:', pool: 'other' }] }), cfg({ main }), notRunning);
    expect(gone.needsForce).toEqual([expect.stringContaining('keys under "o:" move from pool other to pool main') as string]);
    expect(gone.refused).toEqual(gone.needsForce);
    const forced = checkReload(two({ routes: [{ prefix: 'o:', pool: 'other' }] }), cfg({ main }), { ...notRunning, force: true });
    expect(forced.changes).toEqual(['pool other removed: its connections close', 'keys under "o:" move from pool other to pool main (forced: keys are remapped without a migration)']);
  });

  it('refuses to remove a pool whose migration runs', () => {
    const r = checkReload(cfg({ main, other: { servers: [C] } }), cfg({ main }), { running: (p) => (p === 'other' ? 'grow' : null) });
    expect(r.refused).toEqual(['pool other: migration "grow" is running; the pool cannot be removed until it is done (or aborted)']);
  });
});

describe('checkReload: tls, auth and hashing under what a reload keeps', () => {
  // The config reads the password file.
  const pw = join(mkdtempSync(join(tmpdir(), 'reload-unit-')), 'pw');
  writeFileSync(pw, 'x\n');
  const auth = (username: string) => ({ username, password_file: pw });
  const tls = (serverName: string) => ({ server_name: serverName });
  const groups = (extra: Record<string, unknown> = {}) => config({ replicas: [{ name: 'a', servers: [A] }, { name: 'b', servers: [B] }], ...extra });

  it('applies a tls or auth change of a plain pool, and lists it', () => {
    const r = checkReload(config({ servers: [A, B], auth: auth('app') }), config({ servers: [A, B], auth: auth('ops'), tls: tls('cache.internal') }), notRunning);
    expect(r).toEqual({ refused: [], needsForce: [], needsRestart: [], changes: ['pool main: tls and auth changed: new connections to its servers (the old ones close once idle)'] });
  });

  it('needs a restart for tls, auth or hashing of a pool with replica groups (they keep their connections and rings)', () => {
    expect(checkReload(groups({ auth: auth('app') }), groups({ auth: auth('ops') }), notRunning).needsRestart).toEqual([
      'pool main: auth changed; its replica groups keep the connections and rings they started with: needs a restart',
    ]);
    const forced = checkReload(groups(), groups({ hash: 'md5' }), { ...notRunning, force: true });
    expect(forced.needsRestart).toEqual(['pool main: hash, distribution or hash_tag changed; its replica groups keep the connections and rings they started with: needs a restart']);
    expect(forced.changes).toEqual([]);
    // Their timeouts still apply.
    expect(checkReload(groups(), groups({ timeout: 700 }), notRunning)).toMatchObject({ refused: [], changes: ['pool main: timeout 700 ms'] });
  });

  it('needs a restart for the servers, tls, auth or hashing of a pool with failover_after, even with force', () => {
    const fo = (extra: Record<string, unknown>) => config({ servers: [A, B], failover_after: '5s', ...extra });
    expect(checkReload(fo({}), fo({ servers: [A, B, C] }), { ...notRunning, force: true }).needsRestart).toEqual([
      'pool main: servers, weights or node names changed; its failover watch (failover_after) keeps the connections and ring it started with: needs a restart',
    ]);
    expect(checkReload(fo({}), fo({ tls: tls('cache.internal') }), notRunning).needsRestart[0]).toMatch(/^pool main: tls changed; its failover watch/);
    expect(checkReload(fo({}), fo({ timeout: 700 }), notRunning).refused).toEqual([]);
  });

  it('refuses a forced server, hash, tls or auth change while the pool\'s migration runs, its block unchanged (it moves keys between the servers it started with)', () => {
    const block = { id: 'grow', from: [A, B] };
    const running = { running: () => 'grow', phase: () => 'copy', force: true };
    const now = config({ servers: [A, B, C], migration: block });
    const cases: [Record<string, unknown>, string][] = [
      [{ servers: [A, B, '10.0.0.4:11211:1'], migration: block }, 'servers, weights or node names'],
      [{ servers: [A, B, C], hash: 'md5', migration: block }, 'hash, distribution or hash_tag'],
      [{ servers: [A, B, C], auth: auth('ops'), migration: block }, 'auth'],
    ];
    for (const [next, what] of cases) {
      const r = checkReload(now, config(next), running);
      expect(r.refused).toEqual([`pool main: migration "grow" is running; its ${what} cannot change until it is done (or aborted)`]);
      expect(r.needsForce).toEqual([]);
    }
    // A timeout is no such change.
    expect(checkReload(now, config({ servers: [A, B, C], timeout: 700, migration: block }), running).refused).toEqual([]);
    // Once it is done the forced change applies (the migration is built again on the new ring).
    expect(checkReload(now, config(cases[0]![0]), { ...notRunning, phase: () => 'done', force: true }).refused).toEqual([]);
  });

  it('an auth change of a pool whose migration is done is the pool\'s, not a new migration block', () => {
    const before = config({ servers: [A, B, C], auth: auth('app'), migration: { id: 'grow', from: [A, B] } });
    const after = config({ servers: [A, B, C], auth: auth('ops'), migration: { id: 'grow', from: [A, B] } });
    expect(checkReload(before, after, { ...notRunning, phase: () => 'done' })).toMatchObject({
      refused: [],
      changes: ['pool main: auth changed: new connections to its servers (the old ones close once idle)'],
    });
    // Not yet started: it applies too, and no migration "starts".
    expect(checkReload(before, after, { ...notRunning, phase: () => 'planned' }).changes).toEqual(['pool main: auth changed: new connections to its servers (the old ones close once idle)']);
    expect(checkReload(before, after, { running: () => 'grow', phase: () => 'copy' }).refused).toEqual(['pool main: migration "grow" is running; its auth cannot change until it is done (or aborted)']);
  });
});
