/**
 * twemproxy's hash_one_at_a_time (src/hashkit/nc_one_at_a_time.c), Bob Jenkins' one-at-a-time hash.
 * As in nc_fnv.c, each byte is a signed C `char` widened to uint32_t, so bytes >= 0x80 add
 * 0xffffff80..0xffffffff (x86-64 behaviour, checked by the generated vectors).
 */

export function hashOneAtATime(key: Uint8Array, start: number, end: number): number {
  let value = 0;
  for (let i = start; i < end; i++) {
    value = (value + ((key[i]! << 24) >> 24)) | 0;
    value = (value + (value << 10)) | 0;
    value ^= value >>> 6;
  }
  value = (value + (value << 3)) | 0;
  value ^= value >>> 11;
  value = (value + (value << 15)) | 0;
  return value >>> 0;
}
