/**
 * A small memcached meta-protocol client for the copy engine's own connections (never the proxy's
 * shared backend connections, so a copy cannot disturb client traffic or fall out of step with it).
 *
 *   mg/ms/md/stats ──► #queue (FIFO, in write order) ──► socket ──► memcached
 *                             ▲                                       │
 *                             └──── one reply framed per request ◄────┘
 *
 * Framing: every meta reply is one line (`HD`, `EN`, `NS`, `NF`, `EX`, `HD c12`…) except
 * `VA <len> <flags>` followed by <len> bytes and `\r\n`; `stats` is `STAT` lines up to `END`.
 * Requests are pipelined; writes made in one event-loop turn go out in one cork/uncork.
 *
 * Failures: `ERROR`/`CLIENT_ERROR` (or bytes that fit no request) mean the stream can no longer be
 * matched to requests: the socket is destroyed and every request in flight fails
 * (COPY_OUT_OF_STEP). So does a request older than `timeoutMs` with no byte received meanwhile
 * (COPY_TIMEOUT) and a close (COPY_CLOSED). `SERVER_ERROR` fails only its own request. The next
 * request opens a new connection. Keys are validated before they are written (see `keyToken`).
 */
import net from 'node:net';
import { CopyError } from './copy-error.js';

/** A memcached server: TCP host/port or a unix socket path (the harness's and net.connect's shape). */
export type Endpoint = { readonly host: string; readonly port: number } | { readonly path: string };

/** A stable string for an endpoint: `host:port` or `unix:/path`. */
export function endpointId(e: Endpoint): string {
  return 'path' in e ? `unix:${e.path}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

/** One meta reply: the status word, the returned flags (`c12`, `f5`, `t-1`…) and the value of a `VA`. */
export interface MetaReply {
  readonly status: string;
  readonly flags: readonly string[];
  readonly value: Buffer | null;
}

/** The value of a returned flag (`flagValue(r, 'c')` → '12'), or undefined. */
export function flagValue(reply: MetaReply, flag: string): string | undefined {
  for (const f of reply.flags) if (f.startsWith(flag)) return f.slice(flag.length);
  return undefined;
}

/** A returned numeric flag, or NaN when it is missing or not a number. */
export function flagNumber(reply: MetaReply, flag: string): number {
  const v = flagValue(reply, flag);
  return v === undefined || !/^-?\d+$/.test(v) ? Number.NaN : Number(v);
}

/** memcached's KEY_MAX_LENGTH; with the `b` flag it applies to the base64 text. */
export const MAX_KEY_BYTES = 250;
/** The longest binary key whose base64 text fits in 250 bytes (4 * ceil(186 / 3) = 248). */
export const MAX_BASE64_KEY_BYTES = 186;

/**
 * How a key goes on a meta command line. Plain printable ASCII goes as is. Anything else goes
 * base64 with the `b` flag when it fits (memcached checks the length of the encoded token);
 * a longer key goes raw when it holds no byte that ends a token (space, `\r`, `\n`, NUL), as
 * memcached's text protocol accepts other control and high bytes. Otherwise COPY_KEY.
 */
export function keyToken(key: Buffer): { token: Buffer; base64: boolean } {
  if (key.length === 0 || key.length > MAX_KEY_BYTES) throw new CopyError('COPY_KEY', `key of ${key.length} bytes`);
  let plain = true;
  let rawSafe = true;
  for (const b of key) {
    if (b <= 0x20 || b >= 0x7f) plain = false;
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x00) rawSafe = false;
  }
  if (plain) return { token: key, base64: false };
  if (key.length <= MAX_BASE64_KEY_BYTES) return { token: Buffer.from(key.toString('base64'), 'latin1'), base64: true };
  if (rawSafe) return { token: key, base64: false };
  throw new CopyError('COPY_KEY', `a ${key.length}-byte key with a space, CR, LF or NUL cannot be addressed`);
}

const CRLF = Buffer.from('\r\n');
const SPACE = Buffer.from(' ');

/**
 * The bytes of one meta request (`mg`, `ms`, `md`): the key as `keyToken` writes it (base64 with the
 * `b` flag when it must be), the value length and the value for `ms`. Throws COPY_KEY for a key no
 * meta command can address.
 */
export function metaRequest(cmd: string, key: Buffer, flags: string, value: Buffer | null): Buffer[] {
  const token = keyToken(key);
  const parts = [Buffer.from(`${cmd} `), token.token];
  if (value !== null) parts.push(Buffer.from(` ${value.length}`));
  const f = token.base64 ? (flags.length > 0 ? `${flags} b` : 'b') : flags;
  if (f.length > 0) parts.push(SPACE, Buffer.from(f, 'latin1'));
  parts.push(CRLF);
  if (value !== null) parts.push(value, CRLF);
  return parts;
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
  stats?: Map<string, string>;
}

const EMPTY = Buffer.alloc(0);

export class MetaClient {
  readonly endpoint: Endpoint;
  readonly #timeoutMs: number;
  readonly #connectTimeoutMs: number;
  #socket: net.Socket | null = null;
  #queue: Pending[] = [];
  #head = 0;
  #buf: Buffer = EMPTY;
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
    const socket = net.connect({ ...this.endpoint, noDelay: true } as net.NetConnectOpts);
    this.#socket = socket;
    this.#buf = EMPTY;
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
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      this.#parse();
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
    this.#buf = EMPTY;
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

  #parse(): void {
    let pos = 0;
    const buf = this.#buf;
    while (pos < buf.length) {
      const head = this.#queue[this.#head];
      if (head === undefined) {
        this.#reset(new CopyError('COPY_OUT_OF_STEP', `${endpointId(this.endpoint)}: bytes with no request waiting`));
        return;
      }
      const nl = buf.indexOf(0x0a, pos);
      if (nl < 0) break;
      const line = buf.toString('latin1', pos, nl > pos && buf[nl - 1] === 0x0d ? nl - 1 : nl);
      if (line === 'ERROR' || line.startsWith('ERROR ') || line.startsWith('CLIENT_ERROR')) {
        this.#reset(new CopyError('COPY_OUT_OF_STEP', `${endpointId(this.endpoint)} answered ${JSON.stringify(line)}`));
        return;
      }
      if (line.startsWith('SERVER_ERROR')) {
        pos = nl + 1;
        this.#shift().reject(new CopyError('COPY_SERVER_ERROR', `${endpointId(this.endpoint)} answered ${JSON.stringify(line)}`));
        continue;
      }
      if (head.kind === 'stats') {
        pos = nl + 1;
        if (line === 'END') {
          this.#shift().resolve(head.stats ?? new Map());
        } else if (line.startsWith('STAT ')) {
          const rest = line.slice(5);
          const sp = rest.indexOf(' ');
          (head.stats ??= new Map()).set(sp < 0 ? rest : rest.slice(0, sp), sp < 0 ? '' : rest.slice(sp + 1));
        } else {
          this.#reset(new CopyError('COPY_OUT_OF_STEP', `${endpointId(this.endpoint)}: stats line ${JSON.stringify(line)}`));
          return;
        }
        continue;
      }
      const tokens = line.split(' ');
      const status = tokens[0] ?? '';
      if (status === 'VA') {
        const len = Number(tokens[1]);
        if (!Number.isInteger(len) || len < 0) {
          this.#reset(new CopyError('COPY_OUT_OF_STEP', `${endpointId(this.endpoint)}: bad VA line ${JSON.stringify(line)}`));
          return;
        }
        const end = nl + 1 + len;
        if (end + 2 > buf.length) break;
        if (buf[end] !== 0x0d || buf[end + 1] !== 0x0a) {
          this.#reset(new CopyError('COPY_OUT_OF_STEP', `${endpointId(this.endpoint)}: VA data not followed by CRLF`));
          return;
        }
        const value = Buffer.from(buf.subarray(nl + 1, end));
        pos = end + 2;
        this.#shift().resolve({ status, flags: tokens.slice(2), value });
        continue;
      }
      pos = nl + 1;
      this.#shift().resolve({ status, flags: tokens.slice(1), value: null });
    }
    this.#buf = pos >= buf.length ? EMPTY : buf.subarray(pos);
  }
}
