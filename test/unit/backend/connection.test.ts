/**
 * One backend connection's state machine (src/backend/connection.ts) over in-memory sockets
 * (memory-socket.ts): connecting -> up, one immediate retry after a drop, TKO at failure_limit or a
 * refused connect, probes backing off from probe_min to probe_max, request timeouts judged by
 * tick(t), out of step on an unexpected error reply, refuse() and close(). The test plays memcached
 * with reply bytes. Time is fake (setTimeout, setInterval, performance.now); setImmediate is real.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { BackendConnection, Op, type ConnectionOptions, type OpHandler } from '../../../src/backend/index.js';
import { ReplyKind } from '../../../src/protocol/index.js';
import { MemorySocket, turns, until } from './memory-socket.js';

const DOWN = 'SERVER_ERROR backend unavailable\r\n';
const CLOSED = 'SERVER_ERROR backend connection closed\r\n';
const TIMEOUT = 'SERVER_ERROR backend timeout\r\n';
const OUT_OF_STEP = 'SERVER_ERROR backend out of step\r\n';
const QUEUE_FULL = 'SERVER_ERROR backend queue full\r\n';

const OPTIONS = { host: '10.0.0.1', port: 11211, timeoutMs: 1_000, connectTimeoutMs: 500, failureLimit: 3, probeMinMs: 100, probeMaxMs: 400, maxPending: 8, maxReplyBytes: 1 << 20, maxQueuedBytes: 256 };

/** An op's outcome as the client would see it: the reply or the SERVER_ERROR line; undefined while in flight. */
class Waiter implements OpHandler {
  result: string | undefined;
  onOpReply(_op: Op, reply: Buffer): void {
    this.result = reply.toString('latin1');
  }
  onOpError(_op: Op, error: Buffer): void {
    this.result = error.toString('latin1');
  }
}

const open: BackendConnection[] = [];

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance'] });
});

afterEach(() => {
  for (const c of open.splice(0)) c.close();
  vi.useRealTimers();
});

function setup(o: Partial<ConnectionOptions> = {}) {
  const sockets: MemorySocket[] = [];
  const states: string[] = [];
  const conn = new BackendConnection({
    ...OPTIONS,
    ...o,
    dial: () => {
      const s = new MemorySocket();
      sockets.push(s);
      return s.socket;
    },
    onStateChange: (_c, _from, to, reason) => states.push(`${to} (${reason})`),
  });
  open.push(conn);
  /** The newest socket. */
  const socket = (): MemorySocket => sockets.at(-1)!;
  /** Sends `request` as an op expecting a reply of `kind`. */
  const send = (request: string, kind: ReplyKind = ReplyKind.Line): Waiter & { op: Op } => {
    const w = new Waiter();
    const op = new Op(w, kind, 0);
    conn.push(op);
    conn.writer.ascii(request);
    return Object.assign(w, { op });
  };
  return { conn, sockets, socket, states, send };
}

/** A connection that is up, its `version` answered. */
async function up(o: Partial<ConnectionOptions> = {}) {
  const s = setup(o);
  s.socket().emit('connect');
  s.socket().receive('VERSION 1.6.30\r\n');
  await until(() => s.conn.version !== null);
  s.socket().sent();
  return s;
}

/** The peer's socket fails as a refused connect does (an error, then close). */
function refuseConnect(socket: MemorySocket): void {
  socket.destroy(Object.assign(new Error('connect ECONNREFUSED 10.0.0.1:11211'), { code: 'ECONNREFUSED' }));
}

describe('BackendConnection: connecting and replies', () => {
  it('queues ops while connecting; once connected, writes version first, then them, and is up', async () => {
    const { conn, socket, states, send } = setup();
    expect(conn.state).toBe('connecting');
    const a = send('get a\r\n', ReplyKind.Retrieval);
    expect(conn.refuse()).toBeNull();
    await turns();
    expect(socket().sent()).toBe('');
    socket().emit('connect');
    expect(conn.state).toBe('up');
    expect(socket().sent()).toBe('version\r\nget a\r\n');
    socket().receive('VERSION 1.6.30\r\nEND\r\n');
    await until(() => a.result !== undefined);
    expect(conn.version).toBe('1.6.30');
    expect(a.result).toBe('END\r\n');
    expect(states).toEqual(['up (connected)']);
    expect(conn.counters.requests).toBe(2);
  });

  // Each reply's bytes as memcached sends them, for the kind of request it answers: values that
  // hold \r\n or look like reply lines, a stats listing, errors that end a reply.
  const FIXTURES: [ReplyKind, string, string][] = [
    [ReplyKind.Retrieval, 'get a b\r\n', 'VALUE a 0 6\r\nx\r\nEND\r\nVALUE b 5 0\r\n\r\nEND\r\n'],
    [ReplyKind.Line, 'set a 0 0 1\r\nv\r\n', 'STORED\r\n'],
    [ReplyKind.Meta, 'mg a v f\r\n', 'VA 2 f5\r\nEN\r\n'],
    [ReplyKind.Meta, 'mg b v\r\n', 'EN\r\n'],
    [ReplyKind.Stats, 'stats\r\n', 'STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n'],
    [ReplyKind.Line, 'incr n 1\r\n', 'CLIENT_ERROR cannot increment or decrement non-numeric value\r\n'],
    [ReplyKind.Retrieval, 'get c\r\n', 'SERVER_ERROR out of memory storing object\r\n'],
    [ReplyKind.Line, 'touch a 10\r\n', 'TOUCHED\r\n'],
  ];
  const STREAM = Buffer.from(FIXTURES.map(([, , reply]) => reply).join(''), 'latin1');

  it('matches replies to ops in order, whatever the read boundaries (split at every byte, and byte by byte)', async () => {
    const { conn, socket, send } = await up();
    const splits = [...Array(STREAM.length - 1).keys()].map((i) => [STREAM.subarray(0, i + 1), STREAM.subarray(i + 1)]);
    splits.push([...STREAM].map((b) => Buffer.from([b])));
    for (const reads of splits) {
      const waiters = FIXTURES.map(([kind, request]) => send(request, kind));
      await until(() => socket().sent() !== '');
      for (const r of reads) socket().receive(r);
      await until(() => waiters.every((w) => w.result !== undefined));
      expect(waiters.map((w) => w.result)).toEqual(FIXTURES.map(([, , reply]) => reply));
    }
    expect(conn.state).toBe('up');
    expect(conn.counters.outOfStep).toBe(0);
    expect(conn.inFlight).toBe(0);
  });
});

describe('BackendConnection: timeouts', () => {
  it('tick(t) fails every op in flight once the oldest has waited timeout_ms, and reconnects', async () => {
    const { conn, sockets, socket, states, send } = await up();
    const a = send('get a\r\n', ReplyKind.Retrieval);
    const b = send('set b 0 0 1\r\nv\r\n');
    conn.tick(a.op.deadline - 1);
    expect(a.result).toBeUndefined();
    conn.tick(a.op.deadline);
    expect([a.result, b.result]).toEqual([TIMEOUT, TIMEOUT]);
    expect(conn.counters.timeouts).toBe(1);
    expect(socket().destroyed).toBe(true);
    expect(states.at(-1)).toBe('connecting (request timeout)');
    await until(() => sockets.length === 2);
    // The old socket's late reply is not read: the new connection's replies match its own ops.
    sockets[0]!.receive('END\r\n');
    socket().emit('connect');
    expect(conn.state).toBe('up');
    expect(socket().sent()).toBe('version\r\n');
    socket().receive('VERSION 1.6.30\r\n');
    await until(() => conn.inFlight === 0);
    conn.tick(a.op.deadline + 10_000); // nothing in flight: nothing to time out
    expect(conn.counters.timeouts).toBe(1);
    expect(conn.state).toBe('up');
  });

  it('a backend streaming a large reply is slow, not hung: the deadline counts from its last read', async () => {
    const { conn, socket, send } = await up();
    const big = `VALUE big 0 4000\r\n${'x'.repeat(4000)}\r\nEND\r\n`;
    const a = send('get big\r\n', ReplyKind.Retrieval);
    vi.advanceTimersByTime(600);
    socket().receive(big.slice(0, 2000));
    await turns();
    conn.tick(a.op.deadline);
    expect(a.result).toBeUndefined();
    conn.tick(a.op.sentAt + 1_599);
    expect(a.result).toBeUndefined();
    vi.advanceTimersByTime(900);
    socket().receive(big.slice(2000));
    await until(() => a.result !== undefined);
    expect(a.result).toBe(big);
    expect(conn.counters.timeouts).toBe(0);
    // A part that then stops: timed out timeout_ms after the last bytes came.
    const b = send('get big\r\n', ReplyKind.Retrieval);
    socket().receive(big.slice(0, 100));
    await turns();
    conn.tick(b.op.sentAt + 999);
    expect(b.result).toBeUndefined();
    conn.tick(b.op.sentAt + 1_000);
    expect(b.result).toBe(TIMEOUT);
  });
});

describe('BackendConnection: out of step', () => {
  const UNEXPECTED: [string, string][] = [
    ['ERROR', 'ERROR\r\n'],
    ['CLIENT_ERROR', 'CLIENT_ERROR bad data chunk\r\n'],
  ];
  for (const [name, line] of UNEXPECTED) {
    it(`an unexpected ${name} resets the connection: that op and every op in flight fail as out of step`, async () => {
      const stream = `END\r\n${line}`;
      for (let cut = 1; cut < stream.length; cut++) {
        const { conn, sockets, socket, states, send } = await up();
        const first = send('get a\r\n', ReplyKind.Retrieval);
        const rest = [send('set b 0 0 1\r\nv\r\n'), send('get c\r\n', ReplyKind.Retrieval), send('delete d\r\n')];
        socket().receive(stream.slice(0, cut));
        socket().receive(stream.slice(cut));
        await until(() => rest.every((w) => w.result !== undefined));
        expect(first.result).toBe('END\r\n');
        expect(rest.map((w) => w.result)).toEqual([OUT_OF_STEP, OUT_OF_STEP, OUT_OF_STEP]);
        expect(conn.counters.outOfStep).toBe(1);
        expect(sockets[0]!.destroyed).toBe(true);
        expect(states.at(-1)).toBe(`connecting (unexpected reply ${JSON.stringify(line)})`);
        await until(() => sockets.length === 2);
        conn.close();
      }
    });
  }

  it('the bytes after an unexpected reply in the same read are dropped with the socket: one failure, not two', async () => {
    const { conn, socket, states, send } = await up({ failureLimit: 2 });
    const a = send('get a\r\n', ReplyKind.Retrieval);
    socket().receive('ERROR\r\nEND\r\nVALUE x 0 1\r\n');
    await until(() => a.result !== undefined);
    expect(a.result).toBe(OUT_OF_STEP);
    expect(conn.counters.outOfStep).toBe(1);
    expect(conn.counters.reconnects).toBe(1);
    expect(states).toEqual(['up (connected)', 'connecting (unexpected reply "ERROR\\r\\n")']);
    // The next connection parses from a clean start.
    await until(() => conn.state === 'connecting' && socket() !== undefined);
    await turns();
    socket().emit('connect');
    const b = send('get b\r\n', ReplyKind.Retrieval);
    socket().receive('VERSION 1.6.30\r\nEND\r\n');
    await until(() => b.result !== undefined);
    expect(b.result).toBe('END\r\n');
    expect(conn.state).toBe('up');
  });

  it('bytes that cannot be a reply (nothing in flight, a bad VALUE line) put it out of step too', async () => {
    const idle = await up();
    idle.socket().receive('END\r\n');
    await until(() => idle.conn.counters.outOfStep === 1);
    expect(idle.states.at(-1)).toBe('connecting (data from the backend with no request in flight)');

    const { conn, socket, states, send } = await up();
    const a = send('get a\r\n', ReplyKind.Retrieval);
    socket().receive('VALUE a 0 x\r\n');
    await until(() => a.result !== undefined);
    expect(a.result).toBe(OUT_OF_STEP);
    expect(conn.counters.outOfStep).toBe(1);
    expect(states.at(-1)).toBe('connecting (bad VALUE line)');
  });
});

describe('BackendConnection: failures, TKO and probes', () => {
  it('a drop gets one immediate reconnect; failure_limit failures in a row, with no reply between, make it TKO', async () => {
    const { conn, sockets, socket, states, send } = await up();
    const a = send('get a\r\n', ReplyKind.Retrieval);
    socket().destroy(); // memcached closes the connection
    await until(() => a.result !== undefined);
    expect(a.result).toBe(CLOSED);
    expect(conn.state).toBe('connecting');
    await until(() => sockets.length === 2);
    // A reply on the new connection: the count starts over.
    socket().emit('connect');
    socket().receive('VERSION 1.6.30\r\n');
    await until(() => conn.inFlight === 0);
    for (let n = 3; n <= 5; n++) {
      socket().destroy();
      await until(() => sockets.length === n || conn.state === 'tko');
      if (conn.state === 'tko') break;
      socket().emit('connect');
    }
    expect(sockets).toHaveLength(4);
    expect(conn.state).toBe('tko');
    expect(conn.counters.tko).toBe(1);
    expect(conn.counters.reconnects).toBe(4);
    expect(states).toEqual([
      'up (connected)',
      'connecting (connection closed)',
      'up (connected)',
      'connecting (connection closed)',
      'up (connected)',
      'connecting (connection closed)',
      'up (connected)',
      'tko (connection closed)',
    ]);
  });

  it('a refused connect makes it TKO at once: queued ops and new ones fail fast with backend unavailable', async () => {
    const { conn, sockets, socket, states, send } = setup();
    const queued = send('get a\r\n', ReplyKind.Retrieval);
    refuseConnect(socket());
    await until(() => conn.state === 'tko');
    expect(queued.result).toBe(DOWN);
    expect(conn.refuse()?.toString()).toBe(DOWN);
    expect(conn.counters.refused).toBe(1);
    expect(states).toEqual(['tko (connect ECONNREFUSED 10.0.0.1:11211)']);
    await turns();
    expect(sockets).toHaveLength(1);
  });

  it('a connect that does not complete in connect_timeout_ms makes it TKO', async () => {
    const { conn, socket, states } = setup();
    vi.advanceTimersByTime(OPTIONS.connectTimeoutMs - 1);
    expect(conn.state).toBe('connecting');
    vi.advanceTimersByTime(1);
    expect(conn.state).toBe('tko');
    expect(socket().destroyed).toBe(true);
    expect(states).toEqual(['tko (connect timeout)']);
  });

  it('probes with version after probe_min, doubling up to probe_max; TKO until the probe is answered', async () => {
    const { conn, sockets, socket, states } = setup();
    refuseConnect(socket());
    await until(() => conn.state === 'tko');
    for (const delay of [100, 200, 400, 400]) {
      const n = sockets.length;
      vi.advanceTimersByTime(delay - 1);
      expect(sockets).toHaveLength(n);
      vi.advanceTimersByTime(1);
      expect(sockets).toHaveLength(n + 1);
      const resets = conn.counters.reconnects;
      refuseConnect(socket());
      await until(() => conn.counters.reconnects === resets + 1);
      expect(conn.state).toBe('tko');
    }
    // A probe that connects stays TKO (new ops still fail fast) until memcached answers version.
    vi.advanceTimersByTime(400);
    socket().emit('connect');
    expect(socket().sent()).toBe('version\r\n');
    expect(conn.state).toBe('tko');
    expect(conn.refuse()?.toString()).toBe(DOWN);
    socket().receive('VERSION 1.6.30\r\n');
    await until(() => conn.state === 'up');
    expect(states.at(-1)).toBe('up (probe answered)');
    expect(conn.counters.tko).toBe(1);
    // Up again, the backoff starts over: a refused connect after a drop probes after probe_min.
    socket().destroy();
    await until(() => sockets.length === 7);
    refuseConnect(socket());
    await until(() => conn.state === 'tko');
    vi.advanceTimersByTime(100);
    expect(sockets).toHaveLength(8);
  });
});

describe('BackendConnection: refuse() and close()', () => {
  it('refuses with queue full at max_pending ops in flight, or max_queued_bytes not yet written', async () => {
    const { conn, socket, send } = await up({ maxPending: 2 });
    const a = send('get a\r\n', ReplyKind.Retrieval);
    send('get b\r\n', ReplyKind.Retrieval);
    expect(conn.refuse()?.toString()).toBe(QUEUE_FULL);
    socket().receive('END\r\n');
    await until(() => a.result !== undefined);
    expect(conn.refuse()).toBeNull();
    socket().receive('END\r\n');
    await until(() => conn.inFlight === 0);

    // memcached stops reading: the request bytes wait in the socket's buffer.
    socket().stall();
    send(`set big 0 0 300\r\n${'v'.repeat(300)}\r\n`);
    await until(() => conn.queuedBytes >= 300);
    expect(conn.refuse()?.toString()).toBe(QUEUE_FULL);
    socket().release();
    await until(() => conn.queuedBytes === 0);
    expect(conn.refuse()).toBeNull();
    expect(conn.counters.refused).toBe(2);
  });

  it('counts the bytes queued while connecting', () => {
    const { conn, send } = setup();
    send(`set big 0 0 300\r\n${'v'.repeat(300)}\r\n`);
    expect(conn.refuse()?.toString()).toBe(QUEUE_FULL);
  });

  it('close() fails every op in flight as closed, drops the socket and never reconnects', async () => {
    const { conn, sockets, socket, send } = await up();
    const a = send('get a\r\n', ReplyKind.Retrieval);
    conn.close();
    expect(a.result).toBe(CLOSED);
    expect(conn.state).toBe('closed');
    expect(socket().destroyed).toBe(true);
    expect(conn.refuse()?.toString()).toBe(DOWN);
    await turns();
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(1);
  });

  it('close() while TKO stops the probes', async () => {
    const { conn, sockets, socket } = setup();
    refuseConnect(socket());
    await until(() => conn.state === 'tko');
    conn.close();
    vi.advanceTimersByTime(10_000);
    expect(sockets).toHaveLength(1);
    expect(conn.state).toBe('closed');
  });
});
