/**
 * memcached's number parsing (util.c safe_strtol / safe_strtoul / safe_strtoull) on
 * Buffer ranges, including its quirks, because replies must equal memcached's:
 * - leading whitespace and a sign are accepted (strtol), the number must end at
 *   whitespace or the end of the token;
 * - safe_strtoul and safe_strtol parse into a 64-bit long and then store into a
 *   32-bit integer, so `4294967296` flags read back as 0 and a `vlen` of
 *   `4294967297` is 1;
 * - a negative number is refused by the unsigned parsers only when its 64-bit
 *   value looks negative as a signed number (`-1` fails, `-0` is 0).
 * Each function returns `undefined` where memcached's returns false.
 */

const LONG_MAX = (1n << 63n) - 1n;
const LONG_MIN = -(1n << 63n);
const ULONG_MAX = (1n << 64n) - 1n;

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d);
}

/** Fast path: a plain run of up to 9 ASCII digits. Returns -1 when not plain. */
function plainDigits(buf: Buffer, start: number, end: number): number {
  const len = end - start;
  if (len === 0 || len > 9) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) return -1;
    n = n * 10 + c;
  }
  return n;
}

interface Scanned {
  value: bigint;
  negative: boolean;
  overflow: boolean;
}

/** strtol/strtoull's scan: whitespace, sign, digits; then memcached's end check. */
function scan(buf: Buffer, start: number, end: number, max: bigint): Scanned | undefined {
  let i = start;
  while (i < end && isSpace(buf[i]!)) i++;
  let negative = false;
  if (i < end && (buf[i] === 0x2b || buf[i] === 0x2d)) {
    negative = buf[i] === 0x2d;
    i++;
  }
  const digitsStart = i;
  let value = 0n;
  let overflow = false;
  while (i < end) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) break;
    if (!overflow) {
      value = value * 10n + BigInt(c);
      if (value > max) overflow = true;
    }
    i++;
  }
  if (i === digitsStart) return undefined; // str == endptr
  if (i < end && !isSpace(buf[i]!)) return undefined;
  return { value, negative, overflow };
}

/** safe_strtol: a signed 64-bit parse stored into int32. */
export function parseInt32(buf: Buffer, start: number, end: number): number | undefined {
  const fast = plainDigits(buf, start, end);
  if (fast >= 0) return fast;
  const s = scan(buf, start, end, LONG_MAX + 1n);
  if (!s) return undefined;
  const v = s.negative ? -s.value : s.value;
  if (s.overflow || v > LONG_MAX || v < LONG_MIN) return undefined; // ERANGE
  return Number(BigInt.asIntN(32, v));
}

/** safe_strtoul: an unsigned 64-bit parse stored into uint32. */
export function parseUint32(buf: Buffer, start: number, end: number): number | undefined {
  const fast = plainDigits(buf, start, end);
  if (fast >= 0) return fast;
  const v = parseUint64(buf, start, end);
  return v === undefined ? undefined : Number(BigInt.asUintN(32, v));
}

/** safe_strtoull: an unsigned 64-bit parse; strtoull negates "-N" modulo 2^64. */
export function parseUint64(buf: Buffer, start: number, end: number): bigint | undefined {
  const fast = plainDigits(buf, start, end);
  if (fast >= 0) return BigInt(fast);
  const s = scan(buf, start, end, ULONG_MAX);
  if (!s || s.overflow) return undefined; // ERANGE
  const v = s.negative ? BigInt.asUintN(64, -s.value) : s.value;
  // memcached refuses a '-' only when the result looks negative as a signed number.
  if (v > LONG_MAX && s.negative) return undefined;
  return v;
}

/** True when the range is a canonical decimal that memcached would read unchanged. */
export function isPlainDecimal(buf: Buffer, start: number, end: number): boolean {
  if (end - start === 0 || end - start > 20) return false;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}
