/**
 * The admin API's endpoints, apart from any listener: paths, their methods, which GETs are guarded,
 * and how a handler's answer or exception becomes a response. The AdminServer (server.ts) serves
 * them over HTTP; a worker of `workers: N` (app/cluster) answers the same endpoints for the process
 * that holds the admin listener, which did the HTTP part (token, body) already.
 */
import { AdminHttpError } from './http.js';
import type { Logger } from '../observability/logger.js';

export interface AdminRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  /** The parsed JSON body, or undefined when there was none (always undefined for GET). */
  body: unknown;
}

export interface AdminResponse {
  status: number;
  body: unknown;
  /** Sends a string body as is with this type (e.g. the Prometheus text format) instead of JSON. */
  contentType?: string | undefined;
}

export type AdminHandler = (req: AdminRequest) => Promise<AdminResponse> | AdminResponse;

/** Where endpoints are registered (an AdminServer, or a worker's AdminRoutes). */
export interface AdminEndpoints {
  /** An open (no token) GET endpoint; HEAD is answered too. */
  get(path: string, handler: AdminHandler): void;
  /** A GET endpoint that needs the bearer token when the listener is not on loopback. */
  getGuarded(path: string, handler: AdminHandler): void;
  /** A mutating POST endpoint: needs the bearer token. */
  post(path: string, handler: AdminHandler): void;
  /** Runs `hook` when the admin API closes (an endpoint releasing what it holds). */
  onClose(hook: () => void): void;
}

export type Method = 'GET' | 'POST';
const METHOD_ORDER: readonly Method[] = ['GET', 'POST'];

/** Why a request has no handler: 404 (no such path) or 405 (with the methods it has, for `Allow`). */
export interface NoRoute {
  status: 404 | 405;
  error: string;
  allow?: string;
}

export class AdminRoutes implements AdminEndpoints {
  readonly #routes = new Map<string, Map<Method, AdminHandler>>();
  /** GET paths that need the token when the listener is not on a loopback address. */
  readonly guarded = new Set<string>();
  readonly #closeHooks: (() => void)[] = [];

  constructor(readonly logger: Logger) {}

  get(path: string, handler: AdminHandler): void {
    this.#register('GET', path, handler);
  }

  getGuarded(path: string, handler: AdminHandler): void {
    this.#register('GET', path, handler);
    this.guarded.add(path);
  }

  post(path: string, handler: AdminHandler): void {
    this.#register('POST', path, handler);
  }

  onClose(hook: () => void): void {
    this.#closeHooks.push(hook);
  }

  /** Every registered path with its methods. */
  paths(): { path: string; methods: Method[] }[] {
    return [...this.#routes].map(([path, m]) => ({ path, methods: METHOD_ORDER.filter((x) => m.has(x)) }));
  }

  /** The handler for `method` (HEAD: GET's) on `path`, or why there is none. */
  lookup(method: string, path: string): AdminHandler | NoRoute {
    const methods = this.#routes.get(path);
    if (methods === undefined) return { status: 404, error: `no admin endpoint at ${path}` };
    const handler = methods.get((method === 'HEAD' ? 'GET' : method) as Method);
    if (handler !== undefined) return handler;
    const allow = METHOD_ORDER.filter((m) => methods.has(m)).flatMap((m) => (m === 'GET' ? ['GET', 'HEAD'] : [m]));
    return { status: 405, error: `method ${method} not allowed on ${path}`, allow: allow.join(', ') };
  }

  /**
   * Runs `req` through its handler, or answers 404/405. Never rejects: an AdminHttpError answers
   * with its status, anything else (an exception, an unusable response) is logged and answered 500.
   */
  async answer(req: AdminRequest): Promise<AdminResponse> {
    const handler = this.lookup(req.method, req.path);
    if (typeof handler !== 'function') return { status: handler.status, body: { error: handler.error } };
    return this.run(handler, req);
  }

  /** Runs `handler` as `answer` does. */
  async run(handler: AdminHandler, req: AdminRequest): Promise<AdminResponse> {
    try {
      const out = await handler(req);
      if (out === null || typeof out !== 'object' || !isStatus(out.status)) throw new TypeError(`admin handler for ${req.method} ${req.path} returned no valid response`);
      return out;
    } catch (err) {
      if (err instanceof AdminHttpError && isStatus(err.status)) return { status: err.status, body: { error: err.message } };
      this.logger.error({ err, method: req.method, path: req.path }, 'admin handler failed');
      return { status: 500, body: { error: `internal error in ${req.method} ${req.path}` } };
    }
  }

  /** Runs the close hooks, once. */
  close(): void {
    for (const hook of this.#closeHooks.splice(0)) {
      try {
        hook();
      } catch (err) {
        this.logger.error({ err }, 'admin close hook failed');
      }
    }
  }

  #register(method: Method, path: string, handler: AdminHandler): void {
    if (!path.startsWith('/')) throw new TypeError(`admin endpoint path must start with "/": ${path}`);
    let methods = this.#routes.get(path);
    if (methods === undefined) {
      methods = new Map();
      this.#routes.set(path, methods);
    }
    if (methods.has(method)) throw new TypeError(`admin endpoint ${method} ${path} is already registered`);
    methods.set(method, handler);
  }
}

export function isStatus(status: unknown): status is number {
  return typeof status === 'number' && Number.isInteger(status) && status >= 200 && status <= 599;
}
