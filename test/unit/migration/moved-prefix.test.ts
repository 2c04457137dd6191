/**
 * MovedPrefix (a route migration's "what moves") against the route table and both pools' rings:
 * a key moves exactly when the route table gives it to the migrating route (longest prefix first),
 * and its owners are what each pool's ring says, however differently the two pools hash.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { MovedPrefix } from '../../../src/migration/moved-keys.js';
import { Router } from '../../../src/routing/index.js';

const config = parseConfig(`listen: ["127.0.0.1:0"]
pools:
  main: {servers: ["10.0.0.1:11211", "10.0.0.2:11211", "10.0.0.3:11211"]}
  tenant: {servers: ["10.0.1.1:11211", "10.0.1.2:11211"], hash: md5, distribution: modula}
  other: {servers: ["10.0.2.1:11211"]}
default_pool: main
routes:
  - {prefix: "t:", pool: tenant, migration: {id: move-t, from_pool: main}}
  - {prefix: "t:x:", pool: other}
`);
const router = new Router(config);
const [main, tenant] = [router.poolId('main')!, router.poolId('tenant')!];
const keys = new MovedPrefix(router.routes, 0, router.ring(main), router.pools[main]!.servers, router.ring(tenant), router.pools[tenant]!.servers);

describe('MovedPrefix', () => {
  it('moves the keys the route takes, and no other', () => {
    for (const k of ['t:1', 't:abc', 't:', 't:xy']) expect(keys.moved(keys.locate(Buffer.from(k))), k).toBe(true);
    // A longer route takes t:x:…; other keys go to the default pool.
    for (const k of ['t:x:1', 'u:1', 't', 'x', '']) expect(keys.moved(keys.locate(Buffer.from(k))), k).toBe(false);
  });

  it("gives each pool's ring's owner for a moved key", () => {
    const owners = new Set<string>();
    for (let i = 0; i < 2_000; i++) {
      const key = Buffer.from(`t:${i}`);
      const at = keys.locate(key);
      expect(keys.oldOwner(at)).toBe(router.ring(main).ownerOf(key));
      expect(keys.newOwner(at)).toBe(router.ring(tenant).ownerOf(key));
      expect(keys.oldOwnerOf(key)).toBe(keys.oldOwner(at));
      expect(keys.newOwnerOf(key)).toBe(keys.newOwner(at));
      owners.add(`${keys.oldOwner(at)}->${keys.newOwner(at)}`);
    }
    // Every pair of owners occurs (3 x 2).
    expect(owners.size).toBe(6);
  });

  it('movesAny looks at every key of a multi-key get', () => {
    const req = (...k: string[]) => ({ keys: k.map((x) => Buffer.from(x)), hashKey: null });
    expect(keys.movesAny(req('u:1', 't:2'))).toBe(true);
    expect(keys.movesAny(req('u:1', 't:x:2'))).toBe(false);
    expect(keys.movesAny({ keys: [Buffer.from('ignored')], hashKey: Buffer.from('t:1') })).toBe(true);
  });

  it('every server of the old pool may lose keys, every server of the new pool may gain some', () => {
    const { losing, gaining } = keys.movingServers();
    expect(losing.map((s) => s.address)).toEqual(['10.0.0.1:11211', '10.0.0.2:11211', '10.0.0.3:11211']);
    expect(gaining.map((s) => s.address)).toEqual(['10.0.1.1:11211', '10.0.1.2:11211']);
    expect(keys.movedShare).toBe(1);
  });
});
