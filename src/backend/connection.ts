/**
 * One persistent connection to one memcached backend.
 *
 *   send(op) ──► #pending (FIFO of ops, in write order) ──► socket ──► memcached
 *                        ▲                                              │
 *                        └──── ReplyParser frames one reply per op ◄────┘
 *
 * Requests from every client are pipelined on it; replies are matched to ops in
 * FIFO order. A timeout, an unexpected ERROR/CLIENT_ERROR or a close means the
 * stream can no longer be matched: the socket is destroyed and every op in
 * flight fails with SERVER_ERROR. Nothing here knows about keys or pools.
 * States: connecting -> up -> (failure) -> connecting (one immediate retry)
 * -> down (backoff; new ops fail fast) -> connecting ...
 */
import type net from 'node:net';
import tls from 'node:tls';
import { dial, endpointId, readyEvent, type Endpoint } from './dial.js';
import type { BackendTlsConfig } from '../config/types.js';
import { ReplyParser, ReplyKind, Writer, R, isPrefix, type ReplySink } from '../protocol/index.js';
import { scheduleFlush, type Flushable } from './flush-scheduler.js';
import { onSocketData } from './socket-data.js';
import { addTicking, removeTicking, now, type Ticking } from './clock.js';
import { LatencyHistogram } from '../observability/histogram.js';

/** connecting (first connect or a reconnect; ops queue), up, tko (failed; ops fail fast; probed), closed. */
export type BackendState = 'connecting' | 'up' | 'tko' | 'closed';

/** Whoever waits for a backend reply (a client's request slot). */
export interface OpHandler {
  onOpReply(op: Op, reply: Buffer): void;
  /** The op failed; `error` is the SERVER_ERROR line to show. */
  onOpError(op: Op, error: Buffer): void;
}

export class Op {
  sentAt = 0;
  deadline = 0;
  constructor(
    readonly handler: OpHandler,
    readonly kind: ReplyKind,
    /** Which part of its request this op is (a multi-get has one per backend). */
    readonly part: number,
  ) {}
}

export interface ConnectionOptions {
  host: string;
  port: number;
  /** A unix socket instead of host and port (the copy engine's endpoints may be one). */
  path?: string;
  /** TLS to the server (dial.ts); absent: plain TCP. */
  tls?: BackendTlsConfig;
  /** memcached's ASCII authentication (`memcached -Y`), sent first on every connection. */
  auth?: { readonly username: string; readonly password: () => string };
  timeoutMs: number;
  connectTimeoutMs: number;
  /** Failures in a row that make the backend TKO. */
  failureLimit: number;
  probeMinMs: number;
  probeMaxMs: number;
  maxPending: number;
  maxReplyBytes: number;
  maxQueuedBytes: number;
  onStateChange?: (conn: BackendConnection, from: BackendState, to: BackendState, reason: string) => void;
  /** Opens the socket (dial.ts's dial); unit tests pass one that gives in-memory streams. */
  dial?: (endpoint: Endpoint) => net.Socket;
}

const ALLOWED_CLIENT_ERROR = 'CLIENT_ERROR cannot increment or decrement non-numeric value';

export class BackendConnection implements ReplySink, Flushable, Ticking {
  readonly address: string;
  readonly writer = new Writer();
  /** The version the backend reported, once known. */
  version: string | null = null;
  /** Counters, read by stats and metrics. */
  readonly counters = { requests: 0, errors: 0, refused: 0, timeouts: 0, reconnects: 0, tko: 0, outOfStep: 0, bytesOut: 0, bytesIn: 0, tlsErrors: 0, tlsResumed: 0, tlsNudges: 0 };
  /** Moving average of reply latency in ms (for `read: fastest`). */
  latencyMs = 0;
  /** Reply latency (queued to answered), for metrics. */
  readonly latency = new LatencyHistogram();

  #o: ConnectionOptions;
  #state: BackendState = 'connecting';
  #socket: net.Socket | null = null;
  #pending: Op[] = [];
  #head = 0;
  #dirty = false;
  #parser: ReplyParser;
  #probeDelay = 0;
  #retryTimer: NodeJS.Timeout | null = null;
  #connectTimer: NodeJS.Timeout | null = null;
  #consecutiveFailures = 0;
  /** When the backend last sent bytes. */
  /** Why the connection is in its state (the last change's reason: `connected`, a TLS or connect error...). */
  reason = 'connecting';
  #lastNudgeAt = 0;
  /** The current connection resumed the TLS session of the one before. */
  #resumed = false;
  #lastReadAt = 0;
  /** The authentication op of this connection, until its reply. */
  #authOp: Op | null = null;

  /**
   * A reload's new timeouts and bounds (the address stays): they apply from the next request,
   * connect or probe on; requests in flight keep the deadline they were sent with.
   */
  retune(o: Omit<ConnectionOptions, 'host' | 'port' | 'onStateChange' | 'dial'>): void {
    this.#o = { ...this.#o, ...o };
    this.#parser.maxReplyBytes = o.maxReplyBytes;
  }

  constructor(o: ConnectionOptions) {
    this.#o = o;
    this.address = o.path === undefined ? `${o.host}:${o.port}` : endpointId({ path: o.path });
    this.#parser = new ReplyParser(this, o.maxReplyBytes);
    addTicking(this);
    this.#connect();
  }

  get state(): BackendState {
    return this.#state;
  }

  #endpoint(): Endpoint {
    const o = this.#o;
    if (o.path !== undefined) return { path: o.path };
    return o.tls === undefined ? { host: o.host, port: o.port } : { host: o.host, port: o.port, tls: o.tls };
  }

  get inFlight(): number {
    return this.#pending.length - this.#head;
  }

  /** Request bytes waiting to be written: queued in the writer and in the socket's buffer. */
  get queuedBytes(): number {
    return this.writer.size + (this.#socket?.writableLength ?? 0);
  }

  /** Why a new op cannot be taken right now, as the reply to give; null when it can. */
  refuse(): Buffer | null {
    let reply: Buffer = R.BACKEND_DOWN;
    if (this.#state === 'up' || this.#state === 'connecting') {
      if (this.inFlight < this.#o.maxPending && this.queuedBytes < this.#o.maxQueuedBytes) return null;
      reply = R.BACKEND_QUEUE_FULL;
    }
    this.counters.refused++;
    return reply;
  }

  /** Queue an op whose request bytes the caller writes to `writer` right after. */
  push(op: Op): void {
    op.sentAt = now();
    op.deadline = op.sentAt + this.#o.timeoutMs;
    this.#pending.push(op);
    this.counters.requests++;
    if (!this.#dirty && this.#state === 'up') {
      this.#dirty = true;
      scheduleFlush(this);
    }
  }

  flush(): void {
    this.#dirty = false;
    const socket = this.#socket;
    if (this.#state !== 'up' || socket === null || this.writer.size === 0) return;
    this.counters.bytesOut += this.writer.size;
    const chunks = this.writer.take();
    if (chunks.length === 1) {
      socket.write(chunks[0]!);
      return;
    }
    socket.cork();
    for (let i = 0; i < chunks.length; i++) socket.write(chunks[i]!);
    socket.uncork();
  }

  /**
   * The oldest op times out when the backend has sent nothing for `timeoutMs` since it was queued:
   * a backend that is streaming a large reply is slow, not hung.
   */
  tick(t: number): void {
    if (this.#head < this.#pending.length) {
      const deadline = Math.max(this.#pending[this.#head]!.deadline, this.#lastReadAt + this.#o.timeoutMs);
      if (deadline <= t) {
        this.counters.timeouts++;
        this.#reset('request timeout', R.BACKEND_TIMEOUT, 'retry');
        return;
      }
      this.#nudge(t);
    }
  }

  /**
   * memcached 1.6's TLS can leave requests it has read into OpenSSL's buffer unanswered until more
   * bytes arrive on the socket (it waits for the socket, not for SSL_pending): a pipelined burst then
   * stalls at its tail until the timeout. When a TLS connection has requests in flight and has heard
   * nothing for NUDGE_MS, an `mn` (its MN reply ignored) is sent to wake it.
   */
  #nudge(t: number): void {
    const socket = this.#socket;
    if (!(socket instanceof tls.TLSSocket) || this.#state !== 'up') return;
    const quiet = Math.min(t - this.#lastReadAt, t - this.#pending[this.#head]!.sentAt, t - this.#lastNudgeAt);
    if (quiet < NUDGE_MS) return;
    this.#lastNudgeAt = t;
    this.counters.tlsNudges++;
    this.push(new Op(IGNORE_REPLY, ReplyKind.Line, 0));
    this.writer.ascii('mn\r\n');
  }

  close(): void {
    this.#setState('closed', 'closed by memshift');
    removeTicking(this);
    if (this.#retryTimer) clearTimeout(this.#retryTimer);
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    this.#socket?.destroy();
    this.#socket = null;
    this.#failAll(R.BACKEND_CLOSED);
  }

  /**
   * Connect again now (a discovered server has a new address: dial.ts pointName): the socket to the
   * old address is dropped (requests in flight on it fail, as on any reset) unless it already goes
   * to `address`; a TKO backend probes at once instead of waiting out its backoff.
   */
  redial(address: string): void {
    if (this.#state === 'closed') return;
    const socket = this.#socket;
    if (socket !== null && socket.remoteAddress === address) return;
    if (this.#state === 'tko') {
      if (socket !== null) return; // a probe is under way
      if (this.#retryTimer) clearTimeout(this.#retryTimer);
      this.#retryTimer = null;
      this.#connect();
      return;
    }
    this.#reset(`the server moved to ${address}`, R.BACKEND_CLOSED, 'retry');
  }

  // ReplySink
  nextReplyKind(): number {
    return this.#head < this.#pending.length ? this.#pending[this.#head]!.kind : -1;
  }

  onReply(reply: Buffer): void {
    const op = this.#pending[this.#head]!;
    this.#pending[this.#head] = undefined as unknown as Op;
    this.#head++;
    if (this.#head === this.#pending.length) {
      this.#pending.length = 0;
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head);
      this.#head = 0;
    }
    if (op === this.#authOp) {
      this.#authOp = null;
      if (!isPrefix(reply, 0, 'STORED')) {
        // A wrong user or password (memcached answers `CLIENT_ERROR unauthenticated` and closes).
        this.#reset(`authentication as ${this.#o.auth?.username ?? '?'} failed: ${reply.toString('latin1').trim()}`, R.BACKEND_DOWN, 'tko');
        return;
      }
    }
    const c = reply[0];
    if ((c === 0x45 && isPrefix(reply, 0, 'ERROR')) || (c === 0x43 && isPrefix(reply, 0, 'CLIENT_ERROR') && !isPrefix(reply, 0, ALLOWED_CLIENT_ERROR))) {
      // memshift validated the request, so the backend must have read something else: out of step.
      this.counters.outOfStep++;
      op.handler.onOpError(op, R.BACKEND_OUT_OF_STEP);
      this.#reset(`unexpected reply ${JSON.stringify(reply.subarray(0, 80).toString('latin1'))}`, R.BACKEND_OUT_OF_STEP, 'retry');
      return;
    }
    this.#consecutiveFailures = 0;
    const ms = now() - op.sentAt;
    this.latencyMs = this.latencyMs === 0 ? ms : this.latencyMs + (ms - this.latencyMs) / 16;
    this.latency.observe(ms);
    op.handler.onOpReply(op, reply);
  }

  onUnexpected(reason: string): void {
    this.counters.outOfStep++;
    this.#reset(reason, R.BACKEND_OUT_OF_STEP, 'retry');
  }

  /**
   * Open the socket. A reconnect of a healthy backend is `connecting`, and ops queue meanwhile; a
   * probe of a TKO backend stays `tko` (new ops still fail fast) until the backend answers `version`.
   */
  #connect(): void {
    // Two resets in a row (a reply out of step, then its socket's close) schedule two reconnects:
    // the second must not open another socket over the first, which nothing would close.
    if (this.#state === 'closed' || this.#socket !== null) return;
    const probing = this.#state === 'tko';
    if (!probing) this.#setState('connecting', 'connecting');
    const socket = (this.#o.dial ?? dial)(this.#endpoint());
    this.#socket = socket;
    this.#parser.reset();
    this.#connectTimer = setTimeout(() => {
      if (this.#socket === socket && this.#state !== 'up') this.#onSocketFailure(socket, 'connect timeout');
    }, this.#o.connectTimeoutMs);
    let ready = false;
    socket.once(readyEvent(socket), () => {
      ready = true;
      if (this.#socket !== socket) return;
      if (this.#connectTimer) clearTimeout(this.#connectTimer);
      socket.setKeepAlive(true, 30_000);
      // The first op on every connection is `version`: it answers the probe and tells the version.
      this.#pushVersion(probing);
      this.#resumed = socket instanceof tls.TLSSocket && socket.isSessionReused();
      if (this.#resumed) this.counters.tlsResumed++;
      if (!probing) this.#markUp('connected');
      else this.flushNow();
    });
    onSocketData(socket, (chunk) => {
      if (this.#socket !== socket) return;
      this.counters.bytesIn += chunk.length;
      this.#lastReadAt = now();
      this.#parser.feed(chunk);
    });
    socket.on('error', (err) => {
      if (this.#socket === socket && !ready && isTlsFailure(socket, err)) this.counters.tlsErrors++;
      this.#onSocketFailure(socket, err.message);
    });
    socket.on('close', () => this.#onSocketFailure(socket, 'connection closed'));
  }

  #markUp(reason: string): void {
    this.#probeDelay = 0;
    this.#setState('up', this.#resumed ? `${reason} (TLS session resumed)` : reason);
    this.flushNow();
  }

  #pushVersion(probing: boolean): void {
    const handler: OpHandler = {
      onOpReply: (_op, reply) => {
        const line = reply.toString('latin1').trim();
        if (line.startsWith('VERSION ')) this.version = line.slice(8);
        if (probing && this.#state === 'tko') this.#markUp('probe answered');
      },
      onOpError: () => {},
    };
    const op = new Op(handler, ReplyKind.Line, 0);
    op.sentAt = now();
    op.deadline = op.sentAt + this.#o.timeoutMs;
    // First in line: it is written before anything queued while connecting. Counted like any
    // request (its bytes and latency are too). With authentication, that goes first of all.
    const auth = this.#o.auth;
    const queued = this.writer.take();
    if (auth !== undefined) {
      const authOp = new Op({ onOpReply: () => {}, onOpError: () => {} }, ReplyKind.Line, 0);
      authOp.sentAt = op.sentAt;
      authOp.deadline = op.deadline;
      this.#authOp = authOp;
      this.#pending.splice(this.#head, 0, authOp, op);
      const credentials = Buffer.from(`${auth.username} ${auth.password()}`, 'utf8');
      // Already expired (exptime -1): a memcached without -Y stores it like any set, and then nobody
      // can read the password back; one with -Y ignores the exptime and checks the credentials.
      this.writer.ascii(`set memshift-auth 0 -1 ${credentials.length}\r\n`);
      this.writer.bytes(credentials);
      this.writer.ascii('\r\n');
    } else {
      this.#pending.splice(this.#head, 0, op);
    }
    this.counters.requests++;
    this.writer.ascii('version\r\n');
    for (const chunk of queued) this.writer.bytes(chunk);
  }

  /** Write what is queued now (used while the state is not yet `up`). */
  flushNow(): void {
    const socket = this.#socket;
    if (socket === null || this.writer.size === 0) return;
    this.counters.bytesOut += this.writer.size;
    socket.cork();
    for (const chunk of this.writer.take()) socket.write(chunk);
    socket.uncork();
  }

  #onSocketFailure(socket: net.Socket, reason: string): void {
    if (this.#socket !== socket) return;
    const wasUp = this.#state === 'up';
    // A refused or failed connect makes the backend TKO at once; a drop of a live one gets one reconnect.
    this.#reset(reason, wasUp ? R.BACKEND_CLOSED : R.BACKEND_DOWN, wasUp ? 'retry' : 'tko');
  }

  /**
   * Drop the socket and fail everything in flight (later replies could not be matched). Then either
   * reconnect at once (`retry`, while fewer than failure_limit failures in a row), or go TKO and probe
   * with `version` after probe_min, doubling up to probe_max.
   */
  #reset(reason: string, error: Buffer, next: 'retry' | 'tko'): void {
    if (this.#state === 'closed') return;
    const socket = this.#socket;
    this.#socket = null;
    if (this.#connectTimer) clearTimeout(this.#connectTimer);
    socket?.destroy();
    // Whatever else the socket's current read holds goes with it: the parser may be mid-feed (a reply
    // out of step), and must not go on to misread the rest as replies to nothing. It starts clean on
    // the next socket (#connect).
    this.#parser.stop();
    this.#authOp = null;
    this.#failAll(error);
    this.counters.reconnects++;
    this.#consecutiveFailures++;
    if (next === 'retry' && this.#state !== 'tko' && this.#consecutiveFailures < this.#o.failureLimit) {
      this.#setState('connecting', reason);
      setImmediate(() => this.#connect());
      return;
    }
    const o = this.#o;
    this.#probeDelay = this.#probeDelay === 0 ? o.probeMinMs : Math.min(this.#probeDelay * 2, o.probeMaxMs);
    if (this.#state !== 'tko') this.counters.tko++;
    this.#setState('tko', reason);
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null;
      this.#connect();
    }, this.#probeDelay);
    this.#retryTimer.unref();
  }

  #failAll(error: Buffer): void {
    this.writer.take();
    const ops = this.#pending;
    const head = this.#head;
    this.#pending = [];
    this.#head = 0;
    for (let i = head; i < ops.length; i++) {
      const op = ops[i]!;
      this.counters.errors++;
      op.handler.onOpError(op, error);
    }
  }

  #setState(to: BackendState, reason: string): void {
    const from = this.#state;
    if (from === to) return;
    this.#state = to;
    this.reason = reason;
    this.#o.onStateChange?.(this, from, to, reason);
  }
}

/** How long a TLS connection with requests in flight may be silent before it is nudged (see #nudge). */
const NUDGE_MS = 50;
const IGNORE_REPLY: OpHandler = { onOpReply: () => {}, onOpError: () => {} };

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EADDRNOTAVAIL']);

/** A TLS connect that failed in its handshake for a TLS reason (a certificate refused, no common protocol), not the network. */
function isTlsFailure(socket: net.Socket, err: NodeJS.ErrnoException): boolean {
  return socket instanceof tls.TLSSocket && !NETWORK_ERRORS.has(err.code ?? '');
}
