/**
 * What the autopilot does with a new stable set of a plain discovered pool (pure; runtime.ts acts on
 * it): the planner's moved share (migration/plan.ts movedArcs) between the ring in force and the new
 * set decides, against `max_moved_share`, whether a migration starts.
 *
 *   new stable set ─► less the drained servers ─► the ring in force? ─► nothing
 *                                             ├► servers that left while down ─► taken out first, their keys
 *                                             │  start empty on their new owners (no copy exists)
 *                                             ├► moved share > max_moved_share ─► refused
 *                                             └► a migration: id autoMigrationId(pool, in force, target),
 *                                                start now (auto) or planned (approve)
 *
 * Every sidecar with the same ring in force and the same answer computes the same id, so sidecars
 * that see a change at the same time join one migration (one record, one lease).
 */
import type { AutopilotConfig, PoolConfig } from '../config/types.js';
import { movedArcs } from '../migration/plan.js';
import { autoMigrationId, ringText } from './migration-id.js';
import type { AutoMove } from './effective.js';
import { ringIdentity, toServerSpec, type DiscoveredServer } from './resolve.js';

export type PilotDecision =
  /** The target is the ring in force: nothing moves. */
  | { readonly type: 'same' }
  | { readonly type: 'refused'; readonly reason: 'share' | 'empty'; readonly message: string; readonly share: number | null }
  /** `more`: the move takes out servers gone while down, and the rest of the change waits for it. */
  | { readonly type: 'migrate'; readonly move: AutoMove; readonly share: number; readonly added: readonly string[]; readonly removed: readonly string[]; readonly more: boolean };

export interface PilotInput {
  /** The pool (its name, hashing, tls and auth). */
  readonly pool: PoolConfig;
  readonly autopilot: AutopilotConfig;
  /** The servers the pool is served by now (no migration of it unfinished). */
  readonly inForce: readonly DiscoveredServer[];
  /** The stable set DNS gives now. */
  readonly seen: readonly DiscoveredServer[];
  /** Ring identities `memshift migrate drain` took out. */
  readonly drained: readonly string[];
  /** Whether a server of the ring in force is down (by ring identity). */
  readonly down: (identity: string) => boolean;
}

const identities = (list: readonly DiscoveredServer[]): Set<string> => new Set(list.map(ringIdentity));

/** The share of the keys that move from `from` to `to` on the pool's ring. */
export function movedShareOf(pool: PoolConfig, from: readonly DiscoveredServer[], to: readonly DiscoveredServer[]): number {
  return movedArcs(pool, from.map((s) => toServerSpec(s, pool)), to.map((s) => toServerSpec(s, pool))).movedShare;
}

const pct = (share: number): string => `${(share * 100).toFixed(1)}%`;

export function decide(input: PilotInput): PilotDecision {
  const { pool, inForce } = input;
  const drained = new Set(input.drained);
  const target = input.seen.filter((s) => !drained.has(ringIdentity(s)));
  if (ringText(target) === ringText(inForce)) return { type: 'same' };
  if (target.length === 0) return { type: 'refused', reason: 'empty', message: `pool ${pool.name}: every server DNS lists is drained; the ring stays`, share: null };
  const [before, after] = [identities(inForce), identities(target)];
  const removed = [...before].filter((id) => !after.has(id));
  const added = [...after].filter((id) => !before.has(id));
  const startAt = input.autopilot.migrate === 'auto' ? 'now' : 'command';
  // A drained server stays out while DNS still lists it; once its record is gone it is forgotten.
  const drainedNow = input.drained.filter((id) => identities(input.seen).has(id));
  const gone = removed.filter(input.down);
  if (gone.length > 0) {
    // No copy of their keys exists: they move, and start empty on their new owners, first and on
    // their own (whatever share: they fail already), as a failover of a plain pool does.
    const to = inForce.filter((s) => !gone.includes(ringIdentity(s)));
    // Its own id: a copy from the same server (drained while it was up, then aborted) is another migration.
    const move: AutoMove = { id: autoMigrationId(pool.name, inForce, to, `gone:${gone.join(',')}`), from: inForce, to, drained: drainedNow, gone, startAt };
    return { type: 'migrate', move, share: movedShareOf(pool, inForce, to), added: [], removed: gone, more: ringText(to) !== ringText(target) };
  }
  const share = movedShareOf(pool, inForce, target);
  if (share > input.autopilot.maxMovedShare) {
    const message = `pool ${pool.name}: the change (${describe(added, removed)}) would move ${pct(share)} of the keys, above max_moved_share ${pct(input.autopilot.maxMovedShare)}; refused, the ring stays`;
    return { type: 'refused', reason: 'share', message, share };
  }
  const move: AutoMove = { id: autoMigrationId(pool.name, inForce, target), from: inForce, to: target, drained: drainedNow, startAt };
  return { type: 'migrate', move, share, added, removed, more: false };
}

export const describe = (added: readonly string[], removed: readonly string[]): string =>
  [...(added.length > 0 ? [`adds ${added.join(', ')}`] : []), ...(removed.length > 0 ? [`removes ${removed.join(', ')}`] : [])].join(', ') || 'no member changes';

/**
 * `memshift migrate drain HOST`: the migration that takes HOST out of the ring in force, started at
 * once. HOST is a server's ring name, DNS name, address (`ip:port`) or IP; it must name exactly one.
 */
export function drainMove(pool: PoolConfig, inForce: readonly DiscoveredServer[], drained: readonly string[], host: string): { move: AutoMove; share: number; server: string } {
  const h = host.toLowerCase().replace(/\.$/, '');
  const matches = inForce.filter((s) => [ringIdentity(s), s.dnsName, s.address, s.host].includes(h));
  if (matches.length === 0) throw new Error(`pool ${pool.name} has no server ${host} in its ring (${inForce.map(ringIdentity).join(', ')})`);
  if (matches.length > 1) throw new Error(`${host} names ${matches.length} servers of pool ${pool.name} (${matches.map(ringIdentity).join(', ')}): name one by its ring name`);
  const server = ringIdentity(matches[0]!);
  const to = inForce.filter((s) => ringIdentity(s) !== server);
  if (to.length === 0) throw new Error(`${server} is the last server of pool ${pool.name}: it cannot be drained`);
  const move: AutoMove = { id: autoMigrationId(pool.name, inForce, to), from: inForce, to, drained: [...new Set([...drained, server])], startAt: 'now' };
  return { move, share: movedShareOf(pool, inForce, to), server };
}
