/**
 * The admin HTTP server (node:http): a small router that callers fill with endpoints.
 *
 * Rules, in the order a request meets them:
 *  - Listens on `host` only (memshift's config defaults it to 127.0.0.1); port 0 picks a free port,
 *    `address` tells which.
 *  - Unknown path: 404 `{error}`. Known path, method not registered on it: 405 `{error}` with `Allow`.
 *    HEAD is answered wherever GET is (same status and headers, no body).
 *  - GET endpoints are open: no token is needed and any `Authorization` header is ignored; except
 *    those registered with `getGuarded` (what shows backend addresses, like `/config`), which need the
 *    token as POSTs do when the listener is not on a loopback address.
 *  - HTTPS when `tls` is given (its files re-read when they change, tls/listener.ts). A listener on a
 *    non-loopback address logs a warning at start when it has no TLS (the API, tokens included, is in
 *    clear text) or no token (it is open to read).
 *  - POST endpoints mutate and need `Authorization: Bearer <token>`. No token configured at all: 403,
 *    saying they are disabled until admin.token / admin.token_file / MEMSHIFT_ADMIN_TOKEN is set.
 *    Missing, malformed or wrong token: 401 with `WWW-Authenticate: Bearer`. Every refusal is logged
 *    (remote address, method, path, reason; never the token) at most `authLogPerMinute` times a minute.
 *    After `refuseMutations(reason)` (a shutdown), a POST with a good token answers 503 `{error: reason}`.
 *    The token is checked before the body is read; a refused request's connection is closed.
 *  - POST bodies are JSON, at most `maxBodyBytes` (default 64 KiB; beyond it 413 and the connection is
 *    closed); unparseable: 400. An empty body reaches the handler as undefined.
 *  - A handler returns `{status, body, contentType?}`; `body` is sent as JSON unless `contentType` is
 *    given with a string body. A handler throwing AdminHttpError answers with its status; any other
 *    exception (or an unusable response) is logged and answered 500 `{error}`. Nothing a request does
 *    can end the process.
 *  - Built in: `GET /healthz` → 200 `{status:"ok"}` whenever the process can answer. `registerReadyz`
 *    adds `GET /readyz` from a `() => boolean`; everything else is registered by callers.
 *  - Keep-alive is allowed. `close()` runs the `onClose` hooks (an endpoint releasing connections of its
 *    own), stops accepting, closes idle connections at once, lets requests in flight finish for up to
 *    `closeGraceMs`, then cuts what is left.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { ListenerTlsConfig } from '../config/types.js';
import { listenerServerOptions, rotateListenerTls } from '../tls/index.js';
import { formatHostPort, isLoopbackHost } from '../config/address.js';
import { nonLoopbackWarning } from '../config/warnings.js';
import { MemshiftError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { LogBudget, MUTATING_DISABLED_MESSAGE, TokenCheck, type AuthRefusal } from './auth.js';
import { encodeBody, readJsonBody, writeJson, writeResponse } from './http.js';
import { AdminRoutes, type AdminEndpoints, type AdminHandler } from './routes.js';

export interface AdminOptions {
  host: string;
  port: number;
  /** Bearer token for POST endpoints; undefined or empty disables them (403). A function is asked at each request (a token file). */
  token?: string | undefined | (() => string | undefined);
  logger: Logger;
  /** HTTPS with this certificate (re-read when its files change); absent: plain HTTP. */
  tls?: ListenerTlsConfig | undefined;
  /** Largest accepted request body in bytes; default 64 KiB. */
  maxBodyBytes?: number | undefined;
  /** Refused mutating requests logged per minute at most; default 10. */
  authLogPerMinute?: number | undefined;
  /** How long close() lets requests in flight finish before cutting their connections; default 5000 ms. */
  closeGraceMs?: number | undefined;
  /** Clock for the log budget (tests); default Date.now. */
  now?: (() => number) | undefined;
}

export type { AdminEndpoints, AdminHandler, AdminRequest, AdminResponse } from './routes.js';
export { AdminRoutes } from './routes.js';
export { AdminHttpError } from './http.js';
export { MUTATING_DISABLED_MESSAGE } from './auth.js';

export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
export const DEFAULT_AUTH_LOG_PER_MINUTE = 10;
export const DEFAULT_CLOSE_GRACE_MS = 5_000;
/** A connection whose request headers have not all arrived this long after it opened is closed. */
export const ADMIN_HEADERS_TIMEOUT_MS = 5_000;
/** A whole request (headers and body) must arrive within this. */
export const ADMIN_REQUEST_TIMEOUT_MS = 10_000;
/** Connections past this many are closed on accept (the admin API needs a few). */
export const ADMIN_MAX_CONNECTIONS = 64;

export class AdminServer implements AdminEndpoints {
  private readonly routes: AdminRoutes;
  /** The listener is on a loopback address (only this host can reach it). */
  private loopback = true;
  private readonly tokens: TokenCheck;
  private readonly authLog: LogBudget;
  private readonly logger: Logger;
  private readonly maxBodyBytes: number;
  private readonly closeGraceMs: number;
  private bound = '';
  private closing: Promise<void> | undefined;
  private readonly sockets = new Set<Socket>();
  private stopRotation: () => void = () => undefined;
  /** Set by refuseMutations: every POST answers 503 with it. */
  private mutationsRefused: string | undefined;

  private constructor(
    private readonly server: http.Server,
    opts: AdminOptions,
  ) {
    this.logger = opts.logger;
    this.tokens = new TokenCheck(opts.token);
    this.authLog = new LogBudget(opts.authLogPerMinute ?? DEFAULT_AUTH_LOG_PER_MINUTE, opts.now);
    this.maxBodyBytes = opts.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.closeGraceMs = opts.closeGraceMs ?? DEFAULT_CLOSE_GRACE_MS;
    this.routes = new AdminRoutes(this.logger);
    this.get('/healthz', () => ({ status: 200, body: { status: 'ok' } }));
  }

  /** Binds `host:port` and serves; rejects with MS_ERR_LISTEN when the address cannot be bound. */
  static async start(opts: AdminOptions): Promise<AdminServer> {
    // Slow or unfinished requests are cut: the timeouts are checked every second (Node's default
    // check runs every 30 s, which let unfinished headers hold a connection that long).
    const httpOptions = { headersTimeout: ADMIN_HEADERS_TIMEOUT_MS, requestTimeout: ADMIN_REQUEST_TIMEOUT_MS, connectionsCheckingInterval: 1_000 };
    const server = opts.tls === undefined ? http.createServer(httpOptions) : https.createServer({ ...httpOptions, ...listenerServerOptions(opts.tls) });
    server.maxConnections = ADMIN_MAX_CONNECTIONS;
    const admin = new AdminServer(server, opts);
    // Every socket, until it closes: close() ends those HTTP does not track (a TLS handshake under way).
    server.on('connection', (socket: Socket) => {
      admin.sockets.add(socket);
      socket.once('close', () => admin.sockets.delete(socket));
    });
    if (server instanceof https.Server && opts.tls !== undefined) {
      const t = opts.tls;
      admin.stopRotation = rotateListenerTls(
        server,
        t,
        (err) => admin.logger.error({ err: err.message }, 'admin TLS files changed but cannot be used: new connections keep the certificate read before'),
        () => admin.logger.info('admin TLS files changed: new connections use them'),
      );
    }
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => {
      admin.dispatch(req, res).catch((err: unknown) => {
        admin.logger.error({ err }, 'admin request failed');
        res.destroy();
      });
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: opts.host, port: opts.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      admin.stopRotation();
      server.close();
      const where = formatHostPort(opts.host, opts.port);
      throw new MemshiftError('MS_ERR_LISTEN', `cannot listen on admin ${where}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // Past listen(), a server error (e.g. EMFILE on accept) is logged; it must never end the process.
    server.on('error', (err) => admin.logger.error({ err: err.message }, 'admin listener error'));
    const info = server.address() as AddressInfo;
    admin.bound = formatHostPort(info.address, info.port);
    admin.loopback = isLoopbackHost(info.address);
    const warning = admin.loopback ? null : nonLoopbackWarning(admin.bound, opts.tls !== undefined, admin.tokens.configured);
    if (warning !== null) admin.logger.warn({ admin: admin.bound }, warning);
    if (opts.token === '') admin.logger.warn('admin token is empty: mutating admin endpoints are disabled');
    admin.logger.info({ admin: admin.bound, mutating: admin.tokens.configured }, 'admin API listening');
    return admin;
  }

  /** `host:port` actually bound (the real port when 0 was asked for). */
  get address(): string {
    return this.bound;
  }

  /** Registers an open (no token) GET endpoint; HEAD is answered too. */
  get(path: string, handler: AdminHandler): void {
    this.routes.get(path, handler);
  }

  /** Registers a GET endpoint that needs the bearer token when the listener is not on loopback. */
  getGuarded(path: string, handler: AdminHandler): void {
    this.routes.getGuarded(path, handler);
  }

  /** Registers a mutating POST endpoint: needs the bearer token. */
  post(path: string, handler: AdminHandler): void {
    this.routes.post(path, handler);
  }

  /**
   * From now on every POST answers 503 `{error: reason}` (the token still checked first), the
   * connection closed; GETs still answer. A shutdown calls it first: nothing may build state
   * (a reload's generation, a migration's timers) that the shutdown would not close.
   */
  refuseMutations(reason: string): void {
    this.mutationsRefused = reason;
  }

  /** Runs `hook` when close() is first called (an endpoint releasing what it holds). */
  onClose(hook: () => void): void {
    this.routes.onClose(hook);
  }

  /** Stops accepting, closes idle keep-alive connections now and the rest after the grace period. */
  close(): Promise<void> {
    this.stopRotation();
    this.closing ??= new Promise<void>((resolve) => {
      this.routes.close();
      const cut = setTimeout(() => {
        this.server.closeAllConnections();
        for (const s of this.sockets) s.destroy();
      }, this.closeGraceMs);
      cut.unref();
      this.server.close(() => {
        clearTimeout(cut);
        resolve();
      });
      this.server.closeIdleConnections();
    });
    return this.closing;
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const headers: Record<string, string> = {};
    const url = parseTarget(req.url);
    if (url === undefined) return this.reply(res, 400, { error: 'malformed request target' });
    const path = url.pathname;
    const method = req.method === 'HEAD' ? 'GET' : (req.method ?? '');
    const handler = this.routes.lookup(req.method ?? '', path);
    if (typeof handler !== 'function') {
      if (handler.allow !== undefined) headers['Allow'] = handler.allow;
      return this.reply(res, handler.status, { error: handler.error }, headers);
    }

    let body: unknown = undefined;
    if (method === 'POST' || (!this.loopback && this.routes.guarded.has(path))) {
      const auth = this.tokens.check(req.headers.authorization);
      if (!auth.ok) {
        this.logRefusal(req, path, auth.reason);
        headers['Connection'] = 'close'; // whatever body it sent is not read, and the connection not reused
        if (auth.reason === 'disabled') {
          const error = method === 'POST' ? MUTATING_DISABLED_MESSAGE : `${path} shows backend addresses: on a non-loopback listener it needs the admin token, and none is configured`;
          return this.reply(res, 403, { error }, headers);
        }
        headers['WWW-Authenticate'] = 'Bearer realm="memshift-admin"';
        return this.reply(res, 401, { error: 'missing or invalid bearer token' }, headers);
      }
    }
    if (method === 'POST' && this.mutationsRefused !== undefined) {
      headers['Connection'] = 'close'; // its body is not read
      return this.reply(res, 503, { error: this.mutationsRefused }, headers);
    }
    if (method === 'POST') {
      const read = await readJsonBody(req, this.maxBodyBytes);
      if (!read.ok) {
        if (read.status === 413) headers['Connection'] = 'close'; // the rest is dropped unbuffered; no reuse
        return this.reply(res, read.status, { error: read.error }, headers);
      }
      body = read.body;
    }

    const out = await this.routes.run(handler, { method: req.method ?? method, path, query: url.searchParams, body });
    let payload: ReturnType<typeof encodeBody>;
    try {
      payload = encodeBody(out.body, out.contentType);
    } catch (err) {
      this.logger.error({ err, method: req.method, path }, 'admin handler failed');
      return this.reply(res, 500, { error: `internal error in ${method} ${path}` });
    }
    if (this.closing !== undefined) res.setHeader('Connection', 'close');
    writeResponse(res, out.status, payload);
  }

  private reply(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    if (this.closing !== undefined) headers['Connection'] = 'close';
    writeJson(res, status, body, headers);
  }

  private logRefusal(req: http.IncomingMessage, path: string, reason: AuthRefusal): void {
    const dropped = this.authLog.take();
    if (dropped === undefined) return;
    const fields = { remote: req.socket.remoteAddress, method: req.method, path, reason };
    const msg = reason === 'disabled' ? 'admin request refused: no admin token configured' : 'admin request refused: bad token';
    this.logger.warn(dropped > 0 ? { ...fields, dropped } : fields, msg);
  }
}

/** Adds `GET /readyz`: 200 `{status:"ready"}` while `isReady()` is true, 503 `{status:"not ready"}` otherwise. */
export function registerReadyz(admin: AdminEndpoints, isReady: () => boolean): void {
  admin.get('/readyz', () =>
    isReady() ? { status: 200, body: { status: 'ready' } } : { status: 503, body: { status: 'not ready' } },
  );
}

function parseTarget(target: string | undefined): URL | undefined {
  try {
    // Origin-form ("/path?q", the usual) is appended so that "//x" stays a path; absolute-form is parsed whole.
    const t = target ?? '/';
    return new URL(t.startsWith('/') ? `http://admin.invalid${t}` : t);
  } catch {
    return undefined;
  }
}
