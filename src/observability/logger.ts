/**
 * One logger (pino) to stdout. memshift logs state changes only (listening, a backend going down
 * or up, a config problem, shutdown), never a request: a muted level costs one empty call (FIELD-NOTES §6).
 *
 * Two formats: `json`, one JSON object a line (the default off a terminal: for log shippers), and
 * `pretty`, pino-pretty's coloured lines for a person (the default on a terminal). pino-pretty runs
 * as a synchronous stream in the process, not as a transport in a worker thread: nothing is lost
 * when the process exits at once, and it is loaded only when asked for, so the JSON path stays as
 * it was.
 */
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';
import type PinoPretty from 'pino-pretty';

export type Logger = PinoLogger;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export function isLogFormat(value: unknown): value is LogFormat {
  return typeof value === 'string' && (LOG_FORMATS as readonly string[]).includes(value);
}

/** `pretty` when standard output is a terminal (a person reads it), else `json`. */
export function defaultLogFormat(isTTY: boolean | undefined = process.stdout.isTTY): LogFormat {
  return isTTY === true ? 'pretty' : 'json';
}

export interface LoggerOptions {
  /** Default `info`. */
  readonly level?: LogLevel;
  /** Default `json`. */
  readonly format?: LogFormat;
  /** Where the lines go; default stdout, written synchronously so nothing is lost at exit. */
  readonly destination?: DestinationStream;
}

const require = createRequire(import.meta.url);

/** pino-pretty over `destination` (or stdout): time, level, message and the fields, one line per event. */
function prettyStream(destination: DestinationStream | undefined): DestinationStream {
  const pretty = require('pino-pretty') as typeof PinoPretty;
  return pretty({
    sync: true,
    singleLine: true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname',
    ...(destination === undefined ? { destination: 1 } : { destination, colorize: false }),
  });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const destination = options.format === 'pretty' ? prettyStream(options.destination) : (options.destination ?? pino.destination({ dest: 1, sync: true }));
  return pino(
    {
      level: options.level ?? 'info',
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}
