/**
 * What the CLI's admin API clients (`migrate`, `top`, `reload`, `check --against`) share: where the admin API is (`--admin`, else
 * the config's `admin.listen`), the bearer token (`--token`, else the config's admin.token /
 * admin.token_file, else $MEMSHIFT_ADMIN_TOKEN: the sources the server reads), one request with a
 * timeout and errors that name the exit status, and the polling interval.
 */
import { readFileSync } from 'node:fs';
import { MemshiftError } from '../errors.js';
import { CONFIG_ENV, loadConfigFile } from '../config/load.js';
import { formatHostPort } from '../config/address.js';
import { parseDuration } from '../config/units.js';
import type { Config } from '../config/types.js';
import { type CliIo, EXIT, usageError } from './common.js';

/** The variable the server reads its token from (src/app/admin-endpoints.ts); not imported, to keep the CLI light. */
export const ADMIN_TOKEN_ENV = 'MEMSHIFT_ADMIN_TOKEN';
/** Each admin request gives up after this long. */
export const REQUEST_TIMEOUT_MS = 5_000;

/** A failed admin call: the message and the exit status it maps to. */
export class AdminCallError extends Error {
  constructor(
    message: string,
    readonly exit: number,
  ) {
    super(message);
  }
}

export interface AdminTarget {
  /** The admin API's base URL, without a trailing slash. */
  readonly base: string;
  /** Sent as `Authorization: Bearer` when set. */
  readonly token: string | undefined;
}

/**
 * `http://host:port` from --admin (a scheme is optional) or the config's admin listener
 * (`https://` when it has `admin.tls`: its CA must be one Node trusts, e.g. NODE_EXTRA_CA_CERTS).
 */
export function adminBase(command: string, admin: string | undefined, config: Config | undefined, source: string | undefined): string {
  if (admin !== undefined) {
    const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(admin) ? admin : `http://${admin}`;
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw usageError(command, `--admin must be a URL like http://127.0.0.1:9121, got "${admin}"`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw usageError(command, `--admin must be an http:// or https:// URL, got "${admin}"`);
    return `${url.origin}${url.pathname}`.replace(/\/+$/, '');
  }
  if (config === undefined) throw usageError(command, `no admin URL: pass --admin URL, or -c FILE (or set ${CONFIG_ENV}) for a config with an admin block`);
  const a = config.admin;
  if (a === undefined) throw usageError(command, `${source ?? 'the config'} has no admin block: add admin: {listen: "127.0.0.1:9121"} or pass --admin URL`);
  // A wildcard listener is reached on loopback.
  const host = a.host === '0.0.0.0' ? '127.0.0.1' : a.host === '::' ? '::1' : a.host;
  return `${a.tls === undefined ? 'http' : 'https'}://${formatHostPort(host, a.port)}`;
}

/** --token, else the config's admin.token or admin.token_file, else $MEMSHIFT_ADMIN_TOKEN. */
export function adminToken(flag: string | undefined, config: Config | undefined, io: CliIo): string | undefined {
  if (flag !== undefined) return flag;
  const a = config?.admin;
  if (a?.token !== undefined) return a.token;
  if (a?.tokenFile !== undefined) {
    try {
      return readFileSync(a.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new MemshiftError('MS_ERR_CONFIG_READ', `cannot read admin.token_file "${a.tokenFile}": ${(err as Error).message}`, { cause: err });
    }
  }
  const env = io.env[ADMIN_TOKEN_ENV];
  return env === undefined || env === '' ? undefined : env;
}

/**
 * The admin API named by `--admin` or the config (`-c FILE`, else $MEMSHIFT_CONFIG), with the token
 * when `withToken`. The config is read when -c names one, or when the URL or the token has to come from it.
 */
export function adminTarget(
  command: string,
  flags: { readonly config?: string | undefined; readonly admin?: string | undefined; readonly token?: string | undefined },
  io: CliIo,
  withToken: boolean,
): AdminTarget {
  const configPath = flags.config ?? (io.env[CONFIG_ENV] === '' ? undefined : io.env[CONFIG_ENV]);
  const needConfig = flags.config !== undefined || flags.admin === undefined || (withToken && flags.token === undefined);
  const config = needConfig && configPath !== undefined ? loadConfigFile(configPath) : undefined;
  const base = adminBase(command, flags.admin, config, configPath);
  return { base, token: withToken ? adminToken(flags.token, config, io) : undefined };
}

function networkReason(err: unknown): string {
  const cause = (err as { cause?: unknown }).cause;
  const code = (cause as { code?: unknown } | undefined)?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN') return 'host not found';
  if (code === 'ECONNRESET') return 'connection reset';
  if (cause instanceof Error) return cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * One admin request; the parsed JSON object on 2xx, AdminCallError otherwise: 4xx but 409 map to
 * EXIT.USAGE, the rest (unreachable, a timeout, 409, 5xx) to EXIT.UNAVAILABLE. An abort through
 * `stop` rejects with the abort itself. `accept`: statuses besides 2xx whose JSON object is an answer
 * rather than an error (POST /reload's 409 refused and 422 failed). `timeoutMs`: how long it may take.
 */
export async function adminCall(target: AdminTarget, method: 'GET' | 'POST', path: string, body: unknown, stop?: AbortSignal, accept: readonly number[] = [], timeoutMs = REQUEST_TIMEOUT_MS): Promise<unknown> {
  const url = `${target.base}${path}`;
  const timeout = AbortSignal.timeout(timeoutMs);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.token !== undefined) headers.authorization = `Bearer ${target.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  let text: string;
  try {
    res = await fetch(url, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: stop === undefined ? timeout : AbortSignal.any([timeout, stop]),
    });
    text = await res.text();
  } catch (err) {
    if (stop?.aborted === true) throw err;
    if (timeout.aborted) throw new AdminCallError(`the memshift admin API at ${target.base} did not answer ${method} ${path} within ${timeoutMs / 1000} s`, EXIT.UNAVAILABLE);
    throw new AdminCallError(`cannot reach the memshift admin API at ${target.base}: ${networkReason(err)} (is "memshift serve" running with an admin block there?)`, EXIT.UNAVAILABLE);
  }
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const error = (parsed as { error?: unknown } | undefined)?.error;
  if (res.ok || (accept.includes(res.status) && error === undefined)) {
    if (parsed === null || typeof parsed !== 'object') throw new AdminCallError(`${method} ${url} answered ${res.status} without a JSON object`, EXIT.UNAVAILABLE);
    return parsed;
  }
  let message = `${method} ${url}: HTTP ${res.status}: ${typeof error === 'string' ? error : text.trim() || res.statusText}`;
  if ((res.status === 401 || res.status === 403) && target.token === undefined) {
    message += `; no token was sent: pass --token, set admin.token or admin.token_file in the config, or set ${ADMIN_TOKEN_ENV}`;
  }
  const usage = res.status >= 400 && res.status < 500 && res.status !== 409;
  throw new AdminCallError(message, usage ? EXIT.USAGE : EXIT.UNAVAILABLE);
}

/** `--interval`: seconds (`1`, `0.5`) or a duration (`500ms`, `2s`), more than 0; `fallbackMs` when absent. */
export function parseInterval(command: string, text: string | undefined, fallbackMs = 1000): number {
  if (text === undefined) return fallbackMs;
  const t = text.trim();
  const ms = /^[0-9]+(\.[0-9]+)?$/.test(t) ? Number(t) * 1000 : (() => {
    const d = parseDuration(t);
    return d.ok ? d.value : NaN;
  })();
  if (!(ms > 0) || !Number.isFinite(ms)) throw usageError(command, `--interval must be a positive number of seconds or a duration like "500ms", got "${text}"`);
  return ms;
}
