/**
 * src/routing: where a key lives. Pure code, no I/O.
 *
 *   Router.poolOf(key)         prefix route table -> pool id (index in Router.pools)
 *   Router.ring(pool).ownerOf  hash_tag + key hash + ketama / modula / node-memcached -> index in pool.servers
 */
export { type Ring, type RingSpec, ContinuumRing, ModulaRing, createRing } from './ring.js';
export { type Location, Router } from './router.js';
export { type PrefixRoute, RouteTable } from './route-table.js';
export { HashTag } from './hash-tag.js';
export { type Continuum, continuumDispatch, continuumIndex, continuumSort } from './continuum.js';
export {
  KETAMA_DEFAULT_PORT,
  KETAMA_POINTS_PER_SERVER,
  ketamaContinuum,
  ketamaPointCounts,
  ketamaServerName,
} from './ketama.js';
export { modulaContinuum, modulaPoint, modulaSlots } from './modula.js';
export { nodeMemcachedContinuum, nodeMemcachedServerString } from './node-memcached.js';
export {
  KEY_HASHES,
  type KeyHash,
  TWEMPROXY_HASH_NAMES,
  type TwemproxyHashName,
  hashKey,
  isTwemproxyHashName,
  keyHashOf,
} from './hash.js';
