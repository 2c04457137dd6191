/**
 * `host:port` pieces shared by backend server strings and listen entries. An IPv6 address goes in
 * brackets (`[::1]:11211`); a bare one would be ambiguous with the `:weight` suffix.
 */
import { isIPv6 } from 'node:net';

/** What every small parser in src/config returns: a value, or one sentence saying what is wrong. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

/** A hostname or an IPv4 address: letters, digits, dots, hyphens and underscores. */
const HOSTNAME = /^[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?$/;
const DIGITS = /^[0-9]+$/;

export interface HostAndRest {
  readonly host: string;
  readonly ipv6: boolean;
  /** The `:`-separated fields after the host (port, weight …), not yet checked. */
  readonly fields: readonly string[];
}

/** Splits `host:a:b` or `[v6]:a:b` into the host and the remaining fields. */
export function splitHost(text: string, expected: string): Parsed<HostAndRest> {
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail(`missing "]" after the IPv6 address in "${text}"`);
    const host = text.slice(1, close);
    if (!isIPv6(host)) return fail(`"${host}" is not an IPv6 address`);
    const rest = text.slice(close + 1);
    if (rest !== '' && !rest.startsWith(':')) return fail(`expected ":" after "]" in "${text}"`);
    return ok({ host, ipv6: true, fields: rest === '' ? [] : rest.slice(1).split(':') });
  }
  const parts = text.split(':');
  const host = parts[0] ?? '';
  const ipv6Like = text.includes('::') || (parts.length > 3 && parts.every((p) => /^[0-9A-Fa-f]{0,5}$/.test(p)));
  if (ipv6Like) {
    return fail(`too many ":" in "${text}"; an IPv6 address must be in brackets, e.g. "[::1]:11211"`);
  }
  if (host === '') return fail(`missing host: expected ${expected}, got "${text}"`);
  if (!HOSTNAME.test(host)) return fail(`"${host}" is not a valid hostname or IP address`);
  return ok({ host, ipv6: false, fields: parts.slice(1) });
}

/** Checks a host given on its own (no port): a hostname, an IPv4 or a bare IPv6 address. */
export function checkHost(host: string): Parsed<string> {
  if (isIPv6(host) || HOSTNAME.test(host)) return ok(host);
  if (host.startsWith('[') && host.endsWith(']') && isIPv6(host.slice(1, -1))) return ok(host.slice(1, -1));
  return fail(`"${host}" is not a valid hostname or IP address`);
}

/** Parses a TCP port; `allowZero` for listeners (port 0 asks the OS for a free port). */
export function parsePort(text: string | undefined, allowZero = false): Parsed<number> {
  const min = allowZero ? 0 : 1;
  if (text === undefined || text === '') return fail('missing port');
  const port = DIGITS.test(text) ? Number(text) : NaN;
  if (!Number.isInteger(port) || port < min || port > 65535) {
    return fail(`port must be an integer from ${min} to 65535, got "${text}"`);
  }
  return ok(port);
}

/** Parses a positive integer written as decimal digits. */
export function parsePositiveInt(text: string, what: string): Parsed<number> {
  const n = DIGITS.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < 1) return fail(`${what} must be a positive integer, got "${text}"`);
  return ok(n);
}

/** `host:port`, with brackets around an IPv6 host. */
export function formatHostPort(host: string, port: number): string {
  return isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;
}

/** 127.0.0.0/8, ::1, IPv4-mapped loopback and `localhost`: only this host can reach it. */
export function isLoopbackHost(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || a.startsWith('127.') || a.toLowerCase() === 'localhost';
}
