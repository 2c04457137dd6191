/**
 * Key hashes, by twemproxy's names (src/hashkit/nc_hashkit.h, HASH_CODEC). Each takes the bytes
 * `key[start, end)` (so a hash_tag needs no copy) and returns an unsigned 32-bit number, exactly as
 * nutcracker 0.5.0 computes it on x86-64: see each hashkit file for the C quirks kept.
 *
 * The config's `HashName` is exactly this list (checked at compile time below), so every hash a
 * nutcracker.yml may name is one memshift places keys with.
 */
import type { HashName } from '../config/types.js';
import { hashCrc16, hashCrc32, hashCrc32a } from './hashkit/crc.js';
import { hashFnv132, hashFnv164, hashFnv1a32, hashFnv1a64 } from './hashkit/fnv.js';
import { hashHsieh } from './hashkit/hsieh.js';
import { hashJenkins } from './hashkit/jenkins.js';
import { hashMd5 } from './hashkit/md5.js';
import { hashMurmur } from './hashkit/murmur.js';
import { hashOneAtATime } from './hashkit/one-at-a-time.js';

export { hashCrc16, hashCrc32, hashCrc32a, hashFnv132, hashFnv164, hashFnv1a32, hashFnv1a64, hashHsieh };
export { hashJenkins, hashMd5, hashMurmur, hashOneAtATime };

/** A key hash over `key[start, end)`, returning an unsigned 32-bit number. */
export type KeyHash = (key: Uint8Array, start: number, end: number) => number;

/** Every hash twemproxy's `hash:` directive accepts, in HASH_CODEC order. */
export const TWEMPROXY_HASH_NAMES = [
  'one_at_a_time',
  'md5',
  'crc16',
  'crc32',
  'crc32a',
  'fnv1_64',
  'fnv1a_64',
  'fnv1_32',
  'fnv1a_32',
  'hsieh',
  'murmur',
  'jenkins',
] as const;

export type TwemproxyHashName = (typeof TWEMPROXY_HASH_NAMES)[number];

/** The table, keyed by twemproxy's name. Add a hash here and in TWEMPROXY_HASH_NAMES. */
export const KEY_HASHES: Readonly<Record<TwemproxyHashName, KeyHash>> = Object.freeze({
  one_at_a_time: hashOneAtATime,
  md5: hashMd5,
  crc16: hashCrc16,
  crc32: hashCrc32,
  crc32a: hashCrc32a,
  fnv1_64: hashFnv164,
  fnv1a_64: hashFnv1a64,
  fnv1_32: hashFnv132,
  fnv1a_32: hashFnv1a32,
  hsieh: hashHsieh,
  murmur: hashMurmur,
  jenkins: hashJenkins,
});

// The config's names and twemproxy's are the same set: these lines stop compiling if `HashName` gains
// a name that has no implementation, or twemproxy's list a name the config does not accept.
const _configHashesCovered: readonly TwemproxyHashName[] = [] as HashName[];
const _twemproxyHashesAccepted: readonly HashName[] = [] as TwemproxyHashName[];

export function isTwemproxyHashName(name: string): name is TwemproxyHashName {
  return (TWEMPROXY_HASH_NAMES as readonly string[]).includes(name);
}

/** The hash function for a name; throws on a name twemproxy does not know. */
export function keyHashOf(name: TwemproxyHashName): KeyHash {
  if (!isTwemproxyHashName(name)) throw new RangeError(`unknown key hash "${String(name)}"`);
  return KEY_HASHES[name];
}

/** Hashes a whole key (or `key[start, end)`) with the named hash. Not for the hot path: use keyHashOf once. */
export function hashKey(name: TwemproxyHashName, key: Uint8Array, start = 0, end = key.length): number {
  return keyHashOf(name)(key, start, end);
}
