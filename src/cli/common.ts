/**
 * What every subcommand shares: the I/O it writes to (so tests run commands in-process), argument
 * parsing with `node:util` parseArgs (any parse failure is a usage error), and config loading.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { type ErrorCode, isMemshiftError, MemshiftError } from '../errors.js';
import { CONFIG_ENV, loadConfigFile } from '../config/load.js';
import { closestName } from '../config/did-you-mean.js';
import type { Config } from '../config/types.js';

export interface CliIo {
  /** Writes to standard output; the text carries its own newlines. */
  readonly out: (text: string) => void;
  /** Writes to standard error. */
  readonly err: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
}

export interface Command {
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** The full `--help` text. */
  readonly help: string;
  /** Runs the command and resolves to its exit status. */
  run(args: string[], io: CliIo): Promise<number>;
}

/** sysexits.h statuses used by the CLI. */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 64,
  NOINPUT: 66,
  UNAVAILABLE: 69,
  SOFTWARE: 70,
  CONFIG: 78,
} as const;

/** The exit status for each error code (sysexits.h). Anything else that escapes is EX_SOFTWARE (70). */
export const EXIT_STATUS: Readonly<Record<ErrorCode, number>> = {
  MS_ERR_CONFIG: EXIT.CONFIG,
  MS_ERR_CONFIG_READ: EXIT.NOINPUT,
  MS_ERR_USAGE: EXIT.USAGE,
  MS_ERR_LISTEN: EXIT.UNAVAILABLE,
  MS_ERR_DISCOVERY: EXIT.UNAVAILABLE,
  MS_ERR_BACKEND_TIMEOUT: EXIT.UNAVAILABLE,
  MS_ERR_BACKEND_CLOSED: EXIT.UNAVAILABLE,
  MS_ERR_BACKEND_DOWN: EXIT.UNAVAILABLE,
  MS_ERR_BACKEND_OUT_OF_STEP: EXIT.UNAVAILABLE,
  MS_ERR_BACKEND_QUEUE_FULL: EXIT.UNAVAILABLE,
};

export function exitStatusOf(err: unknown): number {
  return isMemshiftError(err) ? EXIT_STATUS[err.code] : EXIT.SOFTWARE;
}

export type Options = NonNullable<ParseArgsConfig['options']>;

/** The -c/--config option, shared by every command that reads a config file. */
export const CONFIG_OPTION = { config: { type: 'string', short: 'c' } } as const satisfies Options;
export const HELP_OPTION = { help: { type: 'boolean', short: 'h' } } as const satisfies Options;

export const CONFIG_HELP = `  -c, --config FILE   the config file (default: $${CONFIG_ENV})`;

/**
 * parseArgs, strict, with its errors turned into MS_ERR_USAGE naming the command: an unknown option
 * says the closest known one, an argument where none is taken says to pass a config file with -c.
 */
export function parseCommandArgs<O extends Options>(command: string, args: string[], options: O, allowPositionals = false) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals });
  } catch (err) {
    const reason = (err instanceof Error ? err.message : String(err)).replace(/\. To specify a positional argument.*$/s, '');
    const code = (err as { code?: unknown }).code;
    const unknown = /^Unknown option '(--[^'=]+)/.exec(reason)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== undefined) {
      const near = closestName(unknown, Object.keys(options).map((name) => `--${name}`));
      if (near !== undefined) throw usageError(command, `${reason}; did you mean ${near}?`);
    }
    const positional = /^Unexpected argument '([^']*)'/.exec(reason)?.[1];
    if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL' && positional !== undefined && 'config' in options) {
      throw usageError(command, `unexpected argument "${positional}": to name the config file, use -c ${positional}`);
    }
    throw usageError(command, reason);
  }
}

export function usageError(command: string, reason: string): MemshiftError {
  return new MemshiftError('MS_ERR_USAGE', reason, { details: { command } });
}

/** Pads each column of `rows` to its widest cell (right-aligned where `right[i]`); no trailing spaces. */
export function table(rows: readonly (readonly string[])[], indent = '', right: readonly boolean[] = []): string {
  const widths: number[] = [];
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)));
  const pad = (cell: string, i: number): string => (right[i] === true ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0));
  return rows.map((row) => `${indent}${row.map(pad).join('  ')}`.trimEnd() + '\n').join('');
}

/** Loads the config named by -c or $MEMSHIFT_CONFIG; neither is a usage error of `command`. */
export function loadConfigFor(command: string, path: string | undefined, io: CliIo): Config {
  const file = path ?? io.env[CONFIG_ENV];
  if (file === undefined || file === '') throw usageError(command, `no config file: pass -c FILE or set ${CONFIG_ENV}`);
  return loadConfigFile(file);
}
