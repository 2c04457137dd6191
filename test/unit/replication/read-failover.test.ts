/**
 * Where a read of a pool with replica groups goes first (read-failover.ts, ReplicaGroups.dispatch):
 * a multi-key get reads each key from a group whose owner of it can serve it (up, not recovering)
 * first, not in its first key's order, so a recovering server (replaying its failed-write log: it
 * may hold a value from before a write it missed) never answers a key a healthy group holds; and a
 * key whose first group fails moves on to the next group in its own order.
 */
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { Backend, Op } from '../../../src/backend/index.js';
import { parseConfig } from '../../../src/config/load.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import type { Slot } from '../../../src/proxy/reply-slots.js';
import { FailoverMultiGetSlot, type GroupReader } from '../../../src/replication/read-failover.js';
import { ReplicaGroups } from '../../../src/replication/replica-groups.js';
import { Router } from '../../../src/routing/index.js';
import { memoryBackend, request, type MemoryConnection } from '../proxy/memory-backend.js';

describe('FailoverMultiGetSlot with per-key orders', () => {
  it('sends each key to the first group of its own order, and a failed part on in that order', () => {
    const a = [memoryBackend('127.0.0.1:1').backend, memoryBackend('127.0.0.1:2').backend];
    const req = request('get k0 k1 k2\r\n');
    const orders: Record<string, number[]> = { k0: [0, 1], k1: [1, 0], k2: [0, 1] };
    const sends: [number, number[]][] = [];
    const ops: Op[] = [];
    const reader: GroupReader = {
      order: [0, 1],
      ownerIn: (group) => a[group]!,
      orderOf: (key) => orders[key.toString()]!,
      send: (backend, _req, keys, slot, part) => {
        sends.push([a.indexOf(backend), [...keys!]]);
        ops.push({ handler: slot, kind: 0, part } as unknown as Op);
        return null;
      },
    };
    const done: Slot[] = [];
    const slot = new FailoverMultiGetSlot({ slotDone: (s) => done.push(s) }, req, new ProxyStats(), reader, false).start();
    expect(sends).toEqual([
      [0, [0, 2]],
      [1, [1]],
    ]);
    // Group 0 fails its part: k0 and k2 move on to group 1 (their next), k1 answers from group 1.
    slot.onOpError(ops[0]!, Buffer.from('SERVER_ERROR backend connection closed\r\n'));
    expect(sends[2]).toEqual([1, [0, 2]]);
    slot.onOpReply(ops[1]!, Buffer.from('VALUE k1 0 1\r\nb\r\nEND\r\n'));
    slot.onOpReply(ops[2]!, Buffer.from('VALUE k0 0 1\r\na\r\nVALUE k2 0 1\r\nc\r\nEND\r\n'));
    expect(done).toHaveLength(1);
    expect(Buffer.concat(done[0]!.reply as Buffer[]).toString()).toBe('VALUE k0 0 1\r\na\r\nVALUE k1 0 1\r\nb\r\nVALUE k2 0 1\r\nc\r\nEND\r\n');
  });
});

describe('ReplicaGroups: a multi-key get while a server recovers', () => {
  function setup() {
    const servers = (base: number) => [`127.0.0.1:${base + 1}`, `127.0.0.1:${base + 2}`];
    const config = parseConfig(
      stringify({
        listen: ['127.0.0.1:11211'],
        pools: { main: { replicas: [{ name: 'a', servers: servers(21000).map((s) => `${s}:1`) }, { name: 'b', servers: servers(22000).map((s) => `${s}:1`) }] } },
      }),
    );
    const router = new Router(config);
    const pool = router.pools[0]!;
    const made = pool.groups.map((g) => g.servers.map((s) => memoryBackend(s.address)));
    const backends = made.map((g) => g.map((m) => m.backend));
    const conns = new Map<Backend, MemoryConnection>(made.flat().map((m) => [m.backend, m.conn]));
    const groups = new ReplicaGroups(0, pool, router, backends, new ProxyStats(), () => undefined);
    return { groups, backends, conns };
  }

  /** Keys whose group-a owner is `a`, after one whose group-a owner is `other`. */
  function keysFor(groups: ReplicaGroups, a: Backend, other: Backend): string[] {
    const all = Array.from({ length: 400 }, (_, i) => `key:${i}`);
    const first = all.find((k) => groups.ownerIn(0, Buffer.from(k)) === other)!;
    return [first, ...all.filter((k) => groups.ownerIn(0, Buffer.from(k)) === a).slice(0, 5)];
  }

  /** Which server each key of `get <keys>` was sent to. */
  function sentTo(groups: ReplicaGroups, conns: Map<Backend, MemoryConnection>, keys: string[]): Map<string, string> {
    groups.dispatch(request(`get ${keys.join(' ')}\r\n`), { slotDone: () => undefined });
    const to = new Map<string, string>();
    for (const [b, conn] of conns) for (const k of conn.sent().trim().split(' ').slice(1)) to.set(k, b.address);
    return to;
  }

  it('reads the keys of a recovering server of the first group from the other group, the rest as before', () => {
    const { groups, backends, conns } = setup();
    const [a1, a2] = backends[0]!;
    const keys = keysFor(groups, a2!, a1!);
    groups.held = new Set([a2!]); // replaying its failed-write log
    const to = sentTo(groups, conns, keys);
    expect(to.get(keys[0]!)).toBe(a1!.address); // the first key: its group-a owner is healthy
    for (const k of keys.slice(1)) expect(to.get(k)).toBe(groups.ownerIn(1, Buffer.from(k)).address);
  });

  it('does the same for a server of the first group that is down', () => {
    const { groups, backends, conns } = setup();
    const [a1, a2] = backends[0]!;
    const keys = keysFor(groups, a2!, a1!);
    conns.get(a2!)!.state = 'tko';
    const to = sentTo(groups, conns, keys);
    expect(to.get(keys[0]!)).toBe(a1!.address);
    for (const k of keys.slice(1)) expect(to.get(k)).toBe(groups.ownerIn(1, Buffer.from(k)).address);
  });

  it('reads every key in the first key\'s order while every server is healthy', () => {
    const { groups, backends, conns } = setup();
    const [a1, a2] = backends[0]!;
    const keys = keysFor(groups, a2!, a1!);
    const to = sentTo(groups, conns, keys);
    for (const k of keys) expect(to.get(k)).toBe(groups.ownerIn(0, Buffer.from(k)).address);
  });
});
