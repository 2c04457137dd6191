/**
 * Keys that spread over any ring. fnv1a_64, twemproxy's default and ours, keeps only the low 32 bits,
 * and there a change in a key's last byte moves the hash by less than 2^17: keys that differ only at
 * their end (`k:1`, `k:2`, ...) land on a few nearby points, so for some server ports one server gets
 * all of them and another none. A test that needs each server to hold some keys uses these.
 */
import { createHash } from 'node:crypto';

/** `n` distinct keys `${prefix}` + 12 hex digits of a digest of the index: the same list every run. */
export function spreadKeys(prefix: string, n: number): string[] {
  const keys = Array.from({ length: n }, (_, i) => `${prefix}${createHash('sha1').update(`${prefix}${i}`).digest('hex').slice(0, 12)}`);
  if (new Set(keys).size !== n) throw new Error(`spreadKeys(${JSON.stringify(prefix)}, ${n}): two keys alike`);
  return keys;
}
