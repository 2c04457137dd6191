/**
 * A raw TCP client for byte-exact protocol tests: it writes exactly the bytes it is given and
 * hands back exactly the bytes that arrived, with no parsing unless asked (`request`,
 * `replyLength`). One read at a time; whatever a read does not consume stays buffered.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions, type PeerCertificate, TLSSocket } from 'node:tls';
import { pollUntil } from './process.js';

/** A byte count, or a predicate over the buffered bytes: `true` takes all of them, a number > 0 takes that many, `false`/0 waits. */
export type ReadUntil = number | ((buffered: Buffer) => number | boolean);

const EMPTY = Buffer.alloc(0);

function show(buf: Buffer): string {
  const text = buf.toString('latin1');
  return JSON.stringify(text.length > 2_000 ? `${text.slice(0, 2_000)}…(${text.length} bytes)` : text);
}

function lineEnd(buf: Buffer, from: number): number {
  return buf.indexOf(0x0a, from);
}

function lineText(buf: Buffer, from: number, nl: number): string {
  const end = nl > from && buf[nl - 1] === 0x0d ? nl - 1 : nl;
  return buf.toString('latin1', from, end);
}

/** Consumes lines from `from` until a line reading exactly END; returns the offset after it, or 0. */
function untilEnd(buf: Buffer, from: number): number {
  let pos = from;
  for (;;) {
    const nl = lineEnd(buf, pos);
    if (nl < 0) return 0;
    const line = lineText(buf, pos, nl);
    pos = nl + 1;
    if (line === 'END') return pos;
    if (line.startsWith('VALUE ')) {
      const bytes = Number(line.split(' ')[3]);
      if (!Number.isInteger(bytes) || bytes < 0) return pos;
      pos += bytes + 2;
      if (pos > buf.length) return 0;
    }
  }
}

/**
 * The length of the first complete memcached reply in `buf`, or 0 when it is incomplete. Knows
 * VALUE blocks up to END, STAT/ITEM/metadump lines up to END, meta `VA <len>` with its data, and
 * treats anything else as a single line. Usable directly as a `read()` predicate.
 */
export function replyLength(buf: Buffer): number {
  const nl = lineEnd(buf, 0);
  if (nl < 0) return 0;
  const line = lineText(buf, 0, nl);
  if (line.startsWith('VALUE ')) return untilEnd(buf, 0);
  if (line.startsWith('STAT ') || line.startsWith('ITEM ') || line.startsWith('key=')) return untilEnd(buf, 0);
  if (line.startsWith('VA ')) {
    const len = Number(line.split(' ')[1]);
    if (!Number.isInteger(len) || len < 0) return nl + 1;
    const total = nl + 1 + len + 2;
    return total <= buf.length ? total : 0;
  }
  return nl + 1;
}

export class TextClient {
  readonly #socket: Socket;
  #buf: Buffer = EMPTY;
  #closed = false;
  #reading = false;
  /** Called on every data or close event while a read waits. */
  #onChange: (() => void) | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => {
      this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
      this.#onChange?.();
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#onChange?.();
    });
    socket.on('error', () => {
      // A reset shows as a close; tests check isClosed() or get a read error.
    });
  }

  static connect(port: number, host = '127.0.0.1', timeoutMs = 5_000): Promise<TextClient> {
    return TextClient.#opened(netConnect({ port, host, noDelay: true }), 'connect', `connect ${host}:${port}`, timeoutMs);
  }

  /** A client over TLS (`tls.connect` options: ca, cert, key, servername...), resolved once the handshake is done. */
  static connectTls(port: number, options: ConnectionOptions = {}, host = '127.0.0.1', timeoutMs = 5_000): Promise<TextClient> {
    return TextClient.#opened(tlsConnect({ port, host, ...options }), 'secureConnect', `TLS connect ${host}:${port}`, timeoutMs);
  }

  /** A client on `socket` once it emits `ready`; rejects on its error or after `timeoutMs`, saying `what`. */
  static #opened(socket: Socket, ready: 'connect' | 'secureConnect', what: string, timeoutMs: number): Promise<TextClient> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`${what} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once(ready, () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new TextClient(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${what}: ${err.message}`));
      });
    });
  }

  /** The certificate the server presented (TLS connections), else null. */
  peerCertificate(): PeerCertificate | null {
    return this.#socket instanceof TLSSocket ? this.#socket.getPeerCertificate() : null;
  }

  /** Writes the bytes as they are (strings as UTF-8); resolves once handed to the kernel. */
  write(bytes: string | Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
  }

  /** Bytes received and not yet read, without consuming them. */
  buffered(): Buffer {
    return this.#buf;
  }

  #take(n: number): Buffer {
    const out = this.#buf.subarray(0, n);
    this.#buf = n >= this.#buf.length ? EMPTY : this.#buf.subarray(n);
    return out;
  }

  #wanted(until: ReadUntil): number {
    if (typeof until === 'number') return this.#buf.length >= until ? until : 0;
    const r = until(this.#buf);
    if (r === true) return this.#buf.length;
    if (r === false) return 0;
    return r > 0 ? Math.min(r, this.#buf.length) : 0;
  }

  /** Waits until `until` is met and consumes those bytes; rejects on timeout or close with what was buffered. */
  read(until: ReadUntil, timeoutMs = 2_000): Promise<Buffer> {
    if (this.#reading) return Promise.reject(new Error('TextClient: a read is already pending'));
    this.#reading = true;
    return new Promise<Buffer>((resolve, reject) => {
      const finish = (err: Error | undefined, n = 0): void => {
        clearTimeout(timer);
        this.#onChange = undefined;
        this.#reading = false;
        if (err) reject(err);
        else resolve(this.#take(n));
      };
      const check = (): void => {
        const n = this.#wanted(until);
        if (n > 0) finish(undefined, n);
        else if (this.#closed) finish(new Error(`connection closed while reading; buffered ${show(this.#buf)}`));
      };
      const timer = setTimeout(
        () => finish(new Error(`read timed out after ${timeoutMs} ms; buffered ${show(this.#buf)}`)),
        timeoutMs,
      );
      this.#onChange = check;
      check();
    });
  }

  /** Reads through the first occurrence of `terminator` and returns it as UTF-8. */
  async readUntil(terminator: string, timeoutMs = 2_000): Promise<string> {
    const needle = Buffer.from(terminator);
    const out = await this.read((b) => {
      const i = b.indexOf(needle);
      return i < 0 ? 0 : i + needle.length;
    }, timeoutMs);
    return out.toString('utf8');
  }

  /** Everything that arrives until nothing has come for `quietMs` (or the peer closed; at most `maxMs`). */
  readFor(quietMs: number, maxMs = Math.max(10_000, quietMs * 20)): Promise<Buffer> {
    if (this.#reading) return Promise.reject(new Error('TextClient: a read is already pending'));
    this.#reading = true;
    return new Promise<Buffer>((resolve) => {
      let quiet: NodeJS.Timeout | undefined;
      const finish = (): void => {
        clearTimeout(quiet);
        clearTimeout(cap);
        this.#onChange = undefined;
        this.#reading = false;
        resolve(this.#take(this.#buf.length));
      };
      const cap = setTimeout(finish, maxMs);
      const arm = (): void => {
        clearTimeout(quiet);
        if (this.#closed) finish();
        else quiet = setTimeout(finish, quietMs);
      };
      this.#onChange = arm;
      arm();
    });
  }

  /** Writes one request (a missing trailing newline becomes CRLF) and reads one reply (see `replyLength`) as UTF-8. */
  async request(line: string, timeoutMs = 2_000): Promise<string> {
    await this.write(line.endsWith('\n') ? line : `${line}\r\n`);
    return (await this.read(replyLength, timeoutMs)).toString('utf8');
  }

  /** True once the peer closed (or reset) the connection. */
  isClosed(): boolean {
    return this.#closed;
  }

  /** Resolves true when the connection is closed within `ms`, false otherwise. Data that arrives meanwhile stays buffered. */
  async waitClosed(ms = 2_000): Promise<boolean> {
    if (this.#closed) return true;
    return new Promise<boolean>((resolve) => {
      const onClose = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.#socket.removeListener('close', onClose);
        resolve(this.#closed);
      }, ms);
      this.#socket.once('close', onClose);
    });
  }

  /** Closes the connection (FIN, then destroy) and waits for it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#socket.end();
    if (!(await this.waitClosed(1_000))) this.#socket.destroy();
  }

  /** Resets the connection (RST) at once. */
  reset(): void {
    this.#socket.resetAndDestroy();
  }
}

/**
 * Sends `req` through `port` (one connection) every 100 ms until the reply is `want`, or matches it,
 * and returns that reply; throws with the last reply after `ms` (e.g. while backends still connect).
 */
export async function untilReply(port: number, req: string, want: string | RegExp, ms = 10_000): Promise<string> {
  const c = await TextClient.connect(port);
  try {
    const matches = (reply: string): boolean => (typeof want === 'string' ? reply === want : want.test(reply));
    return await pollUntil(`${JSON.stringify(req)} to be answered ${String(want)}`, () => c.request(req), matches, ms, 100);
  } finally {
    c.close();
  }
}
