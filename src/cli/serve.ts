/**
 * `memshift serve`: load the config, start the proxy, and on SIGTERM/SIGINT stop accepting, drain the
 * requests in flight and exit 0. A second signal while draining exits at once with status 1.
 */
import type { Config } from '../config/types.js';
import { packageVersion } from './version.js';
import { createLogger, isLogLevel, LOG_LEVELS, type Logger, type LogLevel } from '../observability/logger.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION } from './common.js';
import { loadConfigFor, parseCommandArgs, usageError } from './common.js';

export interface RunningProxy {
  close(): Promise<void>;
  readonly addresses: string[];
}

export interface ServeDeps {
  startProxy(config: Config, deps: { logger: Logger }): Promise<RunningProxy>;
  createLogger(options: { level: LogLevel }): Logger;
  /** Where SIGTERM/SIGINT come from (the process). */
  readonly signals: Pick<NodeJS.Process, 'on' | 'removeListener'>;
  /** Ends the process at once (second signal). */
  exit(code: number): void;
  /** memshift's version, for the start-up log line. */
  readonly version: string;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;

const HELP = `Usage: memshift serve [-c FILE] [--log-level LEVEL]

Runs the proxy with the given config. On SIGTERM or SIGINT it stops accepting connections, drains
the requests in flight and exits 0; a second signal exits at once.

Options:
${CONFIG_HELP}
      --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default: info)
  -h, --help              show this help
`;

export const defaultServeDeps: ServeDeps = {
  async startProxy(config, deps) {
    const proxy = await import('../proxy/index.js');
    return proxy.startProxy(config, deps);
  },
  createLogger,
  signals: process,
  exit: (code) => process.exit(code),
  get version() {
    return packageVersion();
  },
};

export async function runServe(args: string[], io: CliIo, deps: ServeDeps = defaultServeDeps): Promise<number> {
  const { values } = parseCommandArgs('serve', args, { ...CONFIG_OPTION, ...HELP_OPTION, 'log-level': { type: 'string' } });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) throw usageError('serve', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const config = loadConfigFor('serve', values.config, io);
  const logger = deps.createLogger({ level });

  // Listen for signals before starting, so one that arrives during start-up is not lost.
  let signalled: (signal: string) => void = () => undefined;
  const stopRequested = new Promise<string>((resolve) => (signalled = resolve));
  let draining = false;
  const onSignal = (signal: string): void => {
    if (draining) {
      logger.warn({ signal }, 'second signal while draining; exiting now');
      deps.exit(EXIT.FAILURE);
      return;
    }
    draining = true;
    signalled(signal);
  };
  for (const s of SIGNALS) deps.signals.on(s, onSignal);
  try {
    const server = await deps.startProxy(config, { logger });
    logger.info({ version: deps.version, config: config.source, addresses: server.addresses }, 'memshift started');
    const signal = await stopRequested;
    logger.info({ signal }, 'signal received; shutting down');
    try {
      await server.close();
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      return EXIT.SOFTWARE;
    }
    logger.info('memshift stopped; exiting');
    return EXIT.OK;
  } finally {
    for (const s of SIGNALS) deps.signals.removeListener(s, onSignal);
  }
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the proxy',
  help: HELP,
  run: (args, io) => runServe(args, io),
};
