/**
 * A small memcached meta-protocol client for the copy engine's own connections (never the proxy's
 * shared backend connections, so a copy cannot disturb client traffic or fall out of step with it).
 *
 *   mg/ms/md/stats ──► #queue (FIFO, in write order) ──► socket ──► memcached
 *                             ▲                                       │
 *                             └──── one reply framed per request ◄────┘
 *
 * Framing and reading replies are the protocol's (ReplyParser, reply-values.ts), and so are the
 * request bytes (meta-request.ts): the same codec as the proxy's backend connections. Requests
 * are pipelined; writes made in one event-loop turn go out in one cork/uncork.
 *
 * Failures: `ERROR`/`CLIENT_ERROR` (or bytes that fit no request) mean the stream can no longer be
 * matched to requests: the socket is destroyed and every request in flight fails
 * (COPY_OUT_OF_STEP). So does a request older than `timeoutMs` with no byte received meanwhile
 * (COPY_TIMEOUT) and a close (COPY_CLOSED). `SERVER_ERROR` fails only its own request. The next
 * request opens a new connection. Keys are validated before they are written (see `keyToken`).
 */
import type net from 'node:net';
import { dial, endpointId, type Endpoint } from '../backend/index.js';
import { CopyError } from './copy-error.js';
import {
  MetaKeyError,
  ReplyKind,
  ReplyParser,
  isPrefix,
  keyToken as protocolKeyToken,
  metaRequest as protocolMetaRequest,
  parseMetaReply,
  parseStats,
  type MetaReply,
  type ReplySink,
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

interface Pending {
  readonly kind: 'meta' | 'stats';
  readonly resolve: (r: MetaReply | Map<string, string>) => void;
  readonly reject: (e: Error) => void;
  readonly sentAt: number;
}

export class MetaClient implements ReplySink {
  readonly endpoint: Endpoint;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  #socket: net.Socket | null = null;
  #queue: Pending[] = [];
  #head = 0;
  readonly #parser = new ReplyParser(this);
  #lastReadAt = 0;
  #corked = false;
  #ticker: NodeJS.Timeout | null = null;
  #closed = false;

  constructor(endpoint: Endpoint, opts: MetaClientOptions = {}) {
    this.endpoint = endpoint;
    this.#timeoutMs = opts.timeoutMs ?? 5_000;
    this.#connectTimeoutMs = opts.connectTimeoutMs ?? 3_000;
  }

  /** Requests written and not yet answered. */
  get inFlight(): number {
    return this.#queue.length - this.#head;
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
  stats(): Promise<Map<string, string>> {
    return this.#send([Buffer.from('stats\r\n')], 'stats') as Promise<Map<string, string>>;
  }

  /** Closes the connection; requests in flight fail with COPY_CLOSED. */
  close(): void {
    this.#closed = true;
    this.#reset(new CopyError('COPY_CLOSED', `${endpointId(this.endpoint)}: client closed`));
  }

  #meta(cmd: string, key: Buffer, flags: string, value: Buffer | null): Promise<MetaReply> {
    let parts: Buffer[];
    try {
      parts = metaRequest(cmd, key, flags, value);
    } catch (err) {
      return Promise.reject(err as Error);
    }
    return this.#send(parts, 'meta') as Promise<MetaReply>;
  }

  #send(parts: Buffer[], kind: 'meta' | 'stats'): Promise<MetaReply | Map<string, string>> {
    if (this.#closed) return Promise.reject(new CopyError('COPY_CLOSED', `${endpointId(this.endpoint)}: client closed`));
    const socket = this.#socket ?? this.#connect();
    return new Promise((resolve, reject) => {
      this.#queue.push({ kind, resolve, reject, sentAt: Date.now() });
      if (!this.#corked) {
        this.#corked = true;
        socket.cork();
        process.nextTick(() => {
          this.#corked = false;
          socket.uncork();
        });
      }
      for (const p of parts) socket.write(p);
      this.#ticker ??= setInterval(() => this.#tick(), Math.max(50, Math.min(1_000, this.#timeoutMs / 4))).unref();
    });
  }

  #connect(): net.Socket {
    const socket = dial(this.endpoint);
    this.#socket = socket;
    this.#parser.reset();
    this.#lastReadAt = Date.now();
    const timer = setTimeout(() => {
      if (this.#socket === socket) this.#reset(new CopyError('COPY_CONNECT', `${endpointId(this.endpoint)}: connect timed out`));
    }, this.#connectTimeoutMs);
    timer.unref();
    let connected = false;
    socket.once('connect', () => {
      connected = true;
      clearTimeout(timer);
    });
    socket.on('data', (chunk: Buffer) => {
      if (this.#socket !== socket) return;
      this.#lastReadAt = Date.now();
      this.#parser.feed(chunk);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      if (this.#socket !== socket) return;
      const code = connected ? 'COPY_CLOSED' : 'COPY_CONNECT';
      this.#reset(new CopyError(code, `${endpointId(this.endpoint)}: ${err.message}`, { cause: err }));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (this.#socket === socket) this.#reset(new CopyError('COPY_CLOSED', `${endpointId(this.endpoint)}: connection closed`));
    });
    return socket;
  }

  /** Destroys the socket and fails every request in flight with `err`. */
  #reset(err: CopyError): void {
    const socket = this.#socket;
    this.#socket = null;
    this.#parser.stop();
    socket?.destroy();
    const failed = this.#queue.slice(this.#head);
    this.#queue = [];
    this.#head = 0;
    if (this.#ticker !== null) {
      clearInterval(this.#ticker);
      this.#ticker = null;
    }
    for (const p of failed) p.reject(err);
  }

  #tick(): void {
    const head = this.#queue[this.#head];
    if (head === undefined) {
      if (this.#ticker !== null) clearInterval(this.#ticker);
      this.#ticker = null;
      return;
    }
    if (Date.now() - Math.max(head.sentAt, this.#lastReadAt) > this.#timeoutMs) {
      this.#reset(new CopyError('COPY_TIMEOUT', `${endpointId(this.endpoint)}: no reply within ${this.#timeoutMs} ms`));
    }
  }

  #shift(): Pending {
    const p = this.#queue[this.#head]!;
    this.#head++;
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return p;
  }

  // ReplySink: ReplyParser frames one reply per request, of the kind the request expects.
  nextReplyKind(): number {
    const head = this.#queue[this.#head];
    return head === undefined ? -1 : head.kind === 'stats' ? ReplyKind.Stats : ReplyKind.Meta;
  }

  onReply(reply: Buffer): void {
    const where = endpointId(this.endpoint);
    const text = (): string => JSON.stringify(reply.toString('latin1', 0, Math.min(reply.length, 200)).trimEnd());
    if (isPrefix(reply, 0, 'ERROR') || isPrefix(reply, 0, 'CLIENT_ERROR')) return this.#reset(new CopyError('COPY_OUT_OF_STEP', `${where} answered ${text()}`));
    const p = this.#shift();
    if (isPrefix(reply, 0, 'SERVER_ERROR')) return p.reject(new CopyError('COPY_SERVER_ERROR', `${where} answered ${text()}`));
    if (p.kind === 'stats') {
      const last = reply.length - END.length;
      if (!(reply.subarray(last).equals(END) && (last === 0 || reply[last - 1] === 0x0a))) return this.#reset(new CopyError('COPY_OUT_OF_STEP', `${where}: stats line ${text()}`));
      return p.resolve(parseStats(reply));
    }
    const r = parseMetaReply(reply);
    // A copy of the value: the reply is a view of socket bytes that may be pooled.
    p.resolve(r.value === null ? r : { ...r, value: Buffer.from(r.value) });
  }

  onUnexpected(reason: string): void {
    this.#reset(new CopyError('COPY_OUT_OF_STEP', `${endpointId(this.endpoint)}: ${reason}`));
  }
}

const END = Buffer.from('END\r\n');
