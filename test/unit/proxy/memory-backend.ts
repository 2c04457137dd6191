/**
 * Backends whose one connection is in memory, for data-path unit tests: a request's bytes land in
 * a real Writer (read back with `sent()`), its ops queue in order, and the test answers them with
 * the bytes memcached would send. No sockets, no timers.
 */
import { Backend, type BackendConnection, type BackendPool, type BackendState, type Op } from '../../../src/backend/index.js';
import { parseConfig } from '../../../src/config/index.js';
import { Dispatcher } from '../../../src/proxy/dispatcher.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import { RequestParser, Writer, type ParserSink, type Request } from '../../../src/protocol/index.js';
import type { Slot, SlotOwner } from '../../../src/proxy/reply-slots.js';
import { LIMITS } from '../protocol/parse-helpers.js';

export class MemoryConnection {
  readonly writer = new Writer();
  readonly ops: Op[] = [];
  /** What refuse() answers (BACKEND_DOWN: the backend is TKO); null takes the op. */
  refusal: Buffer | null = null;
  state: BackendState = 'up';
  version: string | null = null;
  readonly counters = { requests: 0, errors: 0, refused: 0, timeouts: 0 };

  constructor(readonly address: string) {}

  get inFlight(): number {
    return this.ops.length;
  }

  refuse(): Buffer | null {
    return this.refusal;
  }

  push(op: Op): void {
    this.ops.push(op);
  }

  /** The bytes written since the last call, as text. */
  sent(): string {
    return Buffer.concat(this.writer.take()).toString('latin1');
  }

  /** The oldest op still waiting gets `reply` (whole, as the reply framer hands it over). */
  answer(reply: string): void {
    const op = this.ops.shift()!;
    op.handler.onOpReply(op, Buffer.from(reply, 'latin1'));
  }

  /** The oldest op still waiting fails (a timeout, a closed connection). */
  fail(error = 'SERVER_ERROR backend timeout\r\n'): void {
    const op = this.ops.shift()!;
    op.handler.onOpError(op, Buffer.from(error, 'latin1'));
  }
}

/** A Backend over one MemoryConnection. */
export function memoryBackend(address: string): { backend: Backend; conn: MemoryConnection } {
  const conn = new MemoryConnection(address);
  return { backend: new Backend(address, [conn as unknown as BackendConnection]), conn };
}

/** A Dispatcher for the config `yaml` whose every server is a MemoryConnection (`conns`, by address). */
export function memoryDispatcher(yaml: string, stats = new ProxyStats()) {
  const config = parseConfig(yaml);
  const conns = new Map<string, MemoryConnection>();
  const byPool: Backend[][] = [...config.pools.values()].map((pool) =>
    pool.servers.map((s) => {
      const { backend, conn } = memoryBackend(s.address);
      conns.set(s.address, conn);
      return backend;
    }),
  );
  const backends = { all: byPool.flat(), byPool } as unknown as BackendPool;
  return { config, conns, stats, dispatcher: new Dispatcher(config, backends, stats) };
}

/** The one request `text` parses to. */
export function request(text: string): Request {
  let req: Request | undefined;
  const sink: ParserSink = { onRequest: (r) => (req = r), onReply: () => undefined, onClose: () => undefined, onQuit: () => undefined, wantsMore: () => true };
  new RequestParser(sink, LIMITS).feed(Buffer.from(text, 'latin1'));
  if (req === undefined) throw new Error(`no request in ${JSON.stringify(text)}`);
  return req;
}

/** A client stand-in: the slots it was told are done, in order. */
export class MemoryClient implements SlotOwner {
  readonly done: Slot[] = [];

  slotDone(slot: Slot): void {
    this.done.push(slot);
  }
}

/** What the client sees for `slot`: its reply as text, null for nothing, undefined while it waits. */
export function shown(slot: Slot): string | null | undefined {
  if (!slot.done) return undefined;
  const r = slot.reply;
  if (r === null) return null;
  return (Array.isArray(r) ? Buffer.concat(r) : r).toString('latin1');
}
