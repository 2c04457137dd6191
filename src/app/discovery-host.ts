/**
 * What the discovery (src/discovery/runtime.ts) reads of the generation that serves, and how it
 * applies a change of a pool's servers: a reload of the running file config with its new state
 * (trigger `discovery`), checked and built like any other (app/reload.ts, generation.ts). And what
 * the load watch (src/discovery/load-watch.ts) reads: the pools that serve, and their migrations.
 */
import type { Backend } from '../backend/index.js';
import type { DiscoveryHost } from '../discovery/runtime.js';
import type { LoadHost } from '../discovery/load-watch.js';
import { isFinished } from '../migration/phases.js';
import type { Generation } from './generation.js';
import type { ConfigSource, ReloadOptions, ReloadResult } from './reload.js';

/** The `trigger` of the discovery's own reloads: they run the current file config again. */
export const DISCOVERY_TRIGGER = 'discovery';

export function discoveryHost(gen: () => Generation, reload: (next: ConfigSource, opts: ReloadOptions) => Promise<ReloadResult>): DiscoveryHost {
  const indexOf = (pool: string): number => [...gen().config.pools.keys()].indexOf(pool);
  return {
    record(pool, id) {
      const m = gen().migrations[indexOf(pool)];
      return m?.id === id ? m.record : undefined;
    },
    backends(pool) {
      const g = gen();
      const p = indexOf(pool);
      return p < 0 ? [] : [...new Set<Backend>([...(g.backends.byGroup[p] ?? []).flat(), ...(g.backends.byMigration[p] ?? []).flat()])];
    },
    backendsOf(host) {
      return gen().backends.all.filter((b) => b.address.startsWith(`${host}:`));
    },
    async apply() {
      // app/server.ts reads the discovery's state when the reload's turn comes (this source is not read).
      const out = await reload(() => gen().config, { trigger: DISCOVERY_TRIGGER });
      return out.result === 'applied' || out.result === 'unchanged';
    },
  };
}

export function loadHost(gen: () => Generation): LoadHost {
  return {
    pools: () => gen().config.pools.values(),
    migrating(pool) {
      const g = gen();
      const m = g.migrations[[...g.config.pools.keys()].indexOf(pool)];
      if (m === undefined) return null;
      const r = m.record;
      return r !== null && isFinished(r) ? null : m.id;
    },
  };
}
