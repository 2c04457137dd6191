/**
 * `memshift import-twemproxy [--pool NAME] FILE`: converts a twemproxy (nutcracker) config to a
 * memshift config on stdout (src/cli/twemproxy-import.ts does the work). A file it cannot convert
 * exactly gets every problem on stderr, as FILE:LINE:COLUMN POOL.SETTING: MESSAGE, and exit 65
 * (EX_DATAERR): the input is readable but its data cannot be reproduced.
 */
import { readFileSync } from 'node:fs';
import { MemshiftError } from '../errors.js';
import { formatIssue } from '../config/issues.js';
import { importTwemproxy, TwemproxyImportError } from './twemproxy-import.js';
import { type CliIo, type Command, EXIT, HELP_OPTION, parseCommandArgs, usageError } from './common.js';

/** sysexits.h EX_DATAERR: the input data was incorrect in some way. */
export const EX_DATAERR = 65;

const HELP = `Usage: memshift import-twemproxy [--pool NAME] FILE

Converts a twemproxy (nutcracker) config to a memshift config and prints it on stdout:

  memshift import-twemproxy nutcracker.yml > memshift.yml

memshift then places every key on the server nutcracker placed it on, so clients switch with a
warm cache. Converted: listen, hash (all of twemproxy's: one_at_a_time, md5, crc16, crc32, crc32a,
fnv1_64, fnv1a_64, fnv1_32, fnv1a_32, hsieh, murmur, jenkins), distribution (ketama, modula),
hash_tag, servers (weights and names), timeout, server_connections, and auto_eject_hosts,
server_failure_limit and server_retry_timeout (as backend settings, with a comment on what
differs: memshift never takes a server off the ring on its own). Settings with no effect on where
keys go (backlog, preconnect, ...) are listed in a comment. FILE "-" reads standard input.

Refused, with every problem on stderr as FILE:LINE:COLUMN SETTING: MESSAGE, and exit 65:
  - distribution random (a key has no one place, so no cache behind it stays warm)
  - redis: true (memshift speaks the memcached protocol)
  - a file with several pools, unless --pool names one: nutcracker picks a pool by the address a
    client connects to, memshift by key prefix on every listener; run one memshift per pool
  - unix-socket servers, two servers on one address, and whatever nutcracker itself refuses
    (an unknown setting or hash, a missing weight, a zero weight, ...)

Options:
      --pool NAME         the pool to convert (required when the file has several)
  -h, --help              show this help

Exit statuses: 0 converted, 64 usage, 65 cannot be converted exactly, 66 FILE unreadable.
`;

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new MemshiftError('MS_ERR_CONFIG_READ', `cannot read twemproxy config ${file}: ${reason}`, { cause: err });
  }
}

export async function runImportTwemproxy(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommandArgs('import-twemproxy', args, { ...HELP_OPTION, pool: { type: 'string' } }, true);
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  if (positionals.length !== 1) throw usageError('import-twemproxy', positionals.length === 0 ? 'give the twemproxy config FILE' : `give one FILE, got ${positionals.length}`);
  const file = positionals[0]!;
  const text = readInput(file);
  try {
    const result = importTwemproxy(text, { source: file === '-' ? '<stdin>' : file, ...(values.pool === undefined ? {} : { pool: values.pool }) });
    io.out(result.yaml);
    return EXIT.OK;
  } catch (err) {
    if (!(err instanceof TwemproxyImportError)) throw err;
    for (const problem of err.problems) io.err(`${formatIssue(problem)}\n`);
    const n = err.problems.length;
    io.err(`memshift import-twemproxy: cannot convert ${file === '-' ? '<stdin>' : file} exactly (${n} problem${n === 1 ? '' : 's'})\n`);
    return EX_DATAERR;
  }
}

export const importTwemproxyCommand: Command = {
  name: 'import-twemproxy',
  summary: 'convert a twemproxy (nutcracker) config to memshift, keys in place',
  help: HELP,
  run: runImportTwemproxy,
};
