#!/usr/bin/env node
/**
 * The `memshift` command: dispatches to the subcommands in src/cli/, prints errors as one line each
 * and maps error codes to sysexits.h statuses. `main()` runs in-process for tests; the process entry
 * at the bottom runs only when this file is the program.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { isMemshiftError } from './errors.js';
import { ConfigError, formatIssue } from './config/issues.js';
import { type CliIo, type Command, EXIT, exitStatusOf } from './cli/common.js';

export { EXIT_STATUS, exitStatusOf } from './cli/common.js';
import { serveCommand } from './cli/serve.js';
import { checkCommand } from './cli/check.js';
import { routeCommand } from './cli/route.js';
import { syncCommand } from './cli/sync.js';
import { planCommand } from './cli/plan.js';
import { migrateCommand } from './cli/migrate.js';
import { reloadCommand } from './cli/reload.js';
import { importTwemproxyCommand } from './cli/import-twemproxy.js';
import { topCommand } from './cli/top.js';
import { healthCommand } from './cli/health.js';
import { packageVersion, versionCommand } from './cli/version.js';
import { closestName } from './config/did-you-mean.js';

export const COMMANDS: readonly Command[] = [serveCommand, checkCommand, routeCommand, syncCommand, planCommand, migrateCommand, reloadCommand, topCommand, importTwemproxyCommand, healthCommand, versionCommand];

function topHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: memshift <command> [options]

memcached-protocol sidecar proxy with twemproxy-compatible ketama routing.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Options:
  -h, --help          show this help (also: memshift <command> --help)
  -V, -v, --version   print the version (also: memshift version)

Exit statuses: 0 ok, 64 usage, 65 cannot convert (import-twemproxy), 66 file unreadable,
69 unavailable, 70 internal error, 78 bad config.
`;
}

export const processIo: CliIo = {
  out: (text) => void process.stdout.write(text),
  err: (text) => void process.stderr.write(text),
  env: process.env,
};

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [first, ...rest] = argv;
  try {
    if (first === undefined) {
      io.err(topHelp());
      return EXIT.USAGE;
    }
    if (first === '-h' || first === '--help' || first === 'help') {
      const command = first === 'help' && rest[0] !== undefined ? findCommand(rest[0]) : undefined;
      if (first === 'help' && rest[0] !== undefined && command === undefined) return unknownCommand(rest[0], io);
      io.out(command?.help ?? topHelp());
      return EXIT.OK;
    }
    if (first === '-V' || first === '-v' || first === '--version') {
      io.out(`memshift ${packageVersion()}\n`);
      return EXIT.OK;
    }
    const command = findCommand(first);
    if (command === undefined) return unknownCommand(first, io);
    return await command.run(rest, io);
  } catch (err) {
    return report(err, io);
  }
}

function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}

/** An unknown command: the closest one when there is one (`chekc`: check), else the help. */
function unknownCommand(name: string, io: CliIo): number {
  const what = name.startsWith('-') ? 'option' : 'command';
  const near = what === 'command' ? closestName(name, COMMANDS.map((c) => c.name)) : undefined;
  if (near !== undefined) io.err(`memshift: unknown command "${name}"\nDid you mean "memshift ${near}"? Try "memshift --help" for every command.\n`);
  else io.err(`memshift: unknown ${what} "${name}"\n\n${topHelp()}`);
  return EXIT.USAGE;
}

function report(err: unknown, io: CliIo): number {
  if (err instanceof ConfigError) {
    for (const issue of err.issues) io.err(`${formatIssue(issue)}\n`);
    io.err(`memshift: ${err.issues.length} problem${err.issues.length === 1 ? '' : 's'} in ${err.issues[0]?.source ?? 'the config'}\n`);
  } else if (isMemshiftError(err, 'MS_ERR_USAGE')) {
    const command = (err.details as { command?: string } | undefined)?.command;
    const prefix = command === undefined ? 'memshift' : `memshift ${command}`;
    io.err(`${prefix}: ${err.message}\nTry "${prefix} --help".\n`);
  } else if (isMemshiftError(err)) {
    io.err(`memshift: ${err.message} [${err.code}]\n`);
  } else {
    io.err(`memshift: internal error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  return exitStatusOf(err);
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return realpathSync(script) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = await main(process.argv.slice(2));
}
