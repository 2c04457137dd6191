/**
 * A memcached meta-protocol client for the copy engine's own connections (never the proxy's shared
 * ones, so a copy cannot disturb client traffic or fall out of step with it). Each is a backend
 * connection of its own (backend/connection.ts: the same socket, FIFO, timeouts and reply framing
 * as the proxy's), with requests built and replies read by the protocol's codec (meta-request.ts,
 * reply-values.ts):
 *
 *   mg/ms/md/stats ──► BackendConnection (FIFO, pipelined, one write per turn) ──► memcached
 *                              ▲                                                     │
 *                              └──────── ReplyParser: one framed reply per request ◄─┘
 *
 * Failures, as CopyErrors: `ERROR`/`CLIENT_ERROR` (or bytes that fit no request) mean the stream
 * can no longer be matched to requests: the connection resets and every request in flight fails
 * (COPY_OUT_OF_STEP). So does a request with no byte received for `timeoutMs` (COPY_TIMEOUT) and a
 * close (COPY_CLOSED); a server that refuses connections fails requests at once (COPY_CONNECT)
 * until a probe finds it again. `SERVER_ERROR` fails only its own request. Keys are validated
 * before they are written (see `keyToken`).
 */
import { BackendConnection, Op, endpointId, type ConnectionOptions, type Endpoint, type OpHandler } from '../backend/index.js';
import { CopyError, type CopyErrorCode } from './copy-error.js';
import { secretFile } from '../config/secret-file.js';
import {
  MetaKeyError,
  R,
  ReplyKind,
  isPrefix,
  keyToken as protocolKeyToken,
  metaRequest as protocolMetaRequest,
  parseMetaReply,
  parseStats,
  type MetaReply,
} from '../protocol/index.js';

export { endpointId, type Endpoint } from '../backend/index.js';

export { flagNumber, flagValue, MAX_BASE64_KEY_BYTES, MAX_META_KEY_BYTES as MAX_KEY_BYTES, type MetaReply } from '../protocol/index.js';

/** keyToken (protocol/meta-request.ts), with COPY_KEY for a key no meta command can address. */
export function keyToken(key: Buffer): { token: Buffer; base64: boolean } {
  return copyKeyErrors(() => protocolKeyToken(key));
}

/** metaRequest (protocol/meta-request.ts), with COPY_KEY for a key no meta command can address. */
export function metaRequest(cmd: string, key: Buffer, flags: string, value: Buffer | null): Buffer[] {
  return copyKeyErrors(() => protocolMetaRequest(cmd, key, flags, value));
}

function copyKeyErrors<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof MetaKeyError) throw new CopyError('COPY_KEY', err.message);
    throw err;
  }
}

export interface MetaClientOptions {
  /** A request fails when nothing arrived for this long while it waited (default 5000). */
  timeoutMs?: number;
  /** Default 3000. */
  connectTimeoutMs?: number;
}

/** The backend connection's failure replies, as the copy engine's errors. */
const FAILURES = new Map<Buffer, CopyErrorCode>([
  [R.BACKEND_TIMEOUT, 'COPY_TIMEOUT'],
  [R.BACKEND_DOWN, 'COPY_CONNECT'],
  [R.BACKEND_CLOSED, 'COPY_CLOSED'],
  [R.BACKEND_OUT_OF_STEP, 'COPY_OUT_OF_STEP'],
]);

export class MetaClient {
  readonly endpoint: Endpoint;
  readonly #opts: ConnectionOptions;
  /** Opened on the first request (a client made and never used connects nowhere). */
  #conn: BackendConnection | null = null;
  #closed = false;

  constructor(endpoint: Endpoint, opts: MetaClientOptions = {}) {
    this.endpoint = endpoint;
    this.#opts = {
      ...('path' in endpoint ? { host: '', port: 0, path: endpoint.path } : tcpOptions(endpoint)),
      timeoutMs: opts.timeoutMs ?? 5_000,
      connectTimeoutMs: opts.connectTimeoutMs ?? 3_000,
      // One failed connect fails what waits and the requests that follow at once, until a probe
      // (after 100 ms, doubling up to 2 s) finds the server again.
      failureLimit: 2,
      probeMinMs: 100,
      probeMaxMs: 2_000,
      // The copy engine bounds its own window; the reply of one `mg` is at most one item.
      maxPending: 1_000_000,
      maxReplyBytes: 64 * 1024 * 1024,
      maxQueuedBytes: 256 * 1024 * 1024,
    };
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#conn?.inFlight ?? 0;
  }

  /** `mg <key> <flags>`; e.g. `mg(key, 'v f t c')`. */
  mg(key: Buffer, flags: string): Promise<MetaReply> {
    return this.#meta('mg', key, flags, null);
  }

  /** `ms <key> <len> <flags>` + value; e.g. `ms(key, value, 'T0 F5 ME')`. */
  ms(key: Buffer, value: Buffer, flags: string): Promise<MetaReply> {
    return this.#meta('ms', key, flags, value);
  }

  /** `md <key> <flags>`; e.g. `md(key, 'C12')`. */
  md(key: Buffer, flags: string): Promise<MetaReply> {
    return this.#meta('md', key, flags, null);
  }

  /** `stats` as a Map of `STAT name value`. */
  async stats(): Promise<Map<string, string>> {
    return parseStats(await this.#send([STATS], ReplyKind.Stats));
  }

  /** Closes the connection; requests in flight fail with COPY_CLOSED. */
  close(): void {
    this.#closed = true;
    this.#conn?.close();
  }

  async #meta(cmd: string, key: Buffer, flags: string, value: Buffer | null): Promise<MetaReply> {
    const r = parseMetaReply(await this.#send(metaRequest(cmd, key, flags, value), ReplyKind.Meta));
    // A copy of the value: the reply is a view of socket bytes.
    return r.value === null ? r : { ...r, value: Buffer.from(r.value) };
  }

  /** Sends one request on the connection (backend/connection.ts): its framed reply, or a CopyError. */
  #send(parts: readonly Buffer[], kind: ReplyKind): Promise<Buffer> {
    const where = endpointId(this.endpoint);
    if (this.#closed) return Promise.reject(new CopyError('COPY_CLOSED', `${where}: client closed`));
    const conn = (this.#conn ??= new BackendConnection(this.#opts));
    return new Promise((resolve, reject) => {
      const refused = conn.refuse();
      if (refused !== null) return reject(failure(where, refused, this.#closed));
      const text = (reply: Buffer): string => JSON.stringify(reply.toString('latin1', 0, Math.min(reply.length, 200)).trimEnd());
      const handler: OpHandler = {
        onOpReply: (_op, reply) => (isPrefix(reply, 0, 'SERVER_ERROR') ? reject(new CopyError('COPY_SERVER_ERROR', `${where} answered ${text(reply)}`)) : resolve(reply)),
        onOpError: (_op, error) => reject(failure(where, error, this.#closed)),
      };
      conn.push(new Op(handler, kind, 0));
      for (const p of parts) conn.writer.bytes(p);
    });
  }
}

const STATS = Buffer.from('stats\r\n');

/** Host, port, TLS and authentication of a TCP endpoint, as a connection takes them. */
function tcpOptions(e: Exclude<Endpoint, { path: string }>): Pick<ConnectionOptions, 'host' | 'port' | 'tls' | 'auth'> {
  return {
    host: e.host,
    port: e.port,
    ...(e.tls === undefined ? {} : { tls: e.tls }),
    ...(e.auth === undefined ? {} : { auth: { username: e.auth.username, password: secretFile(e.auth.passwordFile, () => undefined) } }),
  };
}

function failure(where: string, error: Buffer, closed: boolean): CopyError {
  const code = closed ? 'COPY_CLOSED' : (FAILURES.get(error) ?? 'COPY_CONNECT');
  return new CopyError(code, `${where}: ${error.toString('latin1').trim().replace(/^SERVER_ERROR /, '')}`);
}
