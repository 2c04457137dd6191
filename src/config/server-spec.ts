/**
 * twemproxy's backend string, `host:port[:weight] [name]`, as in `nc_conf.c` (conf_add_server):
 *
 *   10.0.0.1:11211:1            host, port, weight
 *   10.0.0.2:11211:2 node-b     … and a node name, after whitespace
 *   [fd00::1]:11211 node-c      an IPv6 host in brackets; the weight defaults to 1
 *
 * Differences from twemproxy, all stricter or more forgiving in an obvious way:
 * - the weight may be left out (twemproxy requires it); it defaults to 1, and 0 is refused as there;
 * - unix-socket backends (`/path:weight`) are refused, since a ServerSpec has a host and a port;
 * - an IPv6 host must be bracketed (twemproxy parses from the end, so `::1:11211:1` works there).
 *
 * The ring identity is not decided here: routing uses `name` when set, else twemproxy's default
 * (`host` when the port is 11211, else `host:port`), see FIELD-NOTES §3.
 */
import type { ServerSpec } from './types.js';
import { type Parsed, fail, formatHostPort, ok, parsePort, parsePositiveInt, splitHost } from './address.js';

export const SERVER_FORMAT = '"host:port[:weight] [name]"';

export function parseServerSpec(raw: string): Parsed<ServerSpec> {
  const text = raw.trim();
  if (text === '') return fail(`empty server; expected ${SERVER_FORMAT}`);
  const tokens = text.split(/\s+/);
  if (tokens.length > 2) {
    return fail(`expected ${SERVER_FORMAT} with no whitespace in the name, got "${raw}"`);
  }
  const [addr = '', name] = tokens;
  if (addr.startsWith('/') || addr.startsWith('unix:')) {
    return fail(`unix-socket backends are not supported; expected ${SERVER_FORMAT}, got "${raw}"`);
  }
  const split = splitHost(addr, SERVER_FORMAT);
  if (!split.ok) return split;
  const { host, fields } = split.value;
  if (fields.length === 0) return fail(`missing port: expected ${SERVER_FORMAT}, got "${raw}"`);
  if (fields.length > 2) return fail(`expected ${SERVER_FORMAT}, got "${raw}"`);
  const port = parsePort(fields[0]);
  if (!port.ok) return port;
  let weight = 1;
  if (fields.length === 2) {
    const w = parsePositiveInt(fields[1] ?? '', 'weight');
    if (!w.ok) return w;
    weight = w.value;
  }
  const address = formatHostPort(host, port.value);
  const spec: ServerSpec = name === undefined
    ? { host, port: port.value, weight, address, raw }
    : { host, port: port.value, weight, name, address, raw };
  return ok(spec);
}
