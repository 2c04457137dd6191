/**
 * Listen entries: `"127.0.0.1:11211"`, `"[::1]:11211"`, `"unix:/run/memshift.sock"` (or a bare absolute
 * path), or the map forms `{host, port}` and `{path, mode}` (checked in schema.ts). Port 0 asks the OS
 * for a free port, which tests use.
 */
import type { ListenSpec } from './types.js';
import { type Parsed, fail, formatHostPort, ok, parsePort, splitHost } from './address.js';

export const LISTEN_FORMAT = '"host:port" or "unix:/path"';
/** Linux's sun_path holds 108 bytes including the final NUL. */
export const MAX_UNIX_PATH_BYTES = 107;

export function parseListenString(raw: string): Parsed<ListenSpec> {
  const text = raw.trim();
  if (text === '') return fail(`empty listen entry; expected ${LISTEN_FORMAT}`);
  if (text.startsWith('unix:') || text.startsWith('/')) {
    const path = text.startsWith('unix:') ? text.slice('unix:'.length) : text;
    const checked = checkUnixPath(path);
    if (!checked.ok) return checked;
    return ok({ kind: 'unix', path, raw });
  }
  const split = splitHost(text, LISTEN_FORMAT);
  if (!split.ok) return split;
  const { host, fields } = split.value;
  if (fields.length !== 1) return fail(`expected ${LISTEN_FORMAT}, got "${raw}"`);
  const port = parsePort(fields[0], true);
  if (!port.ok) return port;
  return ok({ kind: 'tcp', host, port: port.value, raw });
}

export function checkUnixPath(path: string): Parsed<string> {
  if (path === '') return fail('empty unix socket path');
  if (Buffer.byteLength(path) > MAX_UNIX_PATH_BYTES) {
    return fail(`unix socket path is longer than ${MAX_UNIX_PATH_BYTES} bytes: "${path}"`);
  }
  return ok(path);
}

/**
 * A socket file mode, written as a quoted octal string ("0660", "660" or "0o660"). A YAML number is refused:
 * YAML 1.2 reads `0660` as the decimal 660, which would be a wrong mode, silently.
 */
export function parseSocketMode(input: unknown): Parsed<number> {
  if (typeof input === 'number') {
    return fail(`mode must be a quoted octal string such as "0660" (YAML reads 0660 as the decimal 660), got ${input}`);
  }
  if (typeof input !== 'string' || !/^(?:0o?)?[0-7]{1,4}$/i.test(input.trim())) {
    return fail(`mode must be an octal string such as "0660", got ${JSON.stringify(input)}`);
  }
  const mode = Number.parseInt(input.trim().replace(/^0o/i, ''), 8);
  if (mode > 0o777) return fail(`mode must be at most "0777", got "${input}"`);
  return ok(mode);
}

/** The identity two listen entries may not share (port 0 never clashes: each gets its own port). */
export function listenIdentity(spec: ListenSpec): string | undefined {
  if (spec.kind === 'unix') return `unix:${spec.path}`;
  return spec.port === 0 ? undefined : formatHostPort(spec.host.toLowerCase(), spec.port);
}

/**
 * A key per entry that says which entries of two listen lists are the same listener (a reload keeps
 * it): its identity, or for port 0 the host and its rank among that host's port-0 entries.
 */
export function listenKeys(list: readonly ListenSpec[]): string[] {
  const zeros = new Map<string, number>();
  return list.map((spec) => {
    const id = listenIdentity(spec);
    if (id !== undefined) return id;
    const host = spec.kind === 'tcp' ? spec.host.toLowerCase() : '';
    const n = zeros.get(host) ?? 0;
    zeros.set(host, n + 1);
    return `${formatHostPort(host, 0)}#${n}`;
  });
}
