/**
 * Servers from DNS (issue 16): resolve a pool's `discovery:` name (resolve.ts; at start, start.ts),
 * watch it over time and decide when a new set is stable (watch-state.ts, pure; watch.ts, the timer
 * around it), name the migration a change starts (migration-id.ts), fill the discovered servers and
 * the autopilot's migration into the config a sidecar runs (effective.ts), decide what a change does
 * (autopilot.ts), and run it all in a sidecar (runtime.ts, which app/server.ts builds). With
 * `autopilot.rebalance: suggest`, measure how the load is spread over the servers (load-watch.ts).
 */
export {
  compareServers,
  createResolver,
  DEFAULT_DISCOVERY_PORT,
  DiscoveryError,
  isSrvName,
  resolveServers,
  ringIdentity,
  toServerSpec,
  type DiscoveredServer,
  type DiscoveryFailure,
  type DiscoveryTarget,
  type Resolution,
  type ResolverOptions,
} from './resolve.js';
export { initialWatchState, nextResolveInMs, serverSet, watchNext, watchSettings, type ServerSet, type WatchEvent, type WatchInput, type WatchSettings, type WatchState } from './watch-state.js';
export { DiscoveryWatch, type DiscoveryChange, type DiscoveryCounters, type DiscoverySnapshot, type DiscoveryWatchOptions } from './watch.js';
export { autoMigrationId, ringText, type PoolRing, type RingMember } from './migration-id.js';
