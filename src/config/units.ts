/**
 * Sizes and durations as operators write them.
 *
 * Sizes: a byte count (`1048576`) or a number with a unit, `64k`, `1m`, `1MiB`, `8MB`, `1g`. Every unit is
 * a power of 1024, as in memcached's `-I 1m`: `k`, `kb` and `kib` all mean 1024 bytes.
 * Durations: milliseconds (`1000`) or a number with a unit, `250ms`, `1s`, `1.5s`, `2m`, `1h`.
 */
import { type Parsed, fail, ok } from './address.js';

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
const SIZE = /^([0-9]+(?:\.[0-9]+)?)\s*(?:([kmg])(?:i?b)?|(b))?$/i;

const DURATION_UNITS: Readonly<Record<string, number>> = { '': 1, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const DURATION = /^([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h)?$/i;

export const SIZE_HINT = 'a byte count or a size such as "64k", "1m", "1MiB"';
export const DURATION_HINT = 'milliseconds or a duration such as "250ms", "1s", "2m"';

/** Parses a size in bytes; the result is a non-negative safe integer. */
export function parseSize(input: unknown): Parsed<number> {
  return parseWithUnit(input, SIZE, (m) => SIZE_UNITS[(m[2] ?? m[3] ?? '').toLowerCase()], SIZE_HINT, 'bytes');
}

/** Parses a duration in milliseconds; the result is a non-negative safe integer. */
export function parseDuration(input: unknown): Parsed<number> {
  return parseWithUnit(input, DURATION, (m) => DURATION_UNITS[(m[2] ?? '').toLowerCase()], DURATION_HINT, 'ms');
}

function parseWithUnit(
  input: unknown,
  pattern: RegExp,
  unitOf: (m: RegExpExecArray) => number | undefined,
  hint: string,
  base: string,
): Parsed<number> {
  let value: number;
  if (typeof input === 'number') {
    value = input;
  } else if (typeof input === 'string') {
    const m = pattern.exec(input.trim());
    const unit = m === null ? undefined : unitOf(m);
    if (m === null || unit === undefined) return fail(`expected ${hint}, got ${describe(input)}`);
    value = Number(m[1]) * unit;
  } else {
    return fail(`expected ${hint}, got ${describe(input)}`);
  }
  if (!Number.isFinite(value) || value < 0) return fail(`expected ${hint}, got ${describe(input)}`);
  if (!Number.isSafeInteger(value)) return fail(`must be a whole number of ${base}, got ${describe(input)}`);
  return ok(value);
}

/** How a value read from YAML is quoted in an error message. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'nothing';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return 'a list';
  return 'a map';
}
