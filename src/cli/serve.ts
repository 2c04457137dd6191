/**
 * `memshift serve`: load the config, start the proxy, and on SIGTERM/SIGINT stop accepting, drain the
 * requests in flight and exit 0. A second signal while draining exits at once with status 1.
 */
import type { Config } from '../config/types.js';
import { packageVersion } from './version.js';
import { createLogger, defaultLogFormat, isLogFormat, isLogLevel, LOG_FORMATS, LOG_LEVELS, type LogFormat, type Logger, type LogLevel } from '../observability/logger.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, exitStatusOf, HELP_OPTION } from './common.js';
import { isMemshiftError } from '../errors.js';
import { parseCommandArgs, usageError } from './common.js';
import { CONFIG_ENV, parseDuration } from '../config/index.js';
import { FileSource, UrlSource } from '../config/source.js';
import type { ConfigSource } from '../app/reload.js';

export interface RunningProxy {
  close(): Promise<void>;
  readonly addresses: string[];
  /** Applies the config again from its source (SIGHUP, a file change, the URL's poll). */
  reload?(next: ConfigSource, opts: { trigger: string }): Promise<unknown>;
}

export interface ServeDeps {
  /** One process, or with `workers: N` (N > 1) the cluster primary that forks N workers logging as `log` says. */
  startProxy(config: Config, deps: { logger: Logger; log: { level: LogLevel; format: LogFormat }; reloadFromSource?: (opts?: { peek?: boolean }) => Config | Promise<Config> }): Promise<RunningProxy>;
  createLogger(options: { level: LogLevel; format: LogFormat }): Logger;
  /** Standard output is a terminal (the log format's default: pretty there, else json); default: process.stdout's. */
  readonly isTTY?: boolean;
  /** Where SIGTERM/SIGINT come from (the process). */
  readonly signals: Pick<NodeJS.Process, 'on' | 'removeListener'>;
  /** Ends the process at once (second signal). */
  exit(code: number): void;
  /** memshift's version, for the start-up log line. */
  readonly version: string;
}

const SIGNALS = ['SIGTERM', 'SIGINT'] as const;
/** How long a process whose start failed, or whose shutdown is complete, may take to end on its own before it is made to. */
const START_FAILURE_EXIT_MS = 2_000;

const HELP = `Usage: memshift serve [-c FILE | --config-url URL] [--log-level LEVEL] [--log-format json|pretty]

Runs the proxy with the given config. Every listener (client TCP, TLS and unix socket, admin) is
bound first: when one cannot bind, memshift prints why and exits 69, having closed the others and
connected to nothing. Clients that connect while it joins a running migration wait for it. On
SIGTERM or SIGINT it stops accepting connections, drains the requests in flight and exits 0; a
second signal exits at once.

The config is reloaded on SIGHUP, on POST /reload (admin API), when the file changes, and when the
document at --config-url changes (polled with If-None-Match). A reload that would move keys
without a migration, or that needs a restart, is refused and the running config stays; so is one
that adds a listener that cannot bind (a removed listener stops accepting; its clients stay).

Options:
${CONFIG_HELP}
      --config-url URL    read the config from an http(s) URL instead, and poll it
      --config-poll DUR   how often to poll --config-url (default 30s)
      --log-level LEVEL   ${LOG_LEVELS.join(', ')} (default: info)
      --log-format FMT    json (one JSON object a line) or pretty (for a person, by pino-pretty);
                          default: pretty when standard output is a terminal, else json
  -h, --help              show this help
`;

export const defaultServeDeps: ServeDeps = {
  async startProxy(config, deps) {
    if (config.workers > 1) {
      const cluster = await import('../app/cluster/primary.js');
      return cluster.startCluster(config, deps);
    }
    const proxy = await import('../app/server.js');
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
  const { values } = parseCommandArgs('serve', args, {
    ...CONFIG_OPTION,
    ...HELP_OPTION,
    'log-level': { type: 'string' },
    'log-format': { type: 'string' },
    'config-url': { type: 'string' },
    'config-poll': { type: 'string' },
  });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const level = values['log-level'] ?? 'info';
  if (!isLogLevel(level)) throw usageError('serve', `--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
  const format = values['log-format'] ?? defaultLogFormat(deps.isTTY ?? process.stdout.isTTY);
  if (!isLogFormat(format)) throw usageError('serve', `--log-format must be one of ${LOG_FORMATS.join(', ')}, got "${format}"`);
  const source = configSource(values, io);
  const config = source instanceof FileSource ? source.loadSync() : await source.load();
  const logger = deps.createLogger({ level, format });

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
  let server: RunningProxy | null = null;
  const reload = (trigger: string): void => {
    if (server?.reload === undefined || draining) return;
    const next = trigger === 'url' && source instanceof UrlSource ? () => source.parsed() : () => source.load();
    void server.reload(next, { trigger });
  };
  const onHangup = (): void => reload('SIGHUP');
  deps.signals.on('SIGHUP', onHangup);
  try {
    try {
      server = await deps.startProxy(config, { logger, log: { level, format }, reloadFromSource: (opts) => (opts?.peek === true ? source.peek() : source.load()) });
    } catch (err) {
      failedStart(err, logger, deps);
      throw err;
    }
    logger.info({ version: deps.version, config: config.source, addresses: server.addresses }, 'memshift started');
    source.watch(
      () => reload(source instanceof UrlSource ? 'url' : 'file'),
      (err) => logger.warn({ source: source.name, err: err.message }, 'config source could not be read; the running config stays'),
    );
    const signal = await stopRequested;
    source.stop();
    logger.info({ signal }, 'signal received; shutting down');
    try {
      await server.close();
    } catch (err) {
      logger.error({ err }, 'shutdown failed');
      return EXIT.SOFTWARE;
    }
    logger.info('memshift stopped; exiting');
    // Nothing should be left to hold the process; should anything be, a supervisor still sees it end.
    exitLater(EXIT.OK, 'after the shutdown', logger, deps);
    return EXIT.OK;
  } finally {
    source.stop();
    for (const s of SIGNALS) deps.signals.removeListener(s, onSignal);
    deps.signals.removeListener('SIGHUP', onHangup);
  }
}

/**
 * A start that failed (a listener that cannot bind: MS_ERR_LISTEN, exit 69) has closed what it
 * opened, so the process ends as soon as the error is printed. Should anything still hold it, it
 * exits anyway after START_FAILURE_EXIT_MS: a supervisor must see the failure, not a hung process.
 */
function failedStart(err: unknown, logger: Logger, deps: ServeDeps): void {
  const status = exitStatusOf(err);
  const code = isMemshiftError(err) ? err.code : undefined;
  logger.fatal({ code, err: err instanceof Error ? err.message : String(err), exit: status }, 'memshift cannot start; exiting');
  exitLater(status, 'after a failed start', logger, deps);
}

/** Exits with `status` in START_FAILURE_EXIT_MS unless the process ended on its own before (the timer holds nothing). */
function exitLater(status: number, after: string, logger: Logger, deps: ServeDeps): void {
  setTimeout(() => {
    logger.error({ exit: status }, `still running ${START_FAILURE_EXIT_MS} ms ${after}; exiting now`);
    deps.exit(status);
  }, START_FAILURE_EXIT_MS).unref();
}

/** The -c file (or $MEMSHIFT_CONFIG), or --config-url. */
function configSource(values: { config?: string | undefined; 'config-url'?: string | undefined; 'config-poll'?: string | undefined }, io: CliIo): FileSource | UrlSource {
  const url = values['config-url'];
  if (url !== undefined) {
    if (values.config !== undefined) throw usageError('serve', 'pass either -c FILE or --config-url URL, not both');
    let pollMs = 30_000;
    if (values['config-poll'] !== undefined) {
      const d = parseDuration(values['config-poll']);
      if (!d.ok || d.value < 100) throw usageError('serve', `--config-poll must be a duration of at least 100ms, such as 30s, got "${values['config-poll']}"`);
      pollMs = d.value;
    }
    try {
      return new UrlSource(url, pollMs);
    } catch (err) {
      throw usageError('serve', (err as Error).message);
    }
  }
  const file = values.config ?? io.env[CONFIG_ENV];
  if (file === undefined || file === '') throw usageError('serve', `no config file: pass -c FILE or set ${CONFIG_ENV}`);
  return new FileSource(file);
}

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the proxy',
  help: HELP,
  run: (args, io) => runServe(args, io),
};
