/**
 * `memshift migrate <status|watch|start|pause|resume|abort>`: a client of a running sidecar's admin
 * API (src/migration/admin.ts). `status` prints `GET /migration` once; `watch` polls it every second
 * and redraws one progress line until the migration is done or rolled back; the actions POST
 * `/migration/<action>` with the bearer token. The admin URL is `--admin`, else the config's
 * `admin.listen`; the token is `--token`, else the config's admin.token / admin.token_file, else
 * $MEMSHIFT_ADMIN_TOKEN (the same sources the server reads).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { CONFIG_ENV } from '../config/load.js';
import type { MigrationStatus } from '../migration/index.js';
import { ADMIN_TOKEN_ENV, AdminCallError, adminCall as call, adminTarget, parseInterval, type AdminTarget as Target } from './admin-client.js';
import { bar } from './progress-bar.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION, parseCommandArgs, table, usageError } from './common.js';

/** `watch` gives up after this many failed polls in a row (the first poll failing ends it at once). */
const WATCH_MAX_FAILURES = 10;
/** Exit status on Ctrl-C (128 + SIGINT). */
const EXIT_INTERRUPTED = 130;

const ACTIONS = ['start', 'pause', 'resume', 'abort'] as const;
type Action = (typeof ACTIONS)[number];
const SUBCOMMANDS = ['status', 'watch', ...ACTIONS] as const;
type Subcommand = (typeof SUBCOMMANDS)[number];

const HELP = `Usage: memshift migrate status [-c FILE | --admin URL] [--pool POOL] [--json]
       memshift migrate watch  [-c FILE | --admin URL] [--pool POOL] [--json] [--interval SECONDS]
       memshift migrate start|pause|resume|abort [-c FILE | --admin URL] [--pool POOL] [--token TOKEN] [--json]

Talks to a running "memshift serve" through its admin API (GET /migration, POST /migration/<action>).

  status   print the migration's state once: phase, progress, counts, T_copy + T_sync + T_verify = T_total
  watch    redraw the progress every second until the migration is done (exit 0) or rolled back
           after an abort (exit 1); then print the final status. On a terminal one line is redrawn,
           otherwise a line is printed whenever it changes. Ctrl-C stops watching (exit 130).
  start    start a planned migration now: a migration block without start: waits for this
           (with start: now it starts at once, with start: TIME at that time)
  pause    hold the copy, verify and phase changes; routing stays as it is
  resume   continue a paused migration
  abort    roll back to the old servers (only before cutover)

The admin URL is --admin, else the config's admin.listen (-c FILE or $${CONFIG_ENV}). The token for
the actions is --token, else the config's admin.token or admin.token_file, else $${ADMIN_TOKEN_ENV}.

Options:
${CONFIG_HELP}
      --admin URL         the admin API, e.g. http://127.0.0.1:9121 (default: from the config)
      --pool POOL         the pool, when several migrate (status: show only it; default: the first)
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

/** The pool's status (--pool), or the one the server shows first. */
function pick(body: MigrationBody, pool: string | undefined): MigrationStatus | null {
  if (body.phase === null) return null;
  const all = body.pools ?? [body];
  if (pool === undefined) return body;
  const found = all.find((s) => s.pool === pool);
  if (found === undefined) throw usageError('migrate', `no migration for pool "${pool}"; pools with one: ${all.map((s) => `"${s.pool}"`).join(', ')}`);
  return found;
}

function noMigration(target: Target): string {
  return `no migration: no pool of the sidecar at ${target.base} has one configured`;
}

// ---------------------------------------------------------------- rendering

const seconds = (s: number | null): string => (s === null ? '-' : s.toFixed(2));

/** The phase, with how far a rollback got. */
function phaseName(s: MigrationStatus): string {
  if (s.phase === null) return 'none';
  return s.phase === 'aborted' ? `aborted (${s.rolled_back ? 'rolled back' : 'rolling back'})` : s.phase;
}

/** The phase, a rollback's state and "(paused)". */
export function phaseLabel(s: MigrationStatus): string {
  return s.paused ? `${phaseName(s)} (paused)` : phaseName(s);
}

/** The share done and what it counts, for the phase. */
export function progressText(s: MigrationStatus): string {
  const c = s.counts;
  const p = s.progress;
  switch (s.phase) {
    case 'copy': {
      if (p !== null && p.phase === 'copy' && p.expected !== null && p.expected > 0) {
        const eta = p.eta_s === null ? '' : `, ETA ${Math.ceil(p.eta_s)}s`;
        return `${bar(p.walked / p.expected)} ${p.walked}/${p.expected} keys walked${eta}`;
      }
      return `scanned ${c.scanned}, copied ${c.copied}${p === null ? ' (the leader tracks the share done)' : ''}`;
    }
    case 'verify': {
      // The leader's run: what this pass checked of what its copy scanned (the counts add up every run).
      if (p !== null && p.phase === 'verify' && p.scanned > 0) return `${bar(p.checked / p.scanned)} ${p.checked}/${p.scanned} keys checked, ${c.mismatched} mismatched`;
      if (c.scanned === 0) return 'waiting for the first verify pass';
      const checked = c.verified + c.mismatched;
      return `${bar(checked / c.scanned)} ${checked}/${c.scanned} keys checked, ${c.mismatched} mismatched`;
    }
    case 'planned':
      return s.waiting ?? 'not started';
    case 'dual_write':
      return 'writes reach the old and the new owners; the copy follows once every sidecar does';
    case 'dual_read':
      return 'reads try the new owner first; verify follows once every sidecar does';
    case 'cutover':
      return 'the new owners serve every moved key';
    case 'cleanup':
      return `deleting moved keys from the old owners: ${c.cleaned} deleted`;
    case 'done':
      return bar(1);
    case 'aborted':
      return s.rolled_back ? 'the old owners serve every key again' : 'writes still reach both owners until every sidecar reads the old ones';
    default:
      return '-';
  }
}

function countsText(s: MigrationStatus): string {
  const c = s.counts;
  return `scanned ${c.scanned} copied ${c.copied} skipped ${c.skipped} verified ${c.verified} mismatched ${c.mismatched} repaired ${c.repaired} backfilled ${c.backfilled} errors ${c.errors} cleaned ${c.cleaned}`;
}

/** The `watch` line: phase, progress, the main counts. */
export function watchLine(s: MigrationStatus): string {
  const c = s.counts;
  return `${phaseLabel(s).padEnd(10)} ${progressText(s)} | copied ${c.copied} verified ${c.verified} mismatched ${c.mismatched} errors ${c.errors}`;
}

/** The full status, one labelled row each. */
export function statusText(s: MigrationStatus, others: readonly MigrationStatus[] = []): string {
  const leader = s.leader === null ? 'none yet' : `${s.leader}${s.this_process_leads ? ' (the sidecar answering)' : ''}`;
  const v = s.verify;
  const r = s.route;
  const rows: [string, string][] = [
    ['pool', s.pool],
    ['id', s.id],
    ['phase', phaseName(s)],
    ['paused', s.paused ? 'yes' : 'no'],
    ['leader', leader],
    ['progress', progressText(s)],
    ['counts', countsText(s)],
    ['times', `T_copy ${seconds(s.t_copy_s)} s + T_sync ${seconds(s.t_sync_s)} s + T_verify ${seconds(s.t_verify_s)} s = T_total ${seconds(s.t_total_s)} s`],
    ['cleanup', `T_cleanup ${seconds(s.t_cleanup_s)} s`],
    ['verify', v === null ? '-' : `${v.passes} pass${v.passes === 1 ? '' : 'es'}, ${v.left} left: ${v.note}`],
    ['moved', `${(s.moved_share * 100).toFixed(2)}% of the keyspace`],
    ['route', `backfilled ${r.backfilled} (${r.backfillErrors} failed), sync races ${r.raced}, sync errors ${r.syncErrors}, held ${r.held} (this sidecar)`],
  ];
  const f = s.failover;
  if (f !== undefined) rows.splice(2, 0, ['failover', `${f.server} out of group ${f.group}${f.out === undefined ? '' : `; out before it: ${f.out.map((o) => `${o.server} (${o.group})`).join(', ')}`}`]);
  if (others.length > 0) rows.push(['others', `${others.map((o) => `${o.pool}: ${phaseLabel(o)}`).join(', ')} (pass --pool to show one)`]);
  return table(rows);
}

// ---------------------------------------------------------------- subcommands

async function status(target: Target, pool: string | undefined, json: boolean, io: CliIo): Promise<number> {
  const body = await getStatus(target);
  const s = pick(body, pool);
  if (json) io.out(`${JSON.stringify(pool === undefined ? body : s)}\n`);
  else if (s === null) io.out(`${noMigration(target)}\n`);
  else {
    const others = pool === undefined && body.phase !== null ? (body.pools ?? []).filter((o) => o.pool !== s.pool) : [];
    io.out(statusText(s, others));
  }
  return EXIT.OK;
}

const finished = (s: MigrationStatus): boolean => s.phase === 'done' || (s.phase === 'aborted' && s.rolled_back);

async function watch(target: Target, pool: string | undefined, json: boolean, intervalMs: number, io: CliIo, deps: MigrateDeps): Promise<number> {
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
    let failures = 0;
    for (let polls = 0; ; polls += 1) {
      let s: MigrationStatus | null | undefined; // undefined: this poll failed
      try {
        s = pick(await getStatus(target, stop.signal), pool);
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
        const line = json ? JSON.stringify(s) : `${s.pool}/${s.id} ${watchLine(s)}`;
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
    return EXIT_INTERRUPTED;
  } finally {
    deps.signals.removeListener('SIGINT', onSigint);
  }
}

async function act(action: Action, target: Target, pool: string | undefined, json: boolean, io: CliIo): Promise<number> {
  const s = (await call(target, 'POST', `/migration/${action}`, pool === undefined ? undefined : { pool })) as MigrationStatus;
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
    },
    true,
  );
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const [sub, ...extra] = positionals;
  if (sub === undefined) throw usageError('migrate', `name what to do: ${SUBCOMMANDS.join(', ')}`);
  if (!(SUBCOMMANDS as readonly string[]).includes(sub)) throw usageError('migrate', `unknown subcommand "${sub}"; expected one of ${SUBCOMMANDS.join(', ')}`);
  if (extra.length > 0) throw usageError('migrate', `unexpected argument "${extra[0]}"`);
  const subcommand = sub as Subcommand;
  const action = (ACTIONS as readonly string[]).includes(subcommand) ? (subcommand as Action) : undefined;
  if (values.pool === '') throw usageError('migrate', '--pool must not be empty');
  const intervalMs = parseInterval('migrate', values.interval);
  const target = adminTarget('migrate', values, io, action !== undefined);
  const json = values.json === true;

  try {
    if (subcommand === 'status') return await status(target, values.pool, json, io);
    if (subcommand === 'watch') return await watch(target, values.pool, json, intervalMs, io, deps);
    return await act(action!, target, values.pool, json, io);
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
