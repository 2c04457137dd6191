/**
 * The Router: where a key lives. Config pools in insertion order (the array index is the pool id),
 * one ring per pool, and the prefix route table that picks the pool.
 */
import type { Config, PoolConfig } from '../config/types.js';
import { createRing, type ContinuumRing } from './ring.js';
import { RouteTable } from './route-table.js';

export interface Location {
  readonly pool: number;
  readonly server: number;
}

export class Router {
  /** config.pools in insertion order; the index is the pool id. */
  readonly pools: readonly PoolConfig[];
  readonly routes: RouteTable;
  readonly #rings: readonly ContinuumRing[];
  readonly #groupRings: readonly (readonly ContinuumRing[])[];
  readonly #ids: ReadonlyMap<string, number>;

  constructor(config: Config) {
    this.pools = Object.freeze([...config.pools.values()]);
    const ids = new Map<string, number>();
    this.pools.forEach((pool, id) => ids.set(pool.name, id));
    this.#ids = ids;
    const defaultPool = ids.get(config.defaultPool);
    if (defaultPool === undefined) throw new RangeError(`default pool "${config.defaultPool}" is not a configured pool`);
    this.routes = new RouteTable(
      config.routes.map((route) => {
        const pool = ids.get(route.pool);
        if (pool === undefined) throw new RangeError(`route "${route.prefix}" names unknown pool "${route.pool}"`);
        return { prefix: route.prefix, pool };
      }),
      defaultPool,
    );
    this.#rings = Object.freeze(this.pools.map((pool) => createRing(pool)));
    // Each replica group is its own ring with the pool's hash settings; group 0 is the pool's ring.
    this.#groupRings = Object.freeze(
      this.pools.map((pool, p) => pool.groups.map((g, i) => (i === 0 ? this.#rings[p]! : createRing({ ...pool, name: `${pool.name}/${g.name}`, servers: g.servers })))),
    );
  }

  /** The ring of replica group `group` of pool `pool`. */
  groupRing(pool: number, group: number): ContinuumRing {
    const ring = this.#groupRings[pool]?.[group];
    if (ring === undefined) throw new RangeError(`no group ${group} in pool ${pool}`);
    return ring;
  }

  /** Pool id of a pool name, or undefined. */
  poolId(name: string): number | undefined {
    return this.#ids.get(name);
  }

  /** Pool id for a key, by the route table. */
  poolOf(key: Buffer): number {
    return this.routes.lookup(key);
  }

  ring(pool: number): ContinuumRing {
    const ring = this.#rings[pool];
    if (ring === undefined) throw new RangeError(`no pool with id ${pool}`);
    return ring;
  }

  /** Pool and server for a key (allocates; for the CLI and tools). */
  locate(key: Buffer): Location {
    const pool = this.routes.lookup(key);
    return { pool, server: this.ring(pool).ownerOf(key) };
  }
}
