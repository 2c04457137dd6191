/**
 * `memshift migrate <status|watch|history|start|pause|resume|abort|drain>`: a client of a running
 * sidecar's admin API (src/migration/admin.ts, through admin-client.ts). `status` prints `GET
 * /migration` once; `watch` polls it every second and redraws one progress line until the
 * migration is done or rolled back; `history` prints `GET /migration/history`; the actions POST
 * `/migration/<action>` with the bearer token; `drain HOST` POSTs `/migration/drain` (a discovered
 * pool's migration that takes HOST out of its ring). The admin URL is `--admin`, else the config's
 * `admin.listen`; the token is `--token`, else the config's admin.token / admin.token_file, else
 * $MEMSHIFT_ADMIN_TOKEN (the same sources the server reads). migrate-render.ts draws them.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_ENV } from '../config/load.js';
import type { MigrationStatus } from '../migration/status.js';
import { ADMIN_TOKEN_ENV, AdminCallError, adminCall as call, adminTarget, parseInterval, type AdminTarget as Target } from './admin-client.js';
import type { MigrationResult } from '../migration/history.js';
import { historyTable, phaseLabel, resultText, statusText, WATCH_WIDTH, watchLine } from './migrate-render.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION, parseCommandArgs, usageError } from './common.js';

export { phaseLabel, progressText, statusText, watchLine } from './migrate-render.js';

/** `watch` gives up after this many failed polls in a row (the first poll failing ends it at once). */
const WATCH_MAX_FAILURES = 10;
/** Exit status on Ctrl-C (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

const ACTIONS = ['start', 'pause', 'resume', 'abort'] as const;
type Action = (typeof ACTIONS)[number];
const SUBCOMMANDS = ['status', 'watch', 'history', ...ACTIONS, 'drain'] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const HELP = `Usage: memshift migrate status [-c FILE | --admin URL] [--pool POOL | --id ID] [--json]
       memshift migrate watch  [-c FILE | --admin URL] [--pool POOL | --id ID] [--json] [--interval SECONDS]
       memshift migrate history [-c FILE | --admin URL] [--pool POOL] [--id ID] [--json]
       memshift migrate start|pause|resume|abort [-c FILE | --admin URL] [--pool POOL | --id ID] [--token TOKEN] [--json]
       memshift migrate drain HOST [-c FILE | --admin URL] [--pool POOL] [--token TOKEN] [--json]

Talks to a running "memshift serve" through its admin API (GET /migration, GET /migration/history,
POST /migration/<action>).

  status   print the migration's state once: phase, progress, counts, T_copy + T_sync + T_verify = T_total
  watch    redraw the progress every second until the migration is done (exit 0) or rolled back
           after an abort (exit 1); then print the final status. On a terminal one line is redrawn,
           otherwise a line is printed whenever it changes; it fits the terminal (80 columns when
           not a terminal). Ctrl-C stops watching (exit 130); the migration goes on.
  history  the last 50 finished or aborted migrations, failovers, syncs and rebuilds, newest first:
           outcome, T_copy, T_sync, T_verify, T_total, cleanup; --id ID shows one in full, with
           its servers and every phase switch with its time
  start    start a planned migration now: a migration block without start: waits for this
           (with start: now it starts at once, with start: TIME at that time)
  pause    hold the copy, verify and phase changes; routing stays as it is
  resume   continue a paused migration
  abort    roll back to the old servers (only before cutover)
  drain    a pool whose servers come from DNS (discovery): start a migration that takes HOST (its
           ring name, DNS name, address or IP) out of the ring, so that it can be scaled down
           without losing its keys; it stays out while DNS still lists it (POST /migration/drain)

The admin URL is --admin, else the config's admin.listen (-c FILE or $${CONFIG_ENV}). The token for
the actions is --token, else the config's admin.token or admin.token_file, else $${ADMIN_TOKEN_ENV}.

Options:
${CONFIG_HELP}
      --admin URL         the admin API, e.g. http://127.0.0.1:9121 (default: from the config)
      --pool POOL         the pool, when several migrate (status: show only it; default: the first)
      --id ID             the migration with this id (a pool's, or a route's whose pool also
                          migrates); history: show its newest run in full
      --token TOKEN       the admin bearer token (actions only)
      --json              print the server's JSON instead of text (watch: one JSON line per change)
      --interval SECONDS  seconds between polls for watch, or a duration like 500ms (default 1)
  -h, --help              show this help

Exit statuses: 0 ok; 1 watch ended with the migration rolled back, or there is no migration to watch;
64 usage: a bad flag, no admin URL, an unknown pool, and the server's 400, 401 (bad or missing token),
403 (no token configured on the server) and 404 answers; 66 the token file is unreadable;
69 unavailable: the admin API cannot be reached or does not answer within 5 s, answers 5xx, or
answers 409 (the current phase does not allow the action, e.g. abort after cutover);
78 bad config; 130 interrupted.
`;

/** What GET /migration answers: no migration anywhere, or the first pool's status with every pool's. */
export type MigrationBody = { phase: null } | (MigrationStatus & { pools?: MigrationStatus[] });

export interface MigrateDeps {
  /** Standard output is a terminal: `watch` redraws one line in place. */
  readonly isTTY: boolean;
  /** The terminal's width: a redrawn line is cut to fit (a wrapped line cannot be redrawn). */
  readonly columns?: number | undefined;
  /** Where SIGINT comes from (the process). */
  readonly signals: Pick<NodeJS.Process, 'on' | 'removeListener'>;
}

export const defaultMigrateDeps: MigrateDeps = {
  get isTTY() {
    return process.stdout.isTTY === true;
  },
  get columns() {
    return process.stdout.columns;
  },
  signals: process,
};

async function getStatus(target: Target, stop?: AbortSignal): Promise<MigrationBody> {
  const body = (await call(target, 'GET', '/migration', undefined, stop)) as Partial<MigrationBody>;
  if (!('phase' in body)) throw new AdminCallError(`GET ${target.base}/migration answered without a "phase": is this a memshift admin API?`, EXIT.UNAVAILABLE);
  return body as MigrationBody;
}

/** The migration named by --id (and --pool), the pool's (--pool), or the one the server shows first. */
function pick(body: MigrationBody, pool: string | undefined, id: string | undefined): MigrationStatus | null {
  if (body.phase === null) return null;
  const all = body.pools ?? [body];
  if (id !== undefined) {
    const found = all.find((s) => s.id === id && (pool === undefined || s.pool === pool));
    if (found === undefined) throw usageError('migrate', `no migration "${id}"; migrations: ${all.map((s) => `"${s.id}"`).join(', ')}`);
    return found;
  }
  if (pool === undefined) return body;
  const found = all.find((s) => s.pool === pool);
  if (found === undefined) throw usageError('migrate', `no migration for pool "${pool}"; pools with one: ${all.map((s) => `"${s.pool}"`).join(', ')}`);
  return found;
}

function noMigration(target: Target): string {
  return `no migration: no pool of the sidecar at ${target.base} has one configured`;
}

// ---------------------------------------------------------------- subcommands

async function status(target: Target, pool: string | undefined, id: string | undefined, json: boolean, io: CliIo): Promise<number> {
  const body = await getStatus(target);
  const s = pick(body, pool, id);
  if (json) io.out(`${JSON.stringify(pool === undefined && id === undefined ? body : s)}\n`);
  else if (s === null) io.out(`${noMigration(target)}\n`);
  else {
    const others = pool === undefined && body.phase !== null ? (body.pools ?? []).filter((o) => o.pool !== s.pool) : [];
    io.out(statusText(s, others));
  }
  return EXIT.OK;
}

const finished = (s: MigrationStatus): boolean => s.phase === 'done' || (s.phase === 'aborted' && s.rolled_back);

async function watch(target: Target, pool: string | undefined, id: string | undefined, json: boolean, intervalMs: number, io: CliIo, deps: MigrateDeps): Promise<number> {
  const stop = new AbortController();
  const onSigint = (): void => stop.abort();
  deps.signals.on('SIGINT', onSigint);
  const tty = deps.isTTY && !json;
  let drawn = false;
  const draw = (line: string): void => {
    const width = deps.columns ?? 0;
    if (tty) io.out(`\r\x1b[2K${width > 1 && line.length >= width ? `${line.slice(0, width - 2)}…` : line}`);
    else io.out(`${line}\n`);
    drawn = true;
  };
  const endLine = (): void => {
    if (tty && drawn) io.out('\n');
    drawn = false;
  };
  try {
    let last = '';
    let watched: MigrationStatus | null = null;
    let failures = 0;
    for (let polls = 0; ; polls += 1) {
      let s: MigrationStatus | null | undefined; // undefined: this poll failed
      try {
        s = pick(await getStatus(target, stop.signal), pool, id);
        failures = 0;
      } catch (err) {
        if (stop.signal.aborted) break;
        // The first poll, a usage-type answer or too many failures in a row end the watch; a sidecar restarting does not.
        if (!(err instanceof AdminCallError) || polls === 0 || err.exit === EXIT.USAGE || ++failures >= WATCH_MAX_FAILURES) {
          endLine();
          throw err;
        }
        const retry = `retry ${failures}/${WATCH_MAX_FAILURES - 1}`;
        if (tty) draw(`${last} (admin API unreachable, ${retry})`.trimStart());
        else io.err(`memshift migrate: ${err.message}; ${retry}\n`);
      }
      if (s === null) {
        io.err(`memshift migrate: ${noMigration(target)}; nothing to watch\n`);
        return EXIT.FAILURE;
      }
      if (s !== undefined) {
        const line = json ? JSON.stringify(s) : watchLine(s, tty && deps.columns !== undefined && deps.columns > 1 ? deps.columns - 1 : WATCH_WIDTH);
        watched = s;
        if (tty || line !== last) draw(line);
        last = line;
        if (finished(s)) {
          endLine();
          if (!json) io.out(statusText(s));
          return s.phase === 'done' ? EXIT.OK : EXIT.FAILURE;
        }
      }
      try {
        await sleep(intervalMs, undefined, { signal: stop.signal });
      } catch {
        break; // Ctrl-C
      }
    }
    endLine();
    // Ctrl-C stops this command only: the sidecars run the migration.
    const what = watched === null ? 'the migration' : `migration ${watched.id} of pool ${watched.pool} (${phaseLabel(watched)})`;
    io.err(`memshift migrate: stopped watching; ${what} goes on without it ("memshift migrate watch" follows it again)\n`);
    return EXIT_INTERRUPTED;
  } finally {
    deps.signals.removeListener('SIGINT', onSigint);
  }
}

async function history(target: Target, pool: string | undefined, id: string | undefined, json: boolean, io: CliIo): Promise<number> {
  const path = `/migration/history${pool === undefined ? '' : `?pool=${encodeURIComponent(pool)}`}`;
  const body = (await call(target, 'GET', path, undefined)) as { history?: MigrationResult[] };
  if (!Array.isArray(body.history)) throw new AdminCallError(`GET ${target.base}${path} answered without a "history" list: is this memshift's admin API, of a version with a history?`, EXIT.UNAVAILABLE);
  const list = id === undefined ? body.history : body.history.filter((r) => r.id === id).slice(0, 1);
  if (id !== undefined && list.length === 0) {
    io.err(`memshift migrate: no migration "${id}" in the history of the sidecar at ${target.base}\n`);
    return EXIT.FAILURE;
  }
  if (json) io.out(`${JSON.stringify(id === undefined ? body : list[0])}\n`);
  else io.out(id === undefined ? historyTable(list) : resultText(list[0]!));
  return EXIT.OK;
}

async function drain(host: string, target: Target, pool: string | undefined, json: boolean, io: CliIo): Promise<number> {
  const out = (await call(target, 'POST', '/migration/drain', { host, ...(pool === undefined ? {} : { pool }) })) as { pool: string; id: string; server: string; moved_share: number };
  if (json) io.out(`${JSON.stringify(out)}\n`);
  else io.out(`${out.pool}: drain of ${out.server}: migration ${out.id} starts (it moves ${(out.moved_share * 100).toFixed(1)}% of the keys); "memshift migrate watch" follows it\n`);
  return EXIT.OK;
}

async function act(action: Action, target: Target, pool: string | undefined, id: string | undefined, json: boolean, io: CliIo): Promise<number> {
  const body = pool === undefined && id === undefined ? undefined : { ...(pool === undefined ? {} : { pool }), ...(id === undefined ? {} : { id }) };
  const s = (await call(target, 'POST', `/migration/${action}`, body)) as MigrationStatus;
  if (json) io.out(`${JSON.stringify(s)}\n`);
  else io.out(`${s.pool}: migration ${s.id}: ${action} accepted; phase ${phaseLabel(s)}\n`);
  return EXIT.OK;
}

export async function runMigrate(args: string[], io: CliIo, deps: MigrateDeps = defaultMigrateDeps): Promise<number> {
  const { values, positionals } = parseCommandArgs(
    'migrate',
    args,
    {
      ...CONFIG_OPTION,
      ...HELP_OPTION,
      admin: { type: 'string' },
      pool: { type: 'string' },
      token: { type: 'string' },
      json: { type: 'boolean' },
      interval: { type: 'string' },
      id: { type: 'string' },
    },
    true,
  );
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const [sub, ...rest] = positionals;
  if (sub === undefined) throw usageError('migrate', `name what to do: ${SUBCOMMANDS.join(', ')}`);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError('migrate', `unknown subcommand "${sub}"; expected one of ${SUBCOMMANDS.join(', ')}`);
  const [host, ...extra] = sub === 'drain' ? rest : [undefined, ...rest];
  if (sub === 'drain' && (host === undefined || host === '')) throw usageError('migrate', 'drain needs the server to take out: memshift migrate drain HOST');
  if (extra.length > 0) throw usageError('migrate', `unexpected argument "${extra[0]}"`);
  const subcommand = sub as Subcommand;
  const action = (ACTIONS as readonly string[]).includes(subcommand) ? (subcommand as Action) : undefined;
  if (values.pool === '') throw usageError('migrate', '--pool must not be empty');
  if (values.id === '') throw usageError('migrate', '--id must not be empty');
  const intervalMs = parseInterval('migrate', values.interval);
  const target = adminTarget('migrate', values, io, action !== undefined || subcommand === 'drain');
  const json = values.json === true;

  try {
    if (subcommand === 'status') return await status(target, values.pool, values.id, json, io);
    if (subcommand === 'watch') return await watch(target, values.pool, values.id, json, intervalMs, io, deps);
    if (subcommand === 'history') return await history(target, values.pool, values.id, json, io);
    if (subcommand === 'drain') return await drain(host!, target, values.pool, json, io);
    return await act(action!, target, values.pool, values.id, json, io);
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    io.err(`memshift migrate: ${err.message}\n`);
    return err.exit;
  }
}

export const migrateCommand: Command = {
  name: 'migrate',
  summary: 'show, watch and control a running migration (admin API client)',
  help: HELP,
  run: (args, io) => runMigrate(args, io),
};
