/**
 * twemproxy's hash_murmur (src/hashkit/nc_murmur.c): MurmurHash2 with the seed
 * `0xdeadbeef * length`, reading 4-byte little-endian words (x86-64) and unsigned bytes.
 */

const M = 0x5bd1e995;

export function hashMurmur(key: Uint8Array, start: number, end: number): number {
  let length = end - start;
  const seed = Math.imul(0xdeadbeef, length);
  let h = seed ^ length;
  let p = start;
  while (length >= 4) {
    let k = key[p]! | (key[p + 1]! << 8) | (key[p + 2]! << 16) | (key[p + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
    p += 4;
    length -= 4;
  }
  // The C switch falls through from 3 to 1.
  if (length === 3) h ^= key[p + 2]! << 16;
  if (length >= 2) h ^= key[p + 1]! << 8;
  if (length >= 1) {
    h ^= key[p]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h >>> 0;
}
