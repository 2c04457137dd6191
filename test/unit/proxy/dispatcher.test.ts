/**
 * The Dispatcher's order (src/proxy/dispatcher.ts): reserved keys, a route migration's keys, the
 * pool's route, keys spanning pools, the local commands. Plain pools' servers are in memory
 * (memory-backend.ts); replicated and migrating pools are stand-in routes that say they were used.
 */
import { describe, expect, it } from 'vitest';
import type { Backend } from '../../../src/backend/index.js';
import type { Request } from '../../../src/protocol/index.js';
import type { PoolRoute } from '../../../src/proxy/pool-route.js';
import { LocalSlot, type Slot, type SlotOwner } from '../../../src/proxy/reply-slots.js';
import { MemoryClient, memoryBackend, memoryDispatcher, request, shown } from './memory-backend.js';

const CONFIG = `
listen: ["127.0.0.1:11211"]
flush_all: true
pools:
  main: { servers: ["10.0.0.1:11211", "10.0.0.2:11211"] }
  tenant: { servers: ["10.0.1.1:11211"] }
  other: { servers: ["10.0.2.1:11211"] }
default_pool: main
routes:
  - { prefix: "t:", pool: tenant }
  - { prefix: "o:", pool: other }
  - { prefix: "p:", pool: other }
`;

/** A route that answers ROUTED <name> and reads its keys on `reads`. */
class StandIn implements PoolRoute {
  readonly seen: string[] = [];
  constructor(
    readonly name: string,
    readonly reads: Backend,
  ) {}

  dispatch(req: Request, owner: SlotOwner): Slot {
    this.seen.push(req.keys.map((k) => k.toString()).join(' '));
    return new LocalSlot(owner, Buffer.from(`ROUTED ${this.name}\r\n`));
  }

  readOwner(): Backend {
    return this.reads;
  }
}

function setup() {
  const { config, conns, dispatcher: d } = memoryDispatcher(CONFIG);
  const spare = memoryBackend('10.9.9.9:11211');
  conns.set('spare', spare.conn);
  /** What each server was sent, by address, leaving out those sent nothing. */
  const sent = (): Record<string, string> => Object.fromEntries([...conns].map(([a, c]) => [a, c.sent()]).filter(([, s]) => s !== ''));
  /** The address of main's server for `key`. */
  const mainOwner = (key: string): string => config.pools.get('main')!.servers[d.router.ring(0).ownerOf(Buffer.from(key))]!.address;
  return { d, conns, sent, mainOwner, spare: spare.backend, client: new MemoryClient() };
}

/** Two keys of main that live on different servers. */
function splitKeys(mainOwner: (key: string) => string): [string, string] {
  const first = 'k0';
  for (let i = 1; ; i++) if (mainOwner(`k${i}`) !== mainOwner(first)) return [first, `k${i}`];
}

describe('Dispatcher', () => {
  it('refuses a key under __memshift__ before any route, and sends nothing', () => {
    const { d, sent, client } = setup();
    expect(shown(d.dispatch(request('get a __memshift__x\r\n'), client))).toBe('CLIENT_ERROR keys under __memshift__ are reserved\r\n');
    expect(shown(d.dispatch(request('set __memshift__x 0 0 1 noreply\r\nv\r\n'), client))).toBeNull();
    expect(sent()).toEqual({});
  });

  it('plain pools: each key to its server on its pool\'s ring, a get over pools split by server', () => {
    const { d, conns, sent, mainOwner, client } = setup();
    const [a, b] = splitKeys(mainOwner);
    d.dispatch(request(`set ${a} 0 0 1\r\nv\r\n`), client);
    expect(sent()).toEqual({ [mainOwner(a)]: `set ${a} 0 0 1\r\nv\r\n` });
    const slot = d.dispatch(request(`get t:1 ${a} o:1 ${b}\r\n`), client);
    expect(sent()).toEqual({ '10.0.1.1:11211': 'get t:1\r\n', '10.0.2.1:11211': 'get o:1\r\n', [mainOwner(a)]: `get ${a}\r\n`, [mainOwner(b)]: `get ${b}\r\n` });
    conns.get('10.0.2.1:11211')!.answer('VALUE o:1 0 1\r\no\r\nEND\r\n');
    conns.get('10.0.1.1:11211')!.answer('END\r\n');
    conns.get(mainOwner(a))!.ops.shift(); // the set's reply
    conns.get(mainOwner(a))!.answer(`VALUE ${a} 0 1\r\na\r\nEND\r\n`);
    conns.get(mainOwner(b))!.answer('END\r\n');
    expect(shown(slot)).toBe(`VALUE ${a} 0 1\r\na\r\nVALUE o:1 0 1\r\no\r\nEND\r\n`);
  });

  it('a pool with its own route (replicated or migrating) gets every request whose keys are all in it', () => {
    const { d, sent, spare, client } = setup();
    const tenant = new StandIn('tenant', spare);
    d.setRoute(1, tenant);
    expect(d.route(1)).toBe(tenant);
    expect(shown(d.dispatch(request('get t:1 t:2\r\n'), client))).toBe('ROUTED tenant\r\n');
    expect(shown(d.dispatch(request('delete t:1\r\n'), client))).toBe('ROUTED tenant\r\n');
    expect(sent()).toEqual({});
    // Keys in two pools: the plain path, the route's keys read where it says.
    d.dispatch(request('get t:1 o:1 t:2\r\n'), client);
    expect(sent()).toEqual({ spare: 'get t:1 t:2\r\n', '10.0.2.1:11211': 'get o:1\r\n' });
    expect(tenant.seen).toEqual(['t:1 t:2', 't:1']);
  });

  it('a route migration\'s keys go to its route first; keys of its pool outside it, and spanning gets, read where it says', () => {
    const { d, sent, spare, client } = setup();
    const moving = new StandIn('moving o:', spare);
    d.useRouteMigrations([undefined, moving]);
    expect(shown(d.dispatch(request('get o:1 o:2\r\n'), client))).toBe('ROUTED moving o:\r\n');
    expect(shown(d.dispatch(request('incr o:1 1\r\n'), client))).toBe('ROUTED moving o:\r\n');
    expect(sent()).toEqual({});
    // p: is in the same (plain) pool but not in the moving route: each key where its reads go.
    d.dispatch(request('get o:1 p:1\r\n'), client);
    expect(sent()).toEqual({ spare: 'get o:1\r\n', '10.0.2.1:11211': 'get p:1\r\n' });
    d.dispatch(request('set p:1 0 0 1\r\nv\r\n'), client);
    expect(sent()).toEqual({ '10.0.2.1:11211': 'set p:1 0 0 1\r\nv\r\n' });

    // A pool route of the same pool comes after the route migration, and takes a get over both prefixes.
    const other = new StandIn('other', spare);
    d.setRoute(2, other);
    expect(shown(d.dispatch(request('get o:1\r\n'), client))).toBe('ROUTED moving o:\r\n');
    expect(shown(d.dispatch(request('get o:1 p:1\r\n'), client))).toBe('ROUTED other\r\n');
    expect(moving.seen).toEqual(['o:1 o:2', 'o:1', 'o:1']);
  });

  it('answers version, stats and flush_all itself', () => {
    const { d, conns, sent, client } = setup();
    conns.get('10.0.0.1:11211')!.version = '1.6.30';
    expect(shown(d.dispatch(request('version\r\n'), client))).toBe('VERSION 1.6.30\r\n');
    expect(shown(d.dispatch(request('stats\r\n'), client))).toMatch(/^STAT pid \d+\r\n[^]*STAT memshift_pools 3\r\n[^]*END\r\n$/);
    expect(shown(d.dispatch(request('stats reset\r\n'), client))).toBe('RESET\r\n');
    expect(sent()).toEqual({});
    d.migrationRunning = () => true;
    expect(shown(d.dispatch(request('flush_all\r\n'), client))).toBe('SERVER_ERROR flush_all refused while a migration runs\r\n');
    d.migrationRunning = () => false;
    d.dispatch(request('flush_all\r\n'), client);
    expect(Object.values(sent())).toEqual(['flush_all\r\n', 'flush_all\r\n', 'flush_all\r\n', 'flush_all\r\n']);
  });
});
