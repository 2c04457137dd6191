/**
 * `memshift reload`: asks a running sidecar to reload its config (POST /reload on its admin API), or
 * with --dry-run only what a reload would apply, refuse (needs force) or need a restart for. Also
 * `checkAgainst`, the diff `memshift check -c FILE --against URL` shows: the sidecar computes it for
 * the file's text (POST /reload?dry_run=true with the config in the body), so the CLI and the
 * sidecar never disagree on what a reload does.
 */
import { readFileSync } from 'node:fs';
import { MemshiftError } from '../errors.js';
import { CONFIG_ENV, parseConfig } from '../config/load.js';
import type { ReloadResult } from '../app/reload.js';
import { ADMIN_TOKEN_ENV, AdminCallError, adminBase, adminCall, adminTarget, adminToken, type AdminTarget } from './admin-client.js';
import { type CliIo, type Command, CONFIG_HELP, CONFIG_OPTION, EXIT, HELP_OPTION, parseCommandArgs, table } from './common.js';

const HELP = `Usage: memshift reload [--dry-run] [--force] [-c FILE | --admin URL] [--token TOKEN] [--json]

Asks a running "memshift serve" to read its config again (its -c file or --config-url) and apply it,
through its admin API (POST /reload), and prints what happened: each change applied, and each one
refused with the reason: "needs force" (keys would move to another pool or server without a
migration) or "needs a restart" (listen, admin, replica groups, server_connections, failover).
A refused reload changes nothing.

  --dry-run   only say what a reload would apply, refuse or need a restart for; nothing changes
  --force     apply changes that move keys without a migration: those keys start empty (cold)
              where they go

To see the same for another file before you install it: memshift check -c FILE --against URL.

The admin URL is --admin, else the config's admin.listen (-c FILE or $${CONFIG_ENV}). The token is
--token, else the config's admin.token or admin.token_file, else $${ADMIN_TOKEN_ENV}.

Options:
${CONFIG_HELP}
      --admin URL         the admin API, e.g. http://127.0.0.1:9121 (default: from the config)
      --token TOKEN       the admin bearer token
      --dry-run           change nothing
      --force             accept key-moving changes
      --json              print the server's JSON answer
  -h, --help              show this help

Exit statuses: 0 applied, unchanged, or (dry run) would apply; 1 refused; 78 the sidecar cannot use
the config it read (its errors are printed); 64 usage (a bad flag, no admin URL, 401/403: the
token); 66 the token file is unreadable; 69 the admin API cannot be reached or answers 5xx.
`;

const VERDICT: Readonly<Record<ReloadResult['result'], string>> = {
  applied: 'applied',
  would_apply: 'would apply',
  unchanged: 'nothing changed',
  refused: 'refused; nothing changed',
  failed: 'failed: the config cannot be used; nothing changed',
};

/** The reload's answer as text: a verdict line, then one row per change and refusal. */
export function formatReload(r: ReloadResult, where: string, forceHint: string): string {
  const rows: string[][] = [];
  for (const c of r.changes) rows.push([r.dry_run ? 'would apply' : 'applied', c]);
  for (const e of r.needs_force) rows.push(['needs force', e]);
  for (const e of r.needs_restart) rows.push(['needs restart', e]);
  const other = new Set([...r.needs_force, ...r.needs_restart]);
  for (const e of r.errors) if (!other.has(e)) rows.push([r.result === 'failed' ? 'error' : 'refused', e]);
  let text = `${where}${r.dry_run ? ' (dry run)' : ''}: ${VERDICT[r.result]}\n${table(rows, '  ')}`;
  if (r.result === 'refused' && r.needs_force.length > 0 && r.errors.length === r.needs_force.length) text += `with force the keys named above move cold (they start empty where they go): ${forceHint}\n`;
  return text;
}

/** The exit status of a reload's answer. */
export function reloadExit(r: ReloadResult): number {
  if (r.result === 'refused') return EXIT.FAILURE;
  if (r.result === 'failed') return EXIT.CONFIG;
  return EXIT.OK;
}

/** POST /reload; the answer whatever its result (409 refused and 422 failed carry one too). */
async function postReload(target: AdminTarget, query: string, body?: unknown): Promise<ReloadResult> {
  const r = (await adminCall(target, 'POST', `/reload${query}`, body, undefined, [409, 422])) as Partial<ReloadResult>;
  if (typeof r.result !== 'string' || !Array.isArray(r.changes) || !Array.isArray(r.errors)) {
    throw new AdminCallError(`POST ${target.base}/reload answered without a reload result: is this a memshift admin API of this version?`, EXIT.UNAVAILABLE);
  }
  return { needs_force: [], needs_restart: [], dry_run: false, ...r } as ReloadResult;
}

/** POSTs the reload and prints its answer; a failed call is printed as `memshift COMMAND: ...` with its exit status. */
async function reloadAndPrint(command: string, target: AdminTarget, query: string, body: unknown, json: boolean, where: string, forceHint: string, io: CliIo): Promise<number> {
  try {
    const r = await postReload(target, query, body);
    io.out(json ? `${JSON.stringify(r)}\n` : formatReload(r, where, forceHint));
    return reloadExit(r);
  } catch (err) {
    if (!(err instanceof AdminCallError)) throw err;
    io.err(`memshift ${command}: ${err.message}\n`);
    return err.exit;
  }
}

export async function runReload(args: string[], io: CliIo): Promise<number> {
  const { values } = parseCommandArgs('reload', args, {
    ...CONFIG_OPTION,
    ...HELP_OPTION,
    admin: { type: 'string' },
    token: { type: 'string' },
    'dry-run': { type: 'boolean' },
    force: { type: 'boolean' },
    json: { type: 'boolean' },
  });
  if (values.help === true) {
    io.out(HELP);
    return EXIT.OK;
  }
  const target = adminTarget('reload', values, io, true);
  const query = [values['dry-run'] === true ? 'dry_run=true' : '', values.force === true ? 'force=true' : ''].filter((q) => q !== '').join('&');
  return reloadAndPrint('reload', target, query === '' ? '' : `?${query}`, undefined, values.json === true, `reload at ${target.base}`, 'memshift reload --force', io);
}

/**
 * `memshift check -c FILE --against URL`: what a reload of the sidecar at `admin` would do with
 * FILE (already validated here). The token: --token, else FILE's admin token, else the environment.
 */
export async function checkAgainst(file: string, admin: string, token: string | undefined, json: boolean, io: CliIo): Promise<number> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new MemshiftError('MS_ERR_CONFIG_READ', `cannot read config file ${file}: ${(err as Error).message}`, { cause: err });
  }
  // Every problem of the file is reported here, with its line, before the sidecar sees it.
  const config = parseConfig(text, file);
  const target: AdminTarget = { base: adminBase('check', admin, config, file), token: adminToken(token, config, io) };
  return reloadAndPrint('check', target, '?dry_run=true', { config: text, source: file }, json, `${file} against ${target.base}`, 'install the file, then memshift reload --force', io);
}

export const reloadCommand: Command = {
  name: 'reload',
  summary: 'reload a running sidecar\'s config, or say what a reload would do (--dry-run)',
  help: HELP,
  run: runReload,
};
