/**
 * `memshift top`: a live view of a running sidecar's backends, like `top` or `mctop`, as a client of
 * its admin API (GET /backends, /migration and /replication every interval; the numbers:
 * top-view.ts, the frame: top-layout.ts).
 *
 * On a terminal it takes the alternate screen and redraws in place (cursor home, each line cleared
 * to its end), fits the terminal's width and height and redraws when the terminal is resized; q,
 * Ctrl-C or SIGTERM end it and give the terminal back as it was. Rates need two samples, so
 * `--once` (and a standard output that is not a terminal) takes two, `--interval` apart, and prints
 * one frame, or one JSON object with `--json`; `--json` without `--once` prints one line per interval.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_ENV } from '../config/load.js';
import type { MigrationStatus } from '../migration/status.js';
import type { BackendsBody } from '../app/backends-endpoint.js';
import { ADMIN_TOKEN_ENV, AdminCallError, adminCall, adminTarget, parseInterval, type AdminTarget } from './admin-client.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION, parseCommandArgs, usageError } from './common.js';
import type { MigrationBody } from './migrate.js';
import { fit, renderTop } from './top-layout.js';
import { topView, type ReplicationBody, type TopInput, type TopView } from './top-view.js';

const HELP = `Usage: memshift top [-c FILE | --admin URL] [--token TOKEN] [--interval 1s] [--pool POOL] [--once] [--json]

A live view of a running "memshift serve", through its admin API: each backend by pool and replica
group with its state (and why it is not up), ops/s, hit ratio, p50/p99 latency, errors/s and queue
depth (requests in flight, request bytes not yet written), and any migration or replica sync with
its bar and ETA. q or Ctrl-C quits.

  OPS/S   requests this sidecar sent to the backend, per second
  HIT%    the server's own get_hits / (get_hits + get_misses) over the interval (every client's)
  P50ms   latency percentiles of this sidecar's requests over the interval, queueing included
  ERR/S   requests that failed (timeout, closed connection) or were refused (down, queue full)
  INFL    requests sent and not answered; QUEUED: request bytes waiting to be written
The first line sums memshift's own counters (clients, gets, its hit ratio, sets).

Rates need two samples: --once takes two, --interval apart, and prints one frame (or with --json
one JSON object, for scripts). When standard output is not a terminal, top prints one frame as
with --once, without escape codes, cut to $COLUMNS when set. --json without --once prints one JSON
line per interval until interrupted.

The admin URL is --admin, else the config's admin.listen (-c FILE or $${CONFIG_ENV}). GET /backends
shows backend addresses: on a non-loopback admin listener it needs the token: --token, else the
config's admin.token or admin.token_file, else $${ADMIN_TOKEN_ENV}.

Options:
${CONFIG_HELP}
      --admin URL         the admin API, e.g. http://127.0.0.1:9121 (default: from the config)
      --token TOKEN       the admin bearer token
      --interval SECONDS  seconds between samples, or a duration like 500ms (default 1)
      --pool POOL         show this pool only
      --once              take two samples, print one frame and exit
      --json              print the numbers as JSON
  -h, --help              show this help

Exit statuses: 0 ok (also after q or Ctrl-C); 64 usage: a bad flag, no admin URL, an unknown pool,
the server's 401 (bad or missing token), 403 and 404 (a memshift without GET /backends); 66 the
token file is unreadable; 69 the admin API cannot be reached or does not answer within 5 s at the
first sample (later, the view says so and keeps trying); 78 bad config.
`;

export interface TopDeps {
  /** Standard output is a terminal. */
  readonly isTTY: boolean;
  readonly columns: () => number | undefined;
  readonly rows: () => number | undefined;
  /** Where SIGINT and SIGTERM come from (the process). */
  readonly signals: Pick<NodeJS.Process, 'on' | 'removeListener'>;
  /** Calls `onKey` with what is typed on the terminal (raw); returns what undoes it. Absent: no keys. */
  readonly keys?: ((onKey: (key: string) => void) => () => void) | undefined;
  /** Calls `onResize` when the terminal changes size; returns what undoes it. */
  readonly resize?: ((onResize: () => void) => () => void) | undefined;
}

export const defaultTopDeps: TopDeps = {
  get isTTY() {
    return process.stdout.isTTY === true;
  },
  columns: () => process.stdout.columns,
  rows: () => process.stdout.rows,
  signals: process,
  get keys() {
    const stdin = process.stdin;
    if (stdin.isTTY !== true) return undefined;
    return (onKey: (key: string) => void) => {
      const onData = (data: Buffer): void => onKey(data.toString('utf8'));
      stdin.setRawMode(true);
      stdin.on('data', onData);
      stdin.resume();
      return () => {
        stdin.removeListener('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
      };
    };
  },
  resize: (onResize) => {
    process.stdout.on('resize', onResize);
    return () => void process.stdout.removeListener('resize', onResize);
  },
};

/** Alternate screen and hidden cursor; and back. */
const ENTER = '\x1b[?1049h\x1b[?25l';
const LEAVE = '\x1b[?25h\x1b[?1049l';
const HOME = '\x1b[H';
const CLEAR_LINE_END = '\x1b[K';
const CLEAR_BELOW = '\x1b[J';

/** One sample: the three admin endpoints at (about) the same time. */
async function sample(target: AdminTarget, pool: string | undefined, stop?: AbortSignal): Promise<TopInput> {
  const [backends, migration, replication] = await Promise.all([
    adminCall(target, 'GET', '/backends', undefined, stop) as Promise<BackendsBody>,
    adminCall(target, 'GET', '/migration', undefined, stop) as Promise<MigrationBody>,
    adminCall(target, 'GET', '/replication', undefined, stop) as Promise<ReplicationBody>,
  ]);
  if (!Array.isArray(backends.pools)) throw new AdminCallError(`GET ${target.base}/backends answered without "pools": is this a memshift admin API?`, EXIT.UNAVAILABLE);
  if (pool !== undefined && !backends.pools.some((p) => p.name === pool)) {
    throw usageError('top', `no pool "${pool}"; the sidecar has ${backends.pools.map((p) => `"${p.name}"`).join(', ')}`);
  }
  const migrations: MigrationStatus[] = migration.phase === null ? [] : (migration.pools ?? [migration]);
  return { admin: target.base, backends, migrations, replication: Array.isArray(replication.pools) ? replication : null, pool };
}

/** SIGINT and SIGTERM (and q, Ctrl-C typed on the terminal) abort the returned signal until `release`. */
function stopOn(deps: TopDeps, keys: boolean): { signal: AbortSignal; release: () => void } {
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  deps.signals.on('SIGINT', onSignal);
  deps.signals.on('SIGTERM', onSignal);
  const undoKeys = keys && deps.keys !== undefined ? deps.keys((k) => (k === 'q' || k === 'Q' || k.includes('\x03') ? stop.abort() : undefined)) : () => undefined;
  return {
    signal: stop.signal,
    release: () => {
      undoKeys();
      deps.signals.removeListener('SIGINT', onSignal);
      deps.signals.removeListener('SIGTERM', onSignal);
    },
  };
}

/** Waits `ms`; false when stopped first. */
async function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

/** $COLUMNS when it is a number, for output that is not a terminal. */
function envColumns(io: CliIo): number | undefined {
  const n = Number(io.env.COLUMNS);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

interface Loop {
  /** The first sample's view (no rates); the loop has not paused yet. */
  readonly first?: (view: TopView) => void;
  /** Each later view; returning false ends the loop. */
  readonly next: (view: TopView) => boolean | void;
  /** A later sample that failed (the first one's error is thrown); throwing ends the loop with it. */
  readonly failed: (err: AdminCallError) => void;
  /** What to undo when the loop ends, however it ends (after the first sample). */
  readonly end?: () => void;
}

/**
 * Samples every `intervalMs` until SIGINT or SIGTERM (and, with `keys`, q or Ctrl-C typed) or
 * `next` says enough; EXIT.OK then. The first sample failing throws, as does anything but an
 * AdminCallError later.
 */
async function sampleLoop(target: AdminTarget, pool: string | undefined, intervalMs: number, deps: TopDeps, keys: boolean, loop: Loop): Promise<number> {
  const { signal, release } = stopOn(deps, keys);
  let started = false;
  try {
    let prev = await sample(target, pool, signal);
    started = true;
    loop.first?.(topView(null, prev));
    while (await pause(intervalMs, signal)) {
      let cur: TopInput;
      try {
        cur = await sample(target, pool, signal);
      } catch (err) {
        if (signal.aborted) break;
        if (!(err instanceof AdminCallError)) throw err;
        loop.failed(err);
        continue;
      }
      const view = topView(prev, cur);
      prev = cur;
      if (loop.next(view) === false) break;
    }
    return EXIT.OK;
  } catch (err) {
    if (signal.aborted) return EXIT.OK;
    throw err;
  } finally {
    release();
    if (started) loop.end?.();
  }
}

/** Two samples `intervalMs` apart, then one frame or one JSON object; a failing second sample is an error. */
function once(target: AdminTarget, pool: string | undefined, json: boolean, intervalMs: number, width: number | undefined, io: CliIo, deps: TopDeps): Promise<number> {
  return sampleLoop(target, pool, intervalMs, deps, false, {
    next: (view) => {
      io.out(json ? `${JSON.stringify(view)}\n` : `${renderTop(view, width).join('\n')}\n`);
      return false;
    },
    failed: (err) => {
      throw err;
    },
  });
}

/** One JSON line per interval (from the second sample on) until interrupted. */
function jsonLines(target: AdminTarget, pool: string | undefined, intervalMs: number, io: CliIo, deps: TopDeps): Promise<number> {
  return sampleLoop(target, pool, intervalMs, deps, false, {
    next: (view) => void io.out(`${JSON.stringify(view)}\n`),
    failed: (err) => io.err(`memshift top: ${err.message}; trying again\n`),
  });
}

/** The live view on a terminal: redrawn every interval and on resize, until q, Ctrl-C or SIGTERM. */
function live(target: AdminTarget, pool: string | undefined, intervalMs: number, io: CliIo, deps: TopDeps): Promise<number> {
  let view: TopView | undefined;
  let problem: string | null = null;
  let undoResize = (): void => undefined;
  const draw = (): void => {
    if (view === undefined) return;
    const width = deps.columns();
    const height = deps.rows();
    const lines = renderTop(view, width, height);
    if (problem !== null) lines.splice(1, 0, fit(`! ${problem}; trying again every ${intervalMs / 1000}s`, width));
    const shown = height === undefined ? lines : lines.slice(0, height);
    io.out(`${HOME}${shown.map((l) => `${l}${CLEAR_LINE_END}`).join('\r\n')}${CLEAR_BELOW}`);
  };
  return sampleLoop(target, pool, intervalMs, deps, true, {
    first: (v) => {
      view = v;
      io.out(ENTER);
      undoResize = deps.resize?.(draw) ?? undoResize;
      draw();
    },
    next: (v) => {
      view = v;
      problem = null;
      draw();
    },
    failed: (err) => {
      problem = err.message;
      draw();
    },
    end: () => {
      undoResize();
      io.out(LEAVE);
    },
  });
}

export async function runTop(args: string[], io: CliIo, deps: TopDeps = defaultTopDeps): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'top',
    args,
    {
      ...CONFIG_OPTION,
      ...HELP_OPTION,
      admin: { type: 'string' },
      token: { type: 'string' },
      interval: { type: 'string' },
      pool: { type: 'string' },
      once: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    true,
  );
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  if (positionals.length > 0) throw usageError('top', `unexpected argument "${positionals[0]}"`);
  if (values.pool === '') throw usageError('top', '--pool must not be empty');
  const intervalMs = parseInterval('top', values.interval);
  const target = adminTarget('top', values, io, true);
  const json = values.json === true;
  try {
    if (json && values.once !== true) return await jsonLines(target, values.pool, intervalMs, io, deps);
    if (values.once === true || !deps.isTTY) return await once(target, values.pool, json, intervalMs, deps.isTTY ? deps.columns() : envColumns(io), io, deps);
    return await live(target, values.pool, intervalMs, io, deps);
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    io.err(`memshift top: ${err.message}\n`);
    return err.exit;
  }
}

export const topCommand: Command = {
  name: 'top',
  summary: 'a live view of each backend: state, ops/s, hit ratio, latency, errors, queue; migrations and syncs',
  help: HELP,
  run: (args, io) => runTop(args, io),
};
