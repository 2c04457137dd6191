/**
 * One client connection.
 *
 *   socket 'data' ─► RequestParser ─► Dispatcher ─► Slot ─► #queue (arrival order)
 *                                                            │ slots fill in any order
 *   socket ◄── cork/write/uncork (once per turn) ◄── #drain: write the head while it is done
 *
 * Replies leave strictly in request order, whichever backend answers first.
 * Backpressure: once the reply bytes held for this client (reply-memory.ts: replies queued, and
 * requests in flight at their worst case) reach `maxQueuedBytesPerClient`, or its requests in flight
 * reach `maxInflightPerClient`, or the process holds `maxReplyMemory` for all clients, the client is
 * paused: the parser holds what it has read, and nothing more is dispatched until replies are
 * written out. Its socket is still read until the parser holds HELD_INPUT_MAX bytes, and only then
 * stopped: a client that waits for its replies before it sends more (most do) is paused and resumed
 * without a syscall, and one that keeps sending is held to that many bytes.
 */
import type net from 'node:net';
import { RequestParser, Writer, type ParserSink, type Request } from '../protocol/index.js';
import { onSocketData, scheduleFlush, type Flushable } from '../backend/index.js';
import { LocalSlot, type Slot, type SlotOwner } from './reply-slots.js';
import type { Dispatcher } from './dispatcher.js';
import type { LimitsConfig } from '../config/types.js';
import type { ProxyStats } from './stats.js';
import { DeferredSlot, MEMORY_FULL_GRACE, type MemoryWaiter, type ReplyMemory, replyBytes, worstReplyBytes } from './reply-memory.js';

/** Input a paused client may send before its socket stops being read (about one socket read). */
export const HELD_INPUT_MAX = 64 * 1024;

export interface ClientContext {
  dispatcher: Dispatcher;
  limits: LimitsConfig;
  stats: ProxyStats;
  /** The process-wide bound on reply bytes held for clients. */
  memory: ReplyMemory;
  onBinaryProtocol(): void;
  onClosed(client: ClientConnection): void;
}

export class ClientConnection implements ParserSink, SlotOwner, Flushable, MemoryWaiter {
  readonly #socket: net.Socket;
  readonly #ctx: ClientContext;
  readonly #parser: RequestParser;
  readonly #writer = new Writer();
  #queue: Slot[] = [];
  #head = 0;
  #dirty = false;
  /** Paused: requests are held (not parsed) until replies go out. */
  #holding = false;
  /** The socket is not read (a paused client that kept sending). */
  #paused = false;
  #firstChunk = true;
  #ending = false;
  #closed = false;
  #draining = false;
  /** Σ slot.held over the slots in #queue. */
  #slotBytes = 0;
  /** What this client adds to ctx.memory.used now. */
  #accounted = 0;
  /** A request waiting for reply memory (reply-memory.ts); nothing more is read meanwhile. */
  #deferred: DeferredSlot | null = null;

  constructor(socket: net.Socket, ctx: ClientContext) {
    this.#socket = socket;
    this.#ctx = ctx;
    this.#parser = new RequestParser(this, ctx.limits);
    socket.setNoDelay(true);
    onSocketData(socket, (chunk) => this.#onData(chunk));
    socket.on('drain', () => this.#maybeResume());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#closed = true;
      this.#ctx.memory.add(-this.#accounted);
      this.#accounted = 0;
      this.#ctx.memory.forget(this);
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
    const worst = worstReplyBytes(req, this.#ctx.limits);
    if (this.#ctx.memory.full && this.#held() + worst > MEMORY_FULL_GRACE) {
      // Waits for reply memory, in its place; reading stops until it is sent (memoryFreed).
      const deferred = new DeferredSlot(this, req, worst);
      this.#deferred = deferred;
      this.#enqueue(deferred);
      this.#checkPressure();
      return;
    }
    const slot = this.#ctx.dispatcher.dispatch(req, this);
    if (!slot.done) slot.held = worst;
    this.#enqueue(slot);
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
      this.#hold();
      return false;
    }
    return true;
  }

  onQuit(): void {
    this.#enqueue(new LocalSlot(this, null, true));
  }

  // SlotOwner
  slotDone(slot: Slot): void {
    // Counted at its size from now on, not its worst case.
    const size = replyBytes(slot.reply);
    this.#slotBytes += size - slot.held;
    slot.held = size;
    if (this.#queue[this.#head] === slot) this.#drain();
  }

  #enqueue(slot: Slot): void {
    if (slot.done) slot.held = replyBytes(slot.reply);
    this.#slotBytes += slot.held;
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
      this.#slotBytes -= slot.held;
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
    if (this.#holding) this.#maybeResume();
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

  /** Reply bytes held for this client: slots (in flight at their worst case), its writer, its socket's buffer. */
  #held(): number {
    return this.#slotBytes + this.#writer.size + this.#socket.writableLength;
  }

  /** Tells the process-wide count what this client holds now. */
  #account(): number {
    const held = this.#held();
    if (held !== this.#accounted && !this.#closed) {
      this.#ctx.memory.add(held - this.#accounted);
      this.#accounted = held;
    }
    return held;
  }

  #overLimits(): boolean {
    const held = this.#account();
    const l = this.#ctx.limits;
    if (this.#queue.length - this.#head >= l.maxInflightPerClient || held >= l.maxQueuedBytesPerClient) return true;
    if (this.#deferred === null && (!this.#ctx.memory.full || held < MEMORY_FULL_GRACE)) return false;
    this.#ctx.memory.wait(this);
    return true;
  }

  #checkPressure(): void {
    if (this.#holding || this.#overLimits()) this.#hold();
  }

  /** Pause the client: count it once, and stop reading its socket once the parser holds enough. */
  #hold(): void {
    if (!this.#holding) {
      this.#holding = true;
      this.#ctx.stats.clientPauses++;
    }
    if (!this.#paused && this.#parser.buffered >= HELD_INPUT_MAX) {
      this.#paused = true;
      this.#socket.pause();
    }
  }

  // MemoryWaiter: the process holds less than max_reply_memory again.
  memoryFreed(): void {
    const deferred = this.#deferred;
    if (deferred !== null && !this.#closed) {
      this.#deferred = null;
      // Counted from now on (a reply at once adjusts it in slotDone).
      deferred.held = deferred.worst;
      this.#slotBytes += deferred.worst;
      deferred.start((req, owner) => this.#ctx.dispatcher.dispatch(req, owner));
    }
    this.#maybeResume();
  }

  #maybeResume(): void {
    const held = this.#account();
    if (!this.#holding || this.#draining || this.#ending) return;
    const l = this.#ctx.limits;
    const below = this.#queue.length - this.#head < l.maxInflightPerClient / 2 && held < l.maxQueuedBytesPerClient / 2;
    if (!below) return;
    if (this.#deferred !== null || (this.#ctx.memory.full && held >= MEMORY_FULL_GRACE)) {
      this.#ctx.memory.wait(this);
      return;
    }
    this.#holding = false;
    if (this.#paused) {
      this.#paused = false;
      this.#socket.resume();
    }
    // Parse what was held back, outside whatever callback brought us here.
    queueMicrotask(() => {
      if (!this.#holding && !this.#closed) this.#parser.resume();
    });
  }
}
