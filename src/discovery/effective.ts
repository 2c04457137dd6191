/**
 * The config a sidecar runs for its discovered pools (pure): the file's config with each discovered
 * group's servers filled in from DNS (resolve.ts toServerSpec), and a plain pool's autopilot
 * migration as its `migration:` block, which the generation builds like any other (app/generation.ts):
 *
 *   file config ──► discovered groups get their servers; a plain pool with a move gets `servers: to`
 *                   and `migration: {id, from, ...defaults, discovered: {from, to, drained}}`
 *
 * A reload of the file goes through here too, so a discovered pool's servers never come from a file.
 */
import { DEFAULTS } from '../config/schema.js';
import { deepFreeze, FrozenMap } from '../config/freeze.js';
import type { Config, DiscoveredMove, GroupConfig, MigrationConfig, PoolConfig } from '../config/types.js';
import { isDiscovered } from '../config/pool-diff.js';
import { toServerSpec, type DiscoveredServer } from './resolve.js';

/** An autopilot migration of a plain discovered pool: its id, rings, and whether it starts by itself. */
export interface AutoMove extends DiscoveredMove {
  readonly id: string;
  /**
   * `now` (`migrate: auto`, a drain), or `command`: planned until `memshift migrate start`. The
   * runtime makes `now` a time a little ahead (AUTO_START_DELAY_MS): the migration is on record,
   * planned, before it starts, and every sidecar follows it from its first phase.
   */
  readonly startAt: 'now' | 'command' | number;
}

/** What the discovery holds for one pool: each discovered group's servers (by group name), and its autopilot migration. */
export interface DiscoveredPool {
  readonly groups: ReadonlyMap<string, readonly DiscoveredServer[]>;
  /** A plain pool's autopilot migration (the latest; it may be done): its `to` is the pool's servers. */
  readonly move?: AutoMove;
}

export { isDiscovered };

/** The `migration:` block a move runs as (the defaults of a file's block: eager copy, its rate, settle and cleanup). */
export function autoBlock(pool: PoolConfig, move: AutoMove): MigrationConfig {
  const d = DEFAULTS.migration;
  return {
    id: move.id,
    from: [{ name: pool.groups[0]!.name, servers: move.from.map((s) => toServerSpec(s, pool)) }],
    copy: d.copy,
    rateKeysPerSec: d.rate,
    startAt: move.startAt,
    settleMs: d.settleMs,
    cleanup: d.cleanup,
    discovered: { from: move.from, to: move.to, drained: move.drained, ...(move.gone === undefined ? {} : { gone: move.gone }) },
  };
}

/** `pool` with its discovered groups' servers and its move; unchanged when it discovers nothing. */
export function discoveredPool(pool: PoolConfig, found: DiscoveredPool | undefined): PoolConfig {
  if (!isDiscovered(pool)) return pool;
  if (found === undefined) throw new Error(`pool ${pool.name}: its servers have not been resolved`);
  const move = pool.groups.length === 1 ? found.move : undefined;
  const groups = pool.groups.map((g, i): GroupConfig => {
    if (g.discovery === undefined) return g;
    const servers = i === 0 && move !== undefined ? move.to : found.groups.get(g.name);
    if (servers === undefined || servers.length === 0) throw new Error(`pool ${pool.name}: group ${g.name} has no servers from ${g.discovery.dns}`);
    return { ...g, servers: servers.map((s) => toServerSpec(s, pool)) };
  });
  const { migration: _file, ...rest } = pool;
  return { ...rest, servers: groups[0]!.servers, groups, ...(move === undefined ? {} : { migration: autoBlock(pool, move) }) };
}

/** `config` with every discovered pool filled in from `found` (by pool name). */
export function discoveredConfig(config: Config, found: ReadonlyMap<string, DiscoveredPool>): Config {
  if (![...config.pools.values()].some(isDiscovered)) return config;
  const pools = new FrozenMap([...config.pools].map(([name, pool]) => [name, discoveredPool(pool, found.get(name))] as const));
  return deepFreeze({ ...config, pools });
}
