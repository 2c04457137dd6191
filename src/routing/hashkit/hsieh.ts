/**
 * twemproxy's hash_hsieh (src/hashkit/nc_hsieh.c), Paul Hsieh's SuperFastHash. `get16bits` reads two
 * unsigned bytes little-endian (the x86-64 path); the 3-byte tail reads its last byte as a signed C
 * `char` (`(uint32_t)key[2] << 18`), so a byte >= 0x80 there is sign-extended, as nutcracker does.
 * An empty key hashes to 0.
 */

export function hashHsieh(key: Uint8Array, start: number, end: number): number {
  let length = end - start;
  if (length <= 0) return 0;
  let hash = 0;
  const rem = length & 3;
  length >>>= 2;
  let p = start;
  for (; length > 0; length--) {
    hash = (hash + (key[p]! | (key[p + 1]! << 8))) | 0;
    const tmp = ((key[p + 2]! | (key[p + 3]! << 8)) << 11) ^ hash;
    hash = (hash << 16) ^ tmp;
    p += 4;
    hash = (hash + (hash >>> 11)) | 0;
  }
  switch (rem) {
    case 3:
      hash = (hash + (key[p]! | (key[p + 1]! << 8))) | 0;
      hash ^= hash << 16;
      hash ^= ((key[p + 2]! << 24) >> 24) << 18;
      hash = (hash + (hash >>> 11)) | 0;
      break;
    case 2:
      hash = (hash + (key[p]! | (key[p + 1]! << 8))) | 0;
      hash ^= hash << 11;
      hash = (hash + (hash >>> 17)) | 0;
      break;
    case 1:
      hash = (hash + key[p]!) | 0;
      hash ^= hash << 10;
      hash = (hash + (hash >>> 1)) | 0;
      break;
    default:
      break;
  }
  hash ^= hash << 3;
  hash = (hash + (hash >>> 5)) | 0;
  hash ^= hash << 4;
  hash = (hash + (hash >>> 17)) | 0;
  hash ^= hash << 25;
  hash = (hash + (hash >>> 6)) | 0;
  return hash >>> 0;
}
