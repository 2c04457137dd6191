/**
 * Failovers one after another in one pool (failover.ts, space.ts): each record lists the servers
 * earlier failovers took out, and the rings every sidecar builds from it are the config's less
 * those. Joining the next failover moves no key by itself (its `old` mode is the previous one's
 * `new`), the servers out stay out in every group, and the copy reads only servers in a ring.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { Backend, type BackendState } from '../../../src/backend/index.js';
import { parseConfig } from '../../../src/config/load.js';
import type { PoolConfig, ServerSpec } from '../../../src/config/types.js';
import { failoverId, outAfter } from '../../../src/migration/failover.js';
import { failoverSpace, serversBefore, type FailoverSpec } from '../../../src/migration/space.js';
import type { MigrationRecord } from '../../../src/migration/record.js';
import { ReplicaGroups } from '../../../src/replication/replica-groups.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import { Router, createRing } from '../../../src/routing/index.js';

/** A server whose health the test sets (routing only looks at its address and state). */
class Server extends Backend {
  health: BackendState = 'up';
  constructor(address: string) {
    super(address, []);
  }
  override get state(): BackendState {
    return this.health;
  }
}

const A = ['127.0.0.1:21001', '127.0.0.1:21002', '127.0.0.1:21003'];
const B = ['127.0.0.1:22001', '127.0.0.1:22002', '127.0.0.1:22003'];

function setup() {
  const config = parseConfig(
    stringify({
      listen: ['127.0.0.1:11211'],
      pools: { main: { hash: 'fnv1a_64', distribution: 'ketama', replicas: [{ name: 'a', servers: A.map((s) => `${s}:1`) }, { name: 'b', servers: B.map((s) => `${s}:1`) }], failover_after: '5s' } },
    }),
  );
  const router = new Router(config);
  const pool = router.pools[0]!;
  const backends = pool.groups.map((g) => g.servers.map((s) => new Server(s.address)));
  const groups = new ReplicaGroups(0, pool, router, backends, new ProxyStats(), () => undefined);
  return { pool, groups, backends };
}

const keys = Array.from({ length: 2_000 }, (_, i) => (i % 2 === 0 ? Buffer.from(`k:${i}`) : randomBytes(1 + (i % 30))));

/** The owner of every key on the ring of `servers` (the pool's hash settings). */
function ringOwners(pool: PoolConfig, servers: readonly ServerSpec[]): string[] {
  const ring = createRing({ ...pool, servers });
  return keys.map((k) => servers[ring.ownerOf(k)]!.address);
}

const owners = (groups: ReplicaGroups, g: number): string[] => keys.map((k) => groups.ownerIn(g, k).address);
const specsOf = (pool: PoolConfig, g: number, addresses: readonly string[]): ServerSpec[] => pool.groups[g]!.servers.filter((s) => addresses.includes(s.address));

describe('failovers one after another', () => {
  it('the second failover of a group starts from the first one\'s ring, and the third (another group) keeps both out', () => {
    const { pool, groups, backends } = setup();
    const configured = [owners(groups, 0), owners(groups, 1)];
    // First failover: A2 leaves group a.
    const first: FailoverSpec = { group: 'a', server: A[1]! };
    const s1 = failoverSpace(pool, groups, first);
    expect(owners(groups, 0)).toEqual(configured[0]); // joined, not started: nothing moves
    s1.route.mode = 'new';
    const afterFirst = ringOwners(pool, specsOf(pool, 0, [A[0]!, A[2]!]));
    expect(owners(groups, 0)).toEqual(afterFirst);
    expect(groups.isOut(backends[0]![1]!)).toBe(true);
    expect(groups.inRing(0).map((b) => b.address)).toEqual([A[0], A[2]]);

    // Second failover, same group: A1 leaves too. Its record lists A2 as out already.
    const done1 = { id: failoverId(first), phase: 'done', failover: first } as MigrationRecord;
    const second: FailoverSpec = { group: 'a', server: A[0]!, out: outAfter(done1) };
    expect(second.out).toEqual([{ group: 'a', server: A[1] }]);
    expect(failoverId(second)).toBe('failover-a-127.0.0.1_21001-2');
    expect(serversBefore(pool.groups[0]!.servers, 'a', second).map((s) => s.address)).toEqual([A[0], A[2]]);
    const s2 = failoverSpace(pool, groups, second);
    // Joining it (mode old) routes exactly as the first one ended: no key moves before it runs.
    expect(owners(groups, 0)).toEqual(afterFirst);
    expect(groups.isOut(backends[0]![1]!)).toBe(true);
    expect(groups.isOut(backends[0]![0]!)).toBe(false);
    // Its moved keys are the ones A1 owned on the narrowed ring, and they go to A3, the last one left.
    expect(s2.parts[0]!.arcs.movedShare).toBeGreaterThan(0);
    expect(s2.parts[0]!.copySources().map((s) => s.address)).toEqual(B);
    s2.route.mode = 'new';
    expect(new Set(owners(groups, 0))).toEqual(new Set([A[2]]));
    expect(groups.inRing(0).map((b) => b.address)).toEqual([A[2]]);
    expect(owners(groups, 1)).toEqual(configured[1]); // group b untouched

    // Third failover, the other group: B2 leaves; group a keeps both out (a fixed remap), whoever builds it.
    const done2 = { id: failoverId(second), phase: 'done', failover: second } as MigrationRecord;
    const third: FailoverSpec = { group: 'b', server: B[1]!, out: outAfter(done2) };
    expect(failoverId(third)).toBe('failover-b-127.0.0.1_22002-3');
    for (const fresh of [false, true]) {
      const g = fresh ? setup() : { pool, groups, backends };
      const s3 = failoverSpace(g.pool, g.groups, third);
      expect(new Set(owners(g.groups, 0))).toEqual(new Set([A[2]]));
      expect(owners(g.groups, 1)).toEqual(configured[1]);
      // The copy reads group a's servers in its ring (A1 and A2 are down for good: they do not count).
      g.backends[0]![0]!.health = 'tko';
      g.backends[0]![1]!.health = 'tko';
      expect(s3.parts[0]!.copySources().map((s) => s.address)).toEqual([A[2]]);
      expect(s3.parts[0]!.sourceOf(keys[0]!).address).toBe(A[2]);
      expect(s3.recordServers.map((b) => b.address).sort()).toEqual([A[2]!, B[0]!, B[2]!]);
      s3.route.mode = 'dual_old';
      // Filling: the new owner of a moved key serves no reads; B2 is out once the copy starts.
      expect(g.groups.isOut(g.backends[1]![1]!)).toBe(true);
      s3.route.mode = 'new';
      expect(owners(g.groups, 1)).toEqual(ringOwners(g.pool, specsOf(g.pool, 1, [B[0]!, B[2]!])));
    }
  });

  it('a failover that is not done yet takes no server out for the next one', () => {
    const spec: FailoverSpec = { group: 'a', server: A[1]!, out: [{ group: 'b', server: B[0]! }] };
    expect(outAfter({ id: failoverId(spec), phase: 'cutover', failover: spec } as MigrationRecord)).toEqual([{ group: 'b', server: B[0] }]);
    expect(outAfter({ id: failoverId(spec), phase: 'aborted', failover: spec } as MigrationRecord)).toEqual([{ group: 'b', server: B[0] }]);
    expect(outAfter({ id: 'grow', phase: 'done' } as MigrationRecord)).toEqual([]);
    expect(outAfter(null)).toEqual([]);
    expect(failoverId({ group: 'a', server: A[1]! })).toBe('failover-a-127.0.0.1_21002');
  });

  it('the last server of a group is never failed over', () => {
    const { pool, groups } = setup();
    expect(() => failoverSpace(pool, groups, { group: 'a', server: A[2]!, out: [{ group: 'a', server: A[0]! }, { group: 'a', server: A[1]! }] })).toThrow(/nothing would remain/);
  });
});
