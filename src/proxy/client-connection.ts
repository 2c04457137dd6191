/**
 * One client connection.
 *
 *   socket 'data' ─► RequestParser ─► Dispatcher ─► Slot ─► #queue (arrival order)
 *                                                            │ slots fill in any order
 *   socket ◄── cork/write/uncork (once per turn) ◄── #drain: write the head while it is done
 *
 * Replies leave strictly in request order, whichever backend answers first.
 * Backpressure: past `maxQueuedBytesPerClient` unwritten reply bytes, or past
 * the requests in flight that could fill that budget, the socket stops being
 * read (and the parser holds what it already read) until the client catches up.
 * Requests in flight are capped by `maxInflightPerClient` and by the budget
 * divided by this client's average reply size, so a client pipelining large
 * gets cannot make memshift buffer far more than the budget.
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
  /** Moving average of this client's reply size, starting pessimistic (64 KiB) until replies are seen. */
  #avgReply = 64 * 1024;

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
    this.#ctx.stats.countLocal(bytes);
    this.#enqueue(new LocalSlot(this, bytes));
  }

  /** memcached closes here; like memcached, the replies to earlier requests still go out first. */
  onClose(): void {
    this.#ctx.stats.protocolCloses++;
    this.#enqueue(new LocalSlot(this, null, true));
  }

  wantsMore(): boolean {
    if (this.#overLimits()) {
      this.#checkPressure();
      return false;
    }
    return true;
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
        const before = w.size;
        if (Array.isArray(reply)) for (let i = 0; i < reply.length; i++) w.bytes(reply[i]!);
        else w.bytes(reply);
        this.#avgReply += (w.size - before - this.#avgReply) / 8;
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

  /** Requests this client may have in flight: what its reply budget holds at its average reply size. */
  #inflightLimit(): number {
    const l = this.#ctx.limits;
    return Math.min(l.maxInflightPerClient, Math.max(8, Math.floor(l.maxQueuedBytesPerClient / Math.max(this.#avgReply, 1))));
  }

  #overLimits(): boolean {
    return (
      this.#queue.length - this.#head >= this.#inflightLimit() ||
      this.#socket.writableLength + this.#writer.size >= this.#ctx.limits.maxQueuedBytesPerClient
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
    const below =
      this.#queue.length - this.#head < this.#inflightLimit() / 2 &&
      this.#socket.writableLength + this.#writer.size < this.#ctx.limits.maxQueuedBytesPerClient / 2;
    if (below) {
      this.#paused = false;
      this.#socket.resume();
      // Parse what was held back, outside whatever callback brought us here.
      queueMicrotask(() => {
        if (!this.#paused && !this.#closed) this.#parser.resume();
      });
    }
  }
}
