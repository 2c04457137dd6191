/**
 * The building blocks every part of the config schema uses (schema.ts, tls-schema.ts): a field
 * parsed by a small parser, a map that refuses unknown keys, and issues at a path.
 */
import { z } from 'zod';
import { type Parsed, fail } from './address.js';
import { describe, parseDuration } from './units.js';

/** For cross-reference checks that run even when other fields failed (`{ when: always }`). */
export const always = (): boolean => true;

export function addIssue(ctx: z.RefinementCtx, path: PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

/** A field parsed by one of the small parsers; a missing value is reported as missing. */
export function field<T>(parse: (input: unknown) => Parsed<T>) {
  return z.unknown().transform((input, ctx): T => {
    const r = input === undefined ? fail<T>('required setting is missing') : parse(input);
    if (r.ok) return r.value;
    ctx.addIssue({ code: 'custom', message: r.error });
    return z.NEVER;
  });
}

/** A map that refuses unknown keys, one issue per key (located at the key), with a suggestion. */
export function strictMap<S extends z.ZodRawShape>(shape: S) {
  const known = Object.keys(shape);
  const unknownKey = z.unknown().superRefine((_value, ctx) => {
    ctx.addIssue({ code: 'custom', message: 'unknown key', params: { unknownKey: true, known } });
  });
  return z.object(shape).catchall(unknownKey);
}

/** A parser that also refuses values below `min`. */
export function atLeast(min: number, parse: (input: unknown) => Parsed<number>, what: string) {
  return (input: unknown): Parsed<number> => {
    const r = parse(input);
    if (r.ok && r.value < min) return fail(`${what} must be at least ${min}, got ${describe(input)}`);
    return r;
  };
}

/** A duration in ms (`250ms`, `1s`, `2m` or a number of ms) of at least `min` ms. */
export const duration = (min = 1) => field(atLeast(min, parseDuration, 'duration'));
