/**
 * twemproxy's CRC hashes (src/hashkit/nc_crc16.c, nc_crc32.c). The tables are built at load time
 * from their polynomials; the generated vectors (test/fixtures/ring/hash-vectors.json, from
 * twemproxy's own C) check them against twemproxy's literal tables.
 *
 * - `crc16`: CRC-16/XMODEM (poly 0x1021), but twemproxy keeps the running value in a uint32_t and
 *   never masks it: `crc = (crc << 8) ^ tab[((crc >> 8) ^ c) & 0xff]`, so bits above 16 pile up and
 *   the result is a 32-bit number whose low 16 bits are the real CRC.
 * - `crc32`: libmemcached's variant, `((~crc32) >> 16) & 0x7fff`: only 15 bits.
 * - `crc32a`: the standard CRC-32 (poly 0xedb88320, reflected).
 */

function table16(): Uint16Array {
  const t = new Uint16Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n << 8;
    for (let k = 0; k < 8; k++) c = c & 0x8000 ? (c << 1) ^ 0x1021 : c << 1;
    t[n] = c;
  }
  return t;
}

function table32(): Int32Array {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    t[n] = c;
  }
  return t;
}

const CRC16_TABLE = table16();
const CRC32_TABLE = table32();

/** hash_crc16: unmasked 32-bit accumulator, see the header. */
export function hashCrc16(key: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) crc = (crc << 8) ^ CRC16_TABLE[((crc >>> 8) ^ key[i]!) & 0xff]!;
  return crc >>> 0;
}

function crc32(key: Uint8Array, start: number, end: number): number {
  let crc = -1;
  for (let i = start; i < end; i++) crc = (crc >>> 8) ^ CRC32_TABLE[(crc ^ key[i]!) & 0xff]!;
  return crc;
}

/** hash_crc32 (libmemcached compatible): 15 bits of the CRC-32. */
export function hashCrc32(key: Uint8Array, start: number, end: number): number {
  return (~crc32(key, start, end) >>> 16) & 0x7fff;
}

/** hash_crc32a: the standard CRC-32. */
export function hashCrc32a(key: Uint8Array, start: number, end: number): number {
  return ~crc32(key, start, end) >>> 0;
}
