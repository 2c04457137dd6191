/**
 * twemproxy's FNV hashes (src/hashkit/nc_fnv.c), bit for bit as nutcracker computes them on x86-64.
 *
 * Two quirks of the C code are kept on purpose, because parity with a live nutcracker is the point:
 * - `fnv1a_64` and `fnv1_64` return the low 32 bits of the 64-bit hash. The low 32 bits of a 64-bit
 *   product depend only on the low 32 bits of its factors, so a 32-bit state with the prime's low
 *   half (0x1b3) gives exactly those bits: `Math.imul`, no BigInt, no allocation. (twemproxy's
 *   hash_fnv1a_64 itself keeps a uint32_t state.)
 * - Each key byte is read as a C `char`, which is signed on x86-64, and widened to 32/64 bits before
 *   the xor: a byte >= 0x80 is xored in as 0xffffff80..0xffffffff, not 0x80..0xff. So for keys with
 *   such bytes these are not the textbook FNV values. (On a platform where `char` is unsigned, e.g.
 *   arm64, nutcracker hashes those keys differently; we follow x86-64, which the fixtures check.)
 */

const FNV_64_INIT_LO = 0x84222325; // (uint32_t) 0xcbf29ce484222325
const FNV_64_PRIME_LO = 0x000001b3; // (uint32_t) 0x100000001b3
const FNV_32_INIT = 0x811c9dc5; // 2166136261
const FNV_32_PRIME = 0x01000193; // 16777619

/** The byte as a sign-extended C `char`: 0x80..0xff become -128..-1 (0xffffff80..0xffffffff). */
function signedChar(byte: number): number {
  return (byte << 24) >> 24;
}

/** hash_fnv1_64: `hash *= prime; hash ^= (uint64_t)key[x]`, truncated to 32 bits. */
export function hashFnv164(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_64_INIT_LO | 0;
  for (let i = start; i < end; i++) hash = Math.imul(hash, FNV_64_PRIME_LO) ^ signedChar(key[i]!);
  return hash >>> 0;
}

/** hash_fnv1a_64: `hash ^= (uint32_t)key[x]; hash *= (uint32_t)prime`. twemproxy's default key hash. */
export function hashFnv1a64(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_64_INIT_LO | 0;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ signedChar(key[i]!), FNV_64_PRIME_LO);
  return hash >>> 0;
}

/** hash_fnv1_32: `hash *= prime; hash ^= (uint32_t)key[x]`. */
export function hashFnv132(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_32_INIT | 0;
  for (let i = start; i < end; i++) hash = Math.imul(hash, FNV_32_PRIME) ^ signedChar(key[i]!);
  return hash >>> 0;
}

/** hash_fnv1a_32: `hash ^= (uint32_t)key[x]; hash *= prime`. */
export function hashFnv1a32(key: Uint8Array, start: number, end: number): number {
  let hash = FNV_32_INIT | 0;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ signedChar(key[i]!), FNV_32_PRIME);
  return hash >>> 0;
}
