/**
 * The id of the migration a change of discovered servers starts. Every sidecar that sees the same
 * change computes the same id, with no coordination, so sidecars that see it at the same time start
 * one migration (the fleet record then lets one run per pool):
 *
 *   auto-<pool>-<the first 8 hex digits of sha256 of the old and new rings>
 *
 * A ring here is what decides where keys live: each server's ring identity (node name, else host on
 * port 11211, else host:port) and weight, each group's sorted, the groups in the pool's order. The
 * addresses are not part of it: a pod back with a new address under the same name moves no key.
 * The id fits the migration id rule (1 to 64 letters, digits, `_`, `-`, `.`); a long pool name is cut.
 */
import { createHash } from 'node:crypto';
import { ketamaServerName } from '../routing/ketama.js';

/** A server as far as the ring is concerned; `weight` defaults to 1. */
export interface RingMember {
  readonly host: string;
  readonly port: number;
  readonly name?: string;
  readonly weight?: number;
}

/** One group's servers, or each group's in the pool's group order. */
export type PoolRing = readonly RingMember[] | readonly (readonly RingMember[])[];

const MAX_ID = 64;
const PREFIX = 'auto-';
const HASH_HEX = 8;

const isGrouped = (ring: PoolRing): ring is readonly (readonly RingMember[])[] => Array.isArray(ring[0]);

/** The canonical text of a ring: `identity*weight` sorted within each group, groups joined by `;`. */
export function ringText(ring: PoolRing): string {
  const groups = isGrouped(ring) ? ring : [ring as readonly RingMember[]];
  return groups.map((g) => g.map((s) => `${ketamaServerName(s)}*${s.weight ?? 1}`).sort().join(',')).join(';');
}

/** `tag` tells apart moves between the same rings made another way (servers gone while down: their keys start empty). */
export function autoMigrationId(pool: string, from: PoolRing, to: PoolRing, tag?: string): string {
  const digest = createHash('sha256').update(`memshift-auto-v1\n${ringText(from)}|${ringText(to)}${tag === undefined ? '' : `|${tag}`}`).digest('hex').slice(0, HASH_HEX);
  const room = MAX_ID - PREFIX.length - 1 - HASH_HEX;
  return `${PREFIX}${pool.slice(0, room)}-${digest}`;
}
