/**
 * An in-memory stand-in for a net.Socket, for unit tests of the connections (a client's, a
 * backend's): the test plays the peer, sending bytes with `receive` and reading what was written
 * with `sent`. It is a plain Duplex, so onSocketData (src/backend/socket-data.ts) reads it through
 * 'data', and pause/resume, cork/uncork, end and destroy behave as a stream's do. With
 * `stall()` the peer stops reading: writes wait, and `writableLength` grows until `release()`.
 * Nothing here uses timers.
 */
import { Duplex } from 'node:stream';
import type net from 'node:net';

export class MemorySocket extends Duplex {
  readonly #written: Buffer[] = [];
  /** Write callbacks held back while the peer does not read; null while it reads. */
  #stalled: (() => void)[] | null = null;
  /** What a backend connection compares with a server's new address (redial). */
  remoteAddress = '10.0.0.1';

  constructor() {
    super({ read: () => undefined });
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#written.push(chunk);
    if (this.#stalled === null) callback();
    else this.#stalled.push(() => callback());
  }

  /** The socket as the code under test takes it. */
  get socket(): net.Socket {
    return this as unknown as net.Socket;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  /** The peer sends `bytes` (text is taken byte for byte). */
  receive(bytes: string | Buffer): void {
    this.push(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** The bytes written since the last call, as text. */
  sent(): string {
    return Buffer.concat(this.#written.splice(0)).toString('latin1');
  }

  /** The peer stops reading: writes are buffered (writableLength) until release(). */
  stall(): void {
    this.#stalled ??= [];
  }

  /** The peer reads again: every held write completes ('drain' follows). */
  release(): void {
    const held = this.#stalled ?? [];
    this.#stalled = null;
    for (const done of held) done();
  }
}

/** Resolves once `done()` holds, checking after each turn of the event loop; throws after `timeoutMs`. */
export async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

/** Resolves after `n` turns of the event loop (what has been scheduled with setImmediate has run). */
export async function turns(n = 2): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}
