/**
 * Expiry arithmetic for copying an item, in memcached's rules.
 *
 * memcached reads an exptime up to 30 days (2,592,000 s, REALTIME_MAXDELTA) as relative seconds and
 * anything larger as an absolute unix time, so a relative TTL over 30 days would be taken as a date
 * in 1970 and expire at once. `mg … t` reports the seconds left (-1: no expiry); metadump reports
 * the absolute expiry (-1: none). A copy therefore writes `T<seconds left>` up to 30 days, and the
 * absolute expiry beyond that: the dump's `exp` when it agrees with what `t` says (it is exact), else
 * now + seconds left. No expiry is `T0`: memcached reads `T-1` as "already expired".
 */

/** memcached's REALTIME_MAXDELTA: exptimes above it are absolute unix times. */
export const MAX_RELATIVE_TTL = 60 * 60 * 24 * 30;

/**
 * The `T` to write for an item with `remaining` seconds left (`mg` flag `t`; -1 = no expiry), or
 * null when the item is already expiring and must not be copied. `dumpExp` is the absolute `exp`
 * from metadump, if known (-1 = none); `nowSec` is the current unix time.
 */
export function storeTtl(remaining: number, nowSec: number, dumpExp?: number): number | null {
  if (!Number.isFinite(remaining)) return null;
  if (remaining === -1) return 0;
  if (remaining <= 0) return null;
  if (remaining <= MAX_RELATIVE_TTL) return remaining;
  const computed = Math.floor(nowSec) + remaining;
  if (dumpExp !== undefined && dumpExp > MAX_RELATIVE_TTL && Math.abs(dumpExp - computed) <= 2) return dumpExp;
  return computed;
}

/** True when two `t` readings agree: both without expiry, or both expiring within `toleranceSec` of each other. */
export function ttlMatches(sourceT: number, targetT: number, toleranceSec: number): boolean {
  if (sourceT === -1 || targetT === -1) return sourceT === targetT;
  return Math.abs(sourceT - targetT) <= toleranceSec;
}
