/**
 * twemproxy's hash_jenkins (src/hashkit/nc_jenkins.c): Bob Jenkins' lookup3 `hashlittle` with
 * initval 13. The C code has three paths by pointer alignment (32-bit, 16-bit, byte reads); on a
 * little-endian machine they give the same value, so this is the byte path. An empty key returns
 * `0xdeadbeef + 13` unmixed.
 */

function rot(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

export function hashJenkins(key: Uint8Array, start: number, end: number): number {
  let length = end - start;
  let a = (0xdeadbeef + length + 13) | 0;
  let b = a;
  let c = a;
  let p = start;
  while (length > 12) {
    a = (a + (key[p]! | (key[p + 1]! << 8) | (key[p + 2]! << 16) | (key[p + 3]! << 24))) | 0;
    b = (b + (key[p + 4]! | (key[p + 5]! << 8) | (key[p + 6]! << 16) | (key[p + 7]! << 24))) | 0;
    c = (c + (key[p + 8]! | (key[p + 9]! << 8) | (key[p + 10]! << 16) | (key[p + 11]! << 24))) | 0;
    // mix(a, b, c)
    a = (a - c) | 0; a ^= rot(c, 4); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 6); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 8); b = (b + a) | 0;
    a = (a - c) | 0; a ^= rot(c, 16); c = (c + b) | 0;
    b = (b - a) | 0; b ^= rot(a, 19); a = (a + c) | 0;
    c = (c - b) | 0; c ^= rot(b, 4); b = (b + a) | 0;
    length -= 12;
    p += 12;
  }
  if (length === 0) return c >>> 0;
  // The last block; the C switch falls through from 12 down to 1.
  if (length >= 12) c = (c + (key[p + 11]! << 24)) | 0;
  if (length >= 11) c = (c + (key[p + 10]! << 16)) | 0;
  if (length >= 10) c = (c + (key[p + 9]! << 8)) | 0;
  if (length >= 9) c = (c + key[p + 8]!) | 0;
  if (length >= 8) b = (b + (key[p + 7]! << 24)) | 0;
  if (length >= 7) b = (b + (key[p + 6]! << 16)) | 0;
  if (length >= 6) b = (b + (key[p + 5]! << 8)) | 0;
  if (length >= 5) b = (b + key[p + 4]!) | 0;
  if (length >= 4) a = (a + (key[p + 3]! << 24)) | 0;
  if (length >= 3) a = (a + (key[p + 2]! << 16)) | 0;
  if (length >= 2) a = (a + (key[p + 1]! << 8)) | 0;
  a = (a + key[p]!) | 0;
  // final(a, b, c)
  c ^= b; c = (c - rot(b, 14)) | 0;
  a ^= c; a = (a - rot(c, 11)) | 0;
  b ^= a; b = (b - rot(a, 25)) | 0;
  c ^= b; c = (c - rot(b, 16)) | 0;
  a ^= c; a = (a - rot(c, 4)) | 0;
  b ^= a; b = (b - rot(a, 14)) | 0;
  c ^= b; c = (c - rot(b, 24)) | 0;
  return c >>> 0;
}
