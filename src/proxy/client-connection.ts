/**
 * One client connection.
 *
 *   socket 'data' ─► RequestParser ─► Dispatcher ─► Slot ─► #queue (arrival order)
 *                                                            │ slots fill in any order
 *   socket ◄── cork/write/uncork (once per turn) ◄── #drain: write the head while it is done
 *
 * Replies leave strictly in request order, whichever backend answers first.
 * Backpressure: past `maxInflightPerClient` slots or `maxQueuedBytesPerClient`
 * unwritten reply bytes the socket stops being read until the client catches up.
 */
import type net from 'node:net';
import { RequestParser, Writer, type ParserSink, type Request } from '../protocol/index.js';
import { scheduleFlush, type Flushable } from '../backend/index.js';
import { LocalSlot, type Slot, type SlotOwner } from './reply-slots.js';
import type { Dispatcher } from './dispatcher.js';
import type { LimitsConfig } from '../config/types.js';
import type { ProxyStats } from './stats.js';

export interface ClientContext {
  dispatcher: Dispatcher;
  limits: LimitsConfig;
  stats: ProxyStats;
  onBinaryProtocol(): void;
  onClosed(client: ClientConnection): void;
}

export class ClientConnection implements ParserSink, SlotOwner, Flushable {
  readonly #socket: net.Socket;
  readonly #ctx: ClientContext;
  readonly #parser: RequestParser;
  readonly #writer = new Writer();
  #queue: Slot[] = [];
  #head = 0;
  #dirty = false;
  #paused = false;
  #firstChunk = true;
  #ending = false;
  #closed = false;
  #draining = false;

  constructor(socket: net.Socket, ctx: ClientContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#parser = new RequestParser(this, ctx.limits);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('drain', () => this.#maybeResume());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#closed = true;
      this.#ctx.onClosed(this);
    });
  }

  get idle(): boolean {
    return this.#head === this.#queue.length;
  }

  /** Graceful shutdown: read no more; close once every reply is written. */
  drainAndClose(): void {
    this.#draining = true;
    this.#socket.pause();
    if (this.idle) this.#endSoon();
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #onData(chunk: Buffer): void {
    this.#ctx.stats.bytesRead += chunk.length;
    if (this.#firstChunk) {
      this.#firstChunk = false;
      if (chunk[0] === 0x80) {
        this.#ctx.onBinaryProtocol();
        this.#socket.destroy();
        return;
      }
    }
    this.#parser.feed(chunk);
    this.#checkPressure();
  }

  // ParserSink
  onRequest(req: Request): void {
    this.#enqueue(this.#ctx.dispatcher.dispatch(req, this));
  }

  onReply(bytes: Buffer): void {
    this.#enqueue(new LocalSlot(this, bytes));
  }

  onClose(): void {
    this.#socket.destroy();
  }

  onQuit(): void {
    this.#enqueue(new LocalSlot(this, null, true));
  }

  // SlotOwner
  slotDone(slot: Slot): void {
    if (this.#queue[this.#head] === slot) this.#drain();
  }

  #enqueue(slot: Slot): void {
    this.#queue.push(slot);
    if (slot.done && this.#queue[this.#head] === slot) this.#drain();
  }

  /** Move every finished slot at the head into the writer. */
  #drain(): void {
    const q = this.#queue;
    let h = this.#head;
    const w = this.#writer;
    while (h < q.length && q[h]!.done) {
      const slot = q[h]!;
      q[h] = undefined as unknown as Slot;
      h++;
      const reply = slot.reply;
      if (reply !== null) {
        if (Array.isArray(reply)) for (let i = 0; i < reply.length; i++) w.bytes(reply[i]!);
        else w.bytes(reply);
      }
      if (slot.closeAfter) {
        this.#ending = true;
        break;
      }
    }
    if (h === q.length) {
      this.#queue = [];
      this.#head = 0;
    } else {
      this.#head = h;
      if (h > 1024 && h * 2 > q.length) {
        this.#queue = q.slice(h);
        this.#head = 0;
      }
    }
    if (!this.#dirty && (w.size > 0 || this.#ending)) {
      this.#dirty = true;
      scheduleFlush(this);
    }
    if (this.#draining && this.idle) this.#endSoon();
    if (this.#paused) this.#maybeResume();
  }

  flush(): void {
    this.#dirty = false;
    if (this.#closed) {
      this.#writer.take();
      return;
    }
    const size = this.#writer.size;
    if (size > 0) {
      this.#ctx.stats.bytesWritten += size;
      const chunks = this.#writer.take();
      const s = this.#socket;
      if (chunks.length === 1) {
        s.write(chunks[0]!);
      } else {
        s.cork();
        for (let i = 0; i < chunks.length; i++) s.write(chunks[i]!);
        s.uncork();
      }
    }
    if (this.#ending) {
      // Like memcached after quit: the connection closes once the replies are out.
      this.#socket.end(() => this.#socket.destroy());
      return;
    }
    this.#checkPressure();
  }

  #endSoon(): void {
    this.#ending = true;
    if (!this.#dirty) {
      this.#dirty = true;
      scheduleFlush(this);
    }
  }

  #overLimits(): boolean {
    const l = this.#ctx.limits;
    return (
      this.#queue.length - this.#head >= l.maxInflightPerClient ||
      this.#socket.writableLength + this.#writer.size >= l.maxQueuedBytesPerClient
    );
  }

  #checkPressure(): void {
    if (!this.#paused && this.#overLimits()) {
      this.#paused = true;
      this.#ctx.stats.clientPauses++;
      this.#socket.pause();
    }
  }

  #maybeResume(): void {
    if (!this.#paused || this.#draining || this.#ending) return;
    const l = this.#ctx.limits;
    const below =
      this.#queue.length - this.#head < l.maxInflightPerClient / 2 &&
      this.#socket.writableLength + this.#writer.size < l.maxQueuedBytesPerClient / 2;
    if (below) {
      this.#paused = false;
      this.#socket.resume();
    }
  }
}
