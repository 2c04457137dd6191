import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { decide, drainMove, movedShareOf } from '../../../src/discovery/autopilot.js';
import { discoveredConfig, type AutoMove } from '../../../src/discovery/effective.js';
import { autoMigrationId } from '../../../src/discovery/migration-id.js';
import { toServerSpec, type DiscoveredServer } from '../../../src/discovery/resolve.js';
import { dialHost, pointName } from '../../../src/backend/dial.js';

const config = (autopilot = '{migrate: auto, min_stable: 1s, max_moved_share: 0.3}') =>
  parseConfig(`listen: ["127.0.0.1:11211"]\npools:\n  main:\n    discovery: {dns: mc.test}\n    autopilot: ${autopilot}\n  other: {servers: ["10.0.9.1:11211"]}\ndefault_pool: main\n`);
const pool = config().pools.get('main')!;
const auto = pool.autopilot!;

/** StatefulSet pods mc-<i>.mc.test at 10.0.0.<i>. */
const pod = (i: number, ip = `10.0.0.${i}`): DiscoveredServer => ({ host: ip, port: 11211, address: `${ip}:11211`, dnsName: `mc-${i}.mc.test`, name: `mc-${i}.mc.test` });
const pods = (...ids: number[]): DiscoveredServer[] => ids.map((i) => pod(i));
const none = (): boolean => false;

describe('decide: what a new stable set of a plain pool starts', () => {
  it('starts a migration from the ring in force to the new set, with the id every sidecar computes', () => {
    const d = decide({ pool, autopilot: auto, inForce: pods(0, 1, 2), seen: pods(0, 1, 2, 3), drained: [], down: none });
    expect(d.type).toBe('migrate');
    if (d.type !== 'migrate') return;
    expect(d.move).toEqual({ id: autoMigrationId('main', pods(0, 1, 2), pods(0, 1, 2, 3)), from: pods(0, 1, 2), to: pods(0, 1, 2, 3), drained: [], startAt: 'now' });
    expect(d.added).toEqual(['mc-3.mc.test']);
    expect(d.removed).toEqual([]);
    expect(d.share).toBeGreaterThan(0.15);
    expect(d.share).toBeLessThan(0.3);
  });

  it('plans it (start: command) with migrate: approve', () => {
    const d = decide({ pool, autopilot: { ...auto, migrate: 'approve' }, inForce: pods(0, 1, 2), seen: pods(0, 1, 2, 3), drained: [], down: none });
    expect(d.type === 'migrate' && d.move.startAt).toBe('command');
  });

  it('moves nothing for the ring in force, new addresses included', () => {
    expect(decide({ pool, autopilot: auto, inForce: pods(0, 1, 2), seen: [pod(0), pod(1, '10.9.9.9'), pod(2)], drained: [], down: none })).toEqual({ type: 'same' });
  });

  it('refuses a change above max_moved_share, naming the share', () => {
    const d = decide({ pool, autopilot: auto, inForce: pods(0, 1), seen: pods(0, 1, 2, 3), drained: [], down: none });
    expect(d.type).toBe('refused');
    if (d.type !== 'refused') return;
    expect(d.reason).toBe('share');
    expect(d.share).toBeCloseTo(movedShareOf(pool, pods(0, 1), pods(0, 1, 2, 3)), 9);
    expect(d.message).toMatch(/^pool main: the change \(adds mc-2\.mc\.test, mc-3\.mc\.test\) would move \d+\.\d% of the keys, above max_moved_share 30\.0%; refused, the ring stays$/);
  });

  it('takes a server that left DNS while down out first, on its own, its keys starting empty (no copy exists)', () => {
    const down = (id: string): boolean => id === 'mc-2.mc.test';
    const d = decide({ pool, autopilot: { ...auto, maxMovedShare: 0.05 }, inForce: pods(0, 1, 2), seen: pods(0, 1, 3), drained: [], down });
    expect(d.type).toBe('migrate');
    if (d.type !== 'migrate') return;
    // Whatever max_moved_share says (its keys fail already), and before the pod added.
    expect(d.move).toEqual({ id: autoMigrationId('main', pods(0, 1, 2), pods(0, 1), 'gone:mc-2.mc.test'), from: pods(0, 1, 2), to: pods(0, 1), drained: [], gone: ['mc-2.mc.test'], startAt: 'now' });
    expect(d.move.id).not.toBe(autoMigrationId('main', pods(0, 1, 2), pods(0, 1)));
    expect([d.removed, d.added, d.more]).toEqual([['mc-2.mc.test'], [], true]);
    // Its removal alone is the whole change: nothing more waits.
    const only = decide({ pool, autopilot: auto, inForce: pods(0, 1, 2), seen: pods(0, 1), drained: [], down });
    expect(only.type === 'migrate' && [only.move.gone, only.more]).toEqual([['mc-2.mc.test'], false]);
    // Up, it is drained by a copy like any other.
    const up = decide({ pool, autopilot: auto, inForce: pods(0, 1, 2), seen: pods(0, 1), drained: [], down: none });
    expect(up.type === 'migrate' && [up.move.gone, up.more]).toEqual([undefined, false]);
  });

  it('keeps drained servers out while DNS lists them, and forgets them once it does not', () => {
    expect(decide({ pool, autopilot: auto, inForce: pods(0, 1), seen: pods(0, 1, 2), drained: ['mc-2.mc.test'], down: none })).toEqual({ type: 'same' });
    const grown = decide({ pool, autopilot: auto, inForce: pods(0, 1, 2), seen: pods(0, 1, 2, 3), drained: ['mc-3.mc.test', 'mc-9.mc.test'], down: none });
    expect(grown).toEqual({ type: 'same' });
    const d = decide({ pool, autopilot: auto, inForce: pods(0, 1, 4), seen: pods(0, 1, 3, 4), drained: ['mc-2.mc.test'], down: none });
    expect(d.type === 'migrate' && d.move.drained).toEqual([]);
    expect(decide({ pool, autopilot: auto, inForce: pods(0), seen: pods(0), drained: ['mc-0.mc.test'], down: none }).type).toBe('refused');
  });
});

describe('drainMove: memshift migrate drain HOST', () => {
  it('takes one server out of the ring in force by its ring name, DNS name, address or IP, and remembers it drained', () => {
    for (const host of ['mc-1.mc.test', 'MC-1.mc.test.', '10.0.0.1:11211', '10.0.0.1']) {
      const { move, server, share } = drainMove(pool, pods(0, 1, 2), [], host);
      expect(server).toBe('mc-1.mc.test');
      expect(move).toEqual({ id: autoMigrationId('main', pods(0, 1, 2), pods(0, 2)), from: pods(0, 1, 2), to: pods(0, 2), drained: ['mc-1.mc.test'], startAt: 'now' });
      expect(share).toBeGreaterThan(0.2);
    }
  });

  it('refuses a host it does not know, and the last server', () => {
    expect(() => drainMove(pool, pods(0, 1), [], 'mc-7')).toThrow('pool main has no server mc-7 in its ring (mc-0.mc.test, mc-1.mc.test)');
    expect(() => drainMove(pool, pods(0), [], 'mc-0.mc.test')).toThrow('mc-0.mc.test is the last server of pool main: it cannot be drained');
  });
});

describe('discoveredConfig: the config a sidecar runs', () => {
  it('fills a discovered pool with its servers by DNS name, and leaves the others as they are', () => {
    const c = config();
    const run = discoveredConfig(c, new Map([['main', { groups: new Map([['main', pods(0, 1)]]) }]]));
    const main = run.pools.get('main')!;
    expect(main.servers.map((s) => [s.host, s.address, s.name])).toEqual([
      ['mc-0.mc.test', 'mc-0.mc.test:11211', 'mc-0.mc.test'],
      ['mc-1.mc.test', 'mc-1.mc.test:11211', 'mc-1.mc.test'],
    ]);
    expect(main.groups[0]!.servers).toEqual(main.servers);
    expect(main.groups[0]!.discovery).toEqual(c.pools.get('main')!.groups[0]!.discovery);
    expect(main.migration).toBeUndefined();
    expect(run.pools.get('other')).toBe(c.pools.get('other'));
    expect(Object.isFrozen(main)).toBe(true);
  });

  it('gives a pool with a move its target and the migration block, with the rings in it', () => {
    const move: AutoMove = { id: 'auto-main-1234abcd', from: pods(0, 1), to: pods(0, 1, 2), drained: [], startAt: 'command' };
    const main = discoveredConfig(config(), new Map([['main', { groups: new Map([['main', pods(0, 1)]]), move }]])).pools.get('main')!;
    expect(main.servers.map((s) => s.name)).toEqual(['mc-0.mc.test', 'mc-1.mc.test', 'mc-2.mc.test']);
    expect(main.migration).toEqual({
      id: 'auto-main-1234abcd',
      from: [{ name: 'main', servers: pods(0, 1).map((s) => toServerSpec(s, pool)) }],
      copy: 'eager',
      rateKeysPerSec: 20_000,
      startAt: 'command',
      settleMs: 1_000,
      cleanup: true,
      discovered: { from: pods(0, 1), to: pods(0, 1, 2), drained: [] },
    });
  });

  it('names a server by its address with names: address', () => {
    const s = toServerSpec({ host: '10.0.0.5', port: 11311, address: '10.0.0.5:11311', dnsName: 'mc-5.mc.test' }, pool);
    expect([s.host, s.address, s.name, s.raw]).toEqual(['10.0.0.5', '10.0.0.5:11311', undefined, '10.0.0.5:11311:1']);
  });
});

describe('dialHost: where a connect to a discovered DNS name goes', () => {
  it('is the address the name points at, else the host itself', () => {
    expect(dialHost('mc-8.mc.test')).toBe('mc-8.mc.test');
    pointName('mc-8.mc.test', '10.0.0.8');
    expect(dialHost('mc-8.mc.test')).toBe('10.0.0.8');
    pointName('mc-8.mc.test', undefined);
    expect(dialHost('mc-8.mc.test')).toBe('mc-8.mc.test');
  });
});
