/**
 * What a reload may change of a pool's discovery (pure; config/reload.ts asks): the servers of a
 * discovered pool never come from the file, so a reload compares its blocks, not its servers.
 *
 *   applied          `interval` and `resolver` (the group's watch starts again with them), the
 *                    `autopilot` settings (for the next change), and what the autopilot itself
 *                    applies: the servers DNS gives and its migration block (src/discovery)
 *   needs a restart  `dns`, `port` or `names` (which servers the pool has and how they are named
 *                    come from the record and the DNS answer at start), and a pool that starts or
 *                    stops discovering its servers (servers ↔ discovery)
 */
import { isDiscovered, ring, same } from './pool-diff.js';
import type { DiscoveryConfig, PoolConfig } from './types.js';

export interface DiscoveryReload {
  restart: string[];
  changes: string[];
}

const identity = (d: DiscoveryConfig | undefined): unknown => (d === undefined ? null : [d.dns, d.port ?? null, d.names]);
const watching = (d: DiscoveryConfig | undefined): unknown => (d === undefined ? null : [d.intervalMs, d.resolver ?? null]);

export function checkDiscoveryReload(name: string, before: PoolConfig, after: PoolConfig): DiscoveryReload {
  const out: DiscoveryReload = { restart: [], changes: [] };
  if (isDiscovered(before) !== isDiscovered(after)) {
    out.restart.push(`pool ${name}: ${isDiscovered(after) ? 'its servers come from DNS now instead of a list' : 'its servers come from a list now instead of DNS'}`);
    return out;
  }
  for (const g of after.groups) {
    const old = before.groups.find((x) => x.name === g.name);
    if (old === undefined) continue; // a group added: replica groups need a restart (config/reload.ts)
    const where = after.groups.length > 1 ? `pool ${name} group ${g.name}` : `pool ${name}`;
    if (!same(identity(old.discovery), identity(g.discovery))) out.restart.push(`${where}: discovery dns, port or names changed`);
    else if (!same(watching(old.discovery), watching(g.discovery))) out.changes.push(`${where}: discovery interval or resolver: its DNS watch starts again`);
  }
  if (!same(before.autopilot ?? null, after.autopilot ?? null)) out.changes.push(`pool ${name}: autopilot settings (for the next change of its servers)`);
  if (out.restart.length > 0 || !isDiscovered(after)) return out;
  // What the autopilot applies: its migration block, or the servers DNS gives.
  const [mb, ma] = [before.migration, after.migration];
  if (ma !== undefined && ma.id !== mb?.id) out.changes.push(`pool ${name}: autopilot migration "${ma.id}": ${ring(ma.from[0]!.servers)} -> ${ring(after.servers)}`);
  else if (!same(after.groups.map((g) => ring(g.servers)), before.groups.map((g) => ring(g.servers)))) out.changes.push(`pool ${name}: servers from DNS: ${after.groups.map((g) => ring(g.servers)).join('; ')}`);
  return out;
}
