/**
 * `memshift route -c FILE KEY…`: where each key lives, by the same Router the proxy uses.
 * One line per key: key, pool, server address (and node name); `--json` prints one JSON object per line.
 */
import { Router } from '../routing/index.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION } from './common.js';
import { loadConfigFor, parseCommandArgs, table, usageError } from './common.js';

const HELP = `Usage: memshift route [-c FILE] [--json] KEY...

Prints, for each KEY, the pool it routes to and the server that owns it, as the proxy would
route it: route prefixes, hash_tag, hash and distribution.

Options:
${CONFIG_HELP}
      --json              print one JSON object per key: {"key","pool","server","name","hash"}
  -h, --help              show this help
`;

/** memcached's limit on a key, in bytes. */
export const MAX_KEY_BYTES = 250;

export interface KeyRoute {
  readonly key: string;
  readonly pool: string;
  readonly server: string;
  readonly name: string | null;
  /** The 32-bit hash looked up on the ring (after hash_tag). */
  readonly hash: number;
}

export function routeKeys(router: Router, keys: readonly string[]): KeyRoute[] {
  return keys.map((key) => {
    const bytes = Buffer.from(key, 'utf8');
    const { pool, server } = router.locate(bytes);
    const poolConfig = router.pools[pool];
    const spec = poolConfig?.servers[server];
    if (poolConfig === undefined || spec === undefined) throw new RangeError(`router returned pool ${pool} server ${server}`);
    return { key, pool: poolConfig.name, server: spec.address, name: spec.name ?? null, hash: router.ring(pool).hashOf(bytes) };
  });
}

/** A key memcached's text protocol can carry: 1–250 bytes, no space, CR, LF or NUL. */
function checkKey(key: string): void {
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes === 0 || bytes > MAX_KEY_BYTES || /[ \r\n\0]/.test(key)) {
    throw usageError('route', `${JSON.stringify(key)} is not a memcached key (1 to ${MAX_KEY_BYTES} bytes, no spaces or line breaks)`);
  }
}

/** The key as printed in the table: quoted when it holds whitespace or control characters. */
function printable(key: string): string {
  // eslint-disable-next-line no-control-regex
  return /[\s\x00-\x1f\x7f"]/.test(key) ? JSON.stringify(key) : key;
}

export async function runRoute(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('route', args, { ...CONFIG_OPTION, ...HELP_OPTION, json: { type: 'boolean' } }, true);
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  if (positionals.length === 0) throw usageError('route', 'give at least one KEY');
  positionals.forEach(checkKey);
  const router = new Router(loadConfigFor('route', values.config, io));
  const routes = routeKeys(router, positionals);
  if (values.json === true) {
    io.out(routes.map((r) => `${JSON.stringify(r)}\n`).join(''));
  } else {
    io.out(table(routes.map((r) => [printable(r.key), r.pool, r.name === null ? r.server : `${r.server} (${r.name})`])));
  }
  return EXIT.OK;
}

export const routeCommand: Command = {
  name: 'route',
  summary: 'print the pool and server each key routes to',
  help: HELP,
  run: runRoute,
};
