/**
 * MD5 (RFC 1321) over `key[start, end)`, in plain JS with no allocation, for the key hash `md5`:
 * twemproxy's hash_md5 (src/hashkit/nc_md5.c) returns the first 4 digest bytes as a little-endian
 * u32, as libmemcached and libketama do, and so does npm `hashring` (hashValue). node:crypto
 * allocates a Hash and a digest Buffer per call (~1 µs); this runs one 64-byte block for keys under
 * 56 bytes in a fraction of that. Ketama point names still use node:crypto (see ketama.ts).
 */

/** The running state A, B, C, D (a typed array, so no number is boxed between calls). */
const state = new Int32Array(4);
/** The last one or two padded blocks. */
const tail = new Uint8Array(128);

function word(src: Uint8Array, i: number): number {
  return src[i]! | (src[i + 1]! << 8) | (src[i + 2]! << 16) | (src[i + 3]! << 24);
}

/** One 64-byte block at `src[off]` into `state`. */
function compress(src: Uint8Array, off: number): void {
  const w0 = word(src, off), w1 = word(src, off + 4), w2 = word(src, off + 8), w3 = word(src, off + 12);
  const w4 = word(src, off + 16), w5 = word(src, off + 20), w6 = word(src, off + 24), w7 = word(src, off + 28);
  const w8 = word(src, off + 32), w9 = word(src, off + 36), w10 = word(src, off + 40), w11 = word(src, off + 44);
  const w12 = word(src, off + 48), w13 = word(src, off + 52), w14 = word(src, off + 56), w15 = word(src, off + 60);
  let a = state[0]!, b = state[1]!, c = state[2]!, d = state[3]!;
  let n: number;
  // round 1
  n = (a + ((b & c) | (~b & d)) + w0 + 0xd76aa478) | 0;
  a = (((n << 7) | (n >>> 25)) + b) | 0;
  n = (d + ((a & b) | (~a & c)) + w1 + 0xe8c7b756) | 0;
  d = (((n << 12) | (n >>> 20)) + a) | 0;
  n = (c + ((d & a) | (~d & b)) + w2 + 0x242070db) | 0;
  c = (((n << 17) | (n >>> 15)) + d) | 0;
  n = (b + ((c & d) | (~c & a)) + w3 + 0xc1bdceee) | 0;
  b = (((n << 22) | (n >>> 10)) + c) | 0;
  n = (a + ((b & c) | (~b & d)) + w4 + 0xf57c0faf) | 0;
  a = (((n << 7) | (n >>> 25)) + b) | 0;
  n = (d + ((a & b) | (~a & c)) + w5 + 0x4787c62a) | 0;
  d = (((n << 12) | (n >>> 20)) + a) | 0;
  n = (c + ((d & a) | (~d & b)) + w6 + 0xa8304613) | 0;
  c = (((n << 17) | (n >>> 15)) + d) | 0;
  n = (b + ((c & d) | (~c & a)) + w7 + 0xfd469501) | 0;
  b = (((n << 22) | (n >>> 10)) + c) | 0;
  n = (a + ((b & c) | (~b & d)) + w8 + 0x698098d8) | 0;
  a = (((n << 7) | (n >>> 25)) + b) | 0;
  n = (d + ((a & b) | (~a & c)) + w9 + 0x8b44f7af) | 0;
  d = (((n << 12) | (n >>> 20)) + a) | 0;
  n = (c + ((d & a) | (~d & b)) + w10 + 0xffff5bb1) | 0;
  c = (((n << 17) | (n >>> 15)) + d) | 0;
  n = (b + ((c & d) | (~c & a)) + w11 + 0x895cd7be) | 0;
  b = (((n << 22) | (n >>> 10)) + c) | 0;
  n = (a + ((b & c) | (~b & d)) + w12 + 0x6b901122) | 0;
  a = (((n << 7) | (n >>> 25)) + b) | 0;
  n = (d + ((a & b) | (~a & c)) + w13 + 0xfd987193) | 0;
  d = (((n << 12) | (n >>> 20)) + a) | 0;
  n = (c + ((d & a) | (~d & b)) + w14 + 0xa679438e) | 0;
  c = (((n << 17) | (n >>> 15)) + d) | 0;
  n = (b + ((c & d) | (~c & a)) + w15 + 0x49b40821) | 0;
  b = (((n << 22) | (n >>> 10)) + c) | 0;
  // round 2
  n = (a + ((b & d) | (c & ~d)) + w1 + 0xf61e2562) | 0;
  a = (((n << 5) | (n >>> 27)) + b) | 0;
  n = (d + ((a & c) | (b & ~c)) + w6 + 0xc040b340) | 0;
  d = (((n << 9) | (n >>> 23)) + a) | 0;
  n = (c + ((d & b) | (a & ~b)) + w11 + 0x265e5a51) | 0;
  c = (((n << 14) | (n >>> 18)) + d) | 0;
  n = (b + ((c & a) | (d & ~a)) + w0 + 0xe9b6c7aa) | 0;
  b = (((n << 20) | (n >>> 12)) + c) | 0;
  n = (a + ((b & d) | (c & ~d)) + w5 + 0xd62f105d) | 0;
  a = (((n << 5) | (n >>> 27)) + b) | 0;
  n = (d + ((a & c) | (b & ~c)) + w10 + 0x02441453) | 0;
  d = (((n << 9) | (n >>> 23)) + a) | 0;
  n = (c + ((d & b) | (a & ~b)) + w15 + 0xd8a1e681) | 0;
  c = (((n << 14) | (n >>> 18)) + d) | 0;
  n = (b + ((c & a) | (d & ~a)) + w4 + 0xe7d3fbc8) | 0;
  b = (((n << 20) | (n >>> 12)) + c) | 0;
  n = (a + ((b & d) | (c & ~d)) + w9 + 0x21e1cde6) | 0;
  a = (((n << 5) | (n >>> 27)) + b) | 0;
  n = (d + ((a & c) | (b & ~c)) + w14 + 0xc33707d6) | 0;
  d = (((n << 9) | (n >>> 23)) + a) | 0;
  n = (c + ((d & b) | (a & ~b)) + w3 + 0xf4d50d87) | 0;
  c = (((n << 14) | (n >>> 18)) + d) | 0;
  n = (b + ((c & a) | (d & ~a)) + w8 + 0x455a14ed) | 0;
  b = (((n << 20) | (n >>> 12)) + c) | 0;
  n = (a + ((b & d) | (c & ~d)) + w13 + 0xa9e3e905) | 0;
  a = (((n << 5) | (n >>> 27)) + b) | 0;
  n = (d + ((a & c) | (b & ~c)) + w2 + 0xfcefa3f8) | 0;
  d = (((n << 9) | (n >>> 23)) + a) | 0;
  n = (c + ((d & b) | (a & ~b)) + w7 + 0x676f02d9) | 0;
  c = (((n << 14) | (n >>> 18)) + d) | 0;
  n = (b + ((c & a) | (d & ~a)) + w12 + 0x8d2a4c8a) | 0;
  b = (((n << 20) | (n >>> 12)) + c) | 0;
  // round 3
  n = (a + (b ^ c ^ d) + w5 + 0xfffa3942) | 0;
  a = (((n << 4) | (n >>> 28)) + b) | 0;
  n = (d + (a ^ b ^ c) + w8 + 0x8771f681) | 0;
  d = (((n << 11) | (n >>> 21)) + a) | 0;
  n = (c + (d ^ a ^ b) + w11 + 0x6d9d6122) | 0;
  c = (((n << 16) | (n >>> 16)) + d) | 0;
  n = (b + (c ^ d ^ a) + w14 + 0xfde5380c) | 0;
  b = (((n << 23) | (n >>> 9)) + c) | 0;
  n = (a + (b ^ c ^ d) + w1 + 0xa4beea44) | 0;
  a = (((n << 4) | (n >>> 28)) + b) | 0;
  n = (d + (a ^ b ^ c) + w4 + 0x4bdecfa9) | 0;
  d = (((n << 11) | (n >>> 21)) + a) | 0;
  n = (c + (d ^ a ^ b) + w7 + 0xf6bb4b60) | 0;
  c = (((n << 16) | (n >>> 16)) + d) | 0;
  n = (b + (c ^ d ^ a) + w10 + 0xbebfbc70) | 0;
  b = (((n << 23) | (n >>> 9)) + c) | 0;
  n = (a + (b ^ c ^ d) + w13 + 0x289b7ec6) | 0;
  a = (((n << 4) | (n >>> 28)) + b) | 0;
  n = (d + (a ^ b ^ c) + w0 + 0xeaa127fa) | 0;
  d = (((n << 11) | (n >>> 21)) + a) | 0;
  n = (c + (d ^ a ^ b) + w3 + 0xd4ef3085) | 0;
  c = (((n << 16) | (n >>> 16)) + d) | 0;
  n = (b + (c ^ d ^ a) + w6 + 0x04881d05) | 0;
  b = (((n << 23) | (n >>> 9)) + c) | 0;
  n = (a + (b ^ c ^ d) + w9 + 0xd9d4d039) | 0;
  a = (((n << 4) | (n >>> 28)) + b) | 0;
  n = (d + (a ^ b ^ c) + w12 + 0xe6db99e5) | 0;
  d = (((n << 11) | (n >>> 21)) + a) | 0;
  n = (c + (d ^ a ^ b) + w15 + 0x1fa27cf8) | 0;
  c = (((n << 16) | (n >>> 16)) + d) | 0;
  n = (b + (c ^ d ^ a) + w2 + 0xc4ac5665) | 0;
  b = (((n << 23) | (n >>> 9)) + c) | 0;
  // round 4
  n = (a + (c ^ (b | ~d)) + w0 + 0xf4292244) | 0;
  a = (((n << 6) | (n >>> 26)) + b) | 0;
  n = (d + (b ^ (a | ~c)) + w7 + 0x432aff97) | 0;
  d = (((n << 10) | (n >>> 22)) + a) | 0;
  n = (c + (a ^ (d | ~b)) + w14 + 0xab9423a7) | 0;
  c = (((n << 15) | (n >>> 17)) + d) | 0;
  n = (b + (d ^ (c | ~a)) + w5 + 0xfc93a039) | 0;
  b = (((n << 21) | (n >>> 11)) + c) | 0;
  n = (a + (c ^ (b | ~d)) + w12 + 0x655b59c3) | 0;
  a = (((n << 6) | (n >>> 26)) + b) | 0;
  n = (d + (b ^ (a | ~c)) + w3 + 0x8f0ccc92) | 0;
  d = (((n << 10) | (n >>> 22)) + a) | 0;
  n = (c + (a ^ (d | ~b)) + w10 + 0xffeff47d) | 0;
  c = (((n << 15) | (n >>> 17)) + d) | 0;
  n = (b + (d ^ (c | ~a)) + w1 + 0x85845dd1) | 0;
  b = (((n << 21) | (n >>> 11)) + c) | 0;
  n = (a + (c ^ (b | ~d)) + w8 + 0x6fa87e4f) | 0;
  a = (((n << 6) | (n >>> 26)) + b) | 0;
  n = (d + (b ^ (a | ~c)) + w15 + 0xfe2ce6e0) | 0;
  d = (((n << 10) | (n >>> 22)) + a) | 0;
  n = (c + (a ^ (d | ~b)) + w6 + 0xa3014314) | 0;
  c = (((n << 15) | (n >>> 17)) + d) | 0;
  n = (b + (d ^ (c | ~a)) + w13 + 0x4e0811a1) | 0;
  b = (((n << 21) | (n >>> 11)) + c) | 0;
  n = (a + (c ^ (b | ~d)) + w4 + 0xf7537e82) | 0;
  a = (((n << 6) | (n >>> 26)) + b) | 0;
  n = (d + (b ^ (a | ~c)) + w11 + 0xbd3af235) | 0;
  d = (((n << 10) | (n >>> 22)) + a) | 0;
  n = (c + (a ^ (d | ~b)) + w2 + 0x2ad7d2bb) | 0;
  c = (((n << 15) | (n >>> 17)) + d) | 0;
  n = (b + (d ^ (c | ~a)) + w9 + 0xeb86d391) | 0;
  b = (((n << 21) | (n >>> 11)) + c) | 0;
  state[0] = state[0]! + a;
  state[1] = state[1]! + b;
  state[2] = state[2]! + c;
  state[3] = state[3]! + d;
}

function digest(key: Uint8Array, start: number, end: number): void {
  state[0] = 0x67452301;
  state[1] = 0xefcdab89;
  state[2] = 0x98badcfe;
  state[3] = 0x10325476;
  let p = start;
  while (end - p >= 64) {
    compress(key, p);
    p += 64;
  }
  const rem = end - p;
  for (let i = 0; i < rem; i++) tail[i] = key[p + i]!;
  tail[rem] = 0x80;
  const total = rem < 56 ? 64 : 128;
  tail.fill(0, rem + 1, total - 8);
  const len = end - start;
  const lo = (len << 3) >>> 0;
  const hi = Math.floor(len / 0x20000000);
  tail[total - 8] = lo;
  tail[total - 7] = lo >>> 8;
  tail[total - 6] = lo >>> 16;
  tail[total - 5] = lo >>> 24;
  tail[total - 4] = hi;
  tail[total - 3] = hi >>> 8;
  tail[total - 2] = hi >>> 16;
  tail[total - 1] = hi >>> 24;
  compress(tail, 0);
  if (total === 128) compress(tail, 64);
}

/** twemproxy's hash_md5: the first 4 bytes of md5(key[start, end)) as a little-endian u32. */
export function hashMd5(key: Uint8Array, start: number, end: number): number {
  digest(key, start, end);
  return state[0]! >>> 0;
}

/** All 16 digest bytes as 4 little-endian u32s, written into `out` (for tests and tools). */
export function md5Words(key: Uint8Array, start: number, end: number, out: Uint32Array): void {
  digest(key, start, end);
  out[0] = state[0]!;
  out[1] = state[1]!;
  out[2] = state[2]!;
  out[3] = state[3]!;
}
