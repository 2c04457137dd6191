import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../../src/config/index.js';
import { checkReload } from '../../../src/config/reload.js';
import { discoveredConfig, type AutoMove } from '../../../src/discovery/effective.js';
import type { DiscoveredServer } from '../../../src/discovery/resolve.js';

const pod = (i: number): DiscoveredServer => ({ host: `10.0.0.${i}`, port: 11211, address: `10.0.0.${i}:11211`, dnsName: `mc-${i}.mc.test`, name: `mc-${i}.mc.test` });
const pods = (...ids: number[]): DiscoveredServer[] => ids.map(pod);

const file = (pool: Record<string, unknown> = {}) => parseConfig(stringify({ listen: ['127.0.0.1:11211'], pools: { main: { discovery: { dns: 'mc.test', interval: '5s' }, ...pool } } }));
/** What a sidecar runs: the file with the servers DNS gave (and the autopilot's move). */
const running = (f = file(), servers = pods(0, 1, 2), move?: AutoMove) => discoveredConfig(f, new Map([['main', { groups: new Map([['main', servers]]), ...(move === undefined ? {} : { move }) }]]));
const notRunning = { running: () => null };

describe('checkReload of a discovered pool', () => {
  it('applies interval, resolver and autopilot settings', () => {
    const r = checkReload(running(), running(file({ discovery: { dns: 'mc.test', interval: '2s', resolver: '10.0.0.53' }, autopilot: { migrate: 'auto' } })), notRunning);
    expect(r.refused).toEqual([]);
    expect(r.changes).toEqual(['pool main: discovery interval or resolver: its DNS watch starts again', 'pool main: autopilot settings (for the next change of its servers)']);
  });

  it('needs a restart for dns, port or names, and for a pool that starts or stops discovering', () => {
    for (const d of [{ dns: 'other.test' }, { dns: 'mc.test', port: 11311 }, { dns: 'mc.test', names: 'address' }]) {
      expect(checkReload(running(), running(file({ discovery: d })), notRunning).needsRestart).toEqual(['pool main: discovery dns, port or names changed: needs a restart']);
    }
    const listed = parseConfig(stringify({ listen: ['127.0.0.1:11211'], pools: { main: { servers: ['10.0.0.1:11211:1'] } } }));
    expect(checkReload(listed, running(), notRunning).needsRestart).toEqual(['pool main: its servers come from DNS now instead of a list: needs a restart']);
    expect(checkReload(running(), listed, notRunning).needsRestart).toEqual(['pool main: its servers come from a list now instead of DNS: needs a restart']);
  });

  it("applies the autopilot's own changes: its migration block and the servers DNS gives", () => {
    const move: AutoMove = { id: 'auto-main-0badcafe', from: pods(0, 1, 2), to: pods(0, 1, 2, 3), drained: [], startAt: 'now' };
    const r = checkReload(running(), running(file(), pods(0, 1, 2), move), notRunning);
    expect(r.refused).toEqual([]);
    expect(r.changes).toEqual([
      'pool main: autopilot migration "auto-main-0badcafe": mc-0.mc.test:11211:1 mc-0.mc.test, mc-1.mc.test:11211:1 mc-1.mc.test, mc-2.mc.test:11211:1 mc-2.mc.test -> mc-0.mc.test:11211:1 mc-0.mc.test, mc-1.mc.test:11211:1 mc-1.mc.test, mc-2.mc.test:11211:1 mc-2.mc.test, mc-3.mc.test:11211:1 mc-3.mc.test',
    ]);
    // Reloading the same file while it runs changes nothing of it.
    expect(checkReload(running(file(), pods(0, 1, 2), move), running(file({ timeout: 500 }), pods(0, 1, 2), move), { running: () => move.id }).refused).toEqual([]);
  });

  it('refuses a hash or tls change while its migration runs, and a hash change without force', () => {
    expect(checkReload(running(), running(file({ hash: 'md5' })), notRunning).needsForce).toEqual([expect.stringMatching(/^pool main: hash, distribution or hash_tag changed: this would move keys/)]);
    expect(checkReload(running(), running(file({ hash: 'md5' })), { running: () => 'auto-main-0badcafe' }).refused).toEqual([
      'pool main: migration "auto-main-0badcafe" is running; its hash, distribution or hash_tag cannot change until it is done (or aborted)',
    ]);
  });
});
