/**
 * One client connection (src/proxy/client-connection.ts) over an in-memory socket
 * (../backend/memory-socket.ts): the test writes the client's request bytes, answers the backends
 * (memory-backend.ts) with memcached's reply bytes, and reads what the client is sent. Replies leave
 * in request order whichever server answers first; quit and a protocol close end the connection
 * after the earlier replies; a client over its limits is paused and resumed.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS } from '../../../src/config/schema.js';
import type { LimitsConfig } from '../../../src/config/types.js';
import { ClientConnection, HELD_INPUT_MAX } from '../../../src/proxy/client-connection.js';
import { ReplyMemory } from '../../../src/proxy/reply-memory.js';
import { MemorySocket, turns, until } from '../backend/memory-socket.js';
import { memoryDispatcher } from './memory-backend.js';

const CONFIG = `
listen: ["127.0.0.1:11211"]
pools:
  main: { servers: ["10.0.0.1:11211", "10.0.0.2:11211"] }
`;

function setup(limits: Partial<LimitsConfig> = {}) {
  const { config, conns, stats, dispatcher } = memoryDispatcher(CONFIG);
  const socket = new MemorySocket();
  const closed: ClientConnection[] = [];
  const l = { ...DEFAULTS.limits, ...limits };
  const client = new ClientConnection(socket.socket, {
    dispatcher,
    limits: l,
    stats,
    memory: new ReplyMemory(l.maxReplyMemory),
    onBinaryProtocol: () => undefined,
    onClosed: (c) => closed.push(c),
  });
  const servers = config.pools.get('main')!.servers.map((s) => conns.get(s.address)!);
  /** A key of main that lives on server `i` (0 or 1), the n-th such key. */
  const keyOn = (i: number, n = 0): string => {
    for (let k = 0; ; k++) if (dispatcher.router.ring(0).ownerOf(Buffer.from(`k${k}`)) === i && n-- === 0) return `k${k}`;
  };
  /** Every op waiting on either server gets `reply`, in order, until none waits. */
  const answerAll = (reply: string): void => {
    for (const s of servers) while (s.ops.length > 0) s.answer(reply);
  };
  const inFlight = (): number => servers[0]!.ops.length + servers[1]!.ops.length;
  return { client, socket, stats, closed, servers, keyOn, answerAll, inFlight };
}

/** Every way to interleave the servers' answers, each server's in its own order (the order memcached keeps). */
function interleavings(counts: readonly number[]): number[][] {
  if (counts.every((c) => c === 0)) return [[]];
  return counts.flatMap((c, i) => (c === 0 ? [] : interleavings(counts.map((d, j) => (j === i ? d - 1 : d))).map((rest) => [i, ...rest])));
}

describe('ClientConnection: reply order', () => {
  it('replies leave in request order, whichever server answers first and in whatever order', async () => {
    const probe = setup();
    const [a, b] = [probe.keyOn(0), probe.keyOn(1)];
    const input = `get ${a}\r\nget ${b}\r\nset ${b} 0 0 1\r\nv\r\nverbosity 1\r\ndelete ${a}\r\n`;
    const replies = [
      [`VALUE ${a} 0 1\r\nA\r\nEND\r\n`, 'DELETED\r\n'],
      [`VALUE ${b} 0 1\r\nB\r\nEND\r\n`, 'STORED\r\n'],
    ];
    const expected = `VALUE ${a} 0 1\r\nA\r\nEND\r\nVALUE ${b} 0 1\r\nB\r\nEND\r\nSTORED\r\nOK\r\nDELETED\r\n`;
    const orders = interleavings([2, 2]);
    expect(orders).toHaveLength(6);
    for (const order of orders) {
      const { socket, servers, inFlight } = setup();
      socket.receive(input);
      await until(() => inFlight() === 4);
      expect(servers.map((s) => s.sent())).toEqual([`get ${a}\r\ndelete ${a}\r\n`, `get ${b}\r\nset ${b} 0 0 1\r\nv\r\n`]);
      let out = '';
      const next = [0, 0];
      for (const i of order) {
        servers[i]!.answer(replies[i]![next[i]!++]!);
        await turns();
        const now = out + socket.sent();
        // What has gone out is always a prefix of the replies in request order.
        expect(expected.startsWith(now)).toBe(true);
        out = now;
      }
      expect(out).toBe(expected);
    }
  });

  it('a request stream split at every byte boundary, or byte by byte, gives the same requests and replies', async () => {
    const probe = setup();
    const [a, b] = [probe.keyOn(0), probe.keyOn(1)];
    const input = Buffer.from(`get ${a} ${b}\r\nset ${b} 0 0 3\r\nx\r\n\r\ndelete ${a} noreply\r\nincr ${b} 5\r\nmg ${a} v\r\nverbosity 1\r\n`, 'latin1');
    const script = [
      [`VALUE ${a} 0 1\r\na\r\nEND\r\n`, 'DELETED\r\n', 'VA 1\r\na\r\n'],
      ['END\r\n', 'STORED\r\n', '6\r\n'],
    ];
    const sentTo = [`get ${a}\r\ndelete ${a}\r\nmg ${a} v\r\n`, `get ${b}\r\nset ${b} 0 0 3\r\nx\r\n\r\nincr ${b} 5\r\n`];
    const expected = `VALUE ${a} 0 1\r\na\r\nEND\r\nSTORED\r\n6\r\nVA 1\r\na\r\nOK\r\n`;
    const splits = [...Array(input.length - 1).keys()].map((i) => [input.subarray(0, i + 1), input.subarray(i + 1)]);
    splits.push([...input].map((c) => Buffer.from([c])));
    for (const reads of splits) {
      const { socket, servers, inFlight } = setup();
      for (const r of reads) socket.receive(r);
      await until(() => inFlight() === 6);
      expect(servers.map((s) => s.sent())).toEqual(sentTo);
      // The second server first: its replies wait behind the first request's.
      for (const i of [1, 0]) for (const reply of script[i]!) servers[i]!.answer(reply);
      let out = '';
      await until(() => (out += socket.sent()).length >= expected.length);
      expect(out).toBe(expected);
    }
  });

  it('quit: the replies to earlier requests go out, then the connection ends; nothing after it is read', async () => {
    const { socket, servers, closed, keyOn, inFlight, client } = setup();
    socket.receive(`get ${keyOn(0)}\r\nquit\r\nget ${keyOn(1)}\r\n`);
    await until(() => inFlight() === 1);
    await turns();
    expect(socket.writableEnded).toBe(false);
    servers[0]!.answer('END\r\n');
    await until(() => closed.length === 1);
    expect(socket.sent()).toBe('END\r\n');
    expect(socket.writableEnded).toBe(true);
    expect(closed).toEqual([client]);
    expect(servers[1]!.sent()).toBe('');
  });

  it('a protocol close (memcached closes on an HTTP request) also writes the earlier replies first; counted', async () => {
    const { socket, servers, closed, keyOn, stats } = setup();
    socket.receive(`get ${keyOn(0)}\r\nversion\r\nGET / HTTP/1.1\r\nget ${keyOn(1)}\r\n`);
    await until(() => stats.protocolCloses === 1);
    await turns();
    expect(socket.sent()).toBe('');
    servers[0]!.answer(`VALUE ${keyOn(0)} 0 1\r\nx\r\nEND\r\n`);
    await until(() => closed.length === 1);
    expect(socket.sent()).toMatch(new RegExp(`^VALUE ${keyOn(0)} 0 1\r\nx\r\nEND\r\nVERSION [^\r]+\r\n$`));
    expect(servers[1]!.sent()).toBe('');
  });
});

describe('ClientConnection: backpressure', () => {
  it('pauses at max_inflight_per_client (requests held, nothing more dispatched), resumes below half; one count per pause', async () => {
    const { socket, stats, servers, keyOn } = setup({ maxInflightPerClient: 4 });
    const s = servers[0]!;
    socket.receive(`get ${keyOn(0)}\r\n`.repeat(10));
    await until(() => stats.clientPauses === 1);
    await turns();
    expect(s.ops).toHaveLength(4);
    expect(socket.isPaused()).toBe(false); // a few bytes held: the socket is still read
    socket.receive(`get ${keyOn(0)}\r\n`);
    await turns();
    expect(s.ops).toHaveLength(4);
    expect(stats.clientPauses).toBe(1);
    s.answer('END\r\n');
    s.answer('END\r\n');
    await turns();
    expect(s.ops).toHaveLength(2); // two in flight is not below half of 4
    s.answer('END\r\n');
    await until(() => s.ops.length === 4); // one left: resumed, and paused again at 4
    expect(stats.clientPauses).toBe(2);
    // The last four: dispatched on resume, four in flight again, so a third pause.
    while (s.ops.length > 0) s.answer('END\r\n');
    await until(() => s.ops.length === 4);
    await turns();
    expect(stats.clientPauses).toBe(3);
    while (s.ops.length > 0) s.answer('END\r\n');
    let replies = '';
    await until(() => (replies += socket.sent()).length === 11 * 5);
    expect(replies).toBe('END\r\n'.repeat(11));
    expect(stats.clientPauses).toBe(3);
  });

  it('pauses at max_queued_bytes_per_client, counting gets in flight at their worst case and sets at a line', async () => {
    const worstGet = DEFAULTS.limits.maxItemSize + 320 + 5;
    const { socket, stats, servers, keyOn } = setup({ maxQueuedBytesPerClient: Math.floor(2.5 * worstGet) });
    const s = servers[0]!;
    socket.receive(`set ${keyOn(0)} 0 0 1\r\nv\r\n`.repeat(20));
    await until(() => s.ops.length === 20);
    expect(stats.clientPauses).toBe(0);
    while (s.ops.length > 0) s.answer('STORED\r\n');
    socket.receive(`get ${keyOn(0)}\r\n`.repeat(5));
    await until(() => stats.clientPauses === 1);
    await turns();
    expect(s.ops).toHaveLength(3);
    s.answer('END\r\n');
    await turns();
    expect(s.ops).toHaveLength(2); // 2 × worst is not below half the budget
    s.answer('END\r\n');
    await until(() => s.ops.length === 3); // resumed: the last two gets dispatched
    // Three gets in flight again: over the budget, so paused again (a second pause, counted).
    await until(() => stats.clientPauses === 2);
  });

  it('counts the replies a client does not read: paused while its socket holds them, resumed on drain', async () => {
    const worstGet = 48 * 1024 + 320 + 5;
    const { socket, stats, servers, keyOn } = setup({ maxItemSize: 48 * 1024, maxQueuedBytesPerClient: 128 * 1024 });
    const s = servers[0]!;
    const reply = `VALUE ${keyOn(0)} 0 ${40 * 1024}\r\n${'v'.repeat(40 * 1024)}\r\nEND\r\n`;
    socket.stall(); // the client stops reading
    socket.receive(`get ${keyOn(0)}\r\n`.repeat(4));
    await until(() => stats.clientPauses === 1);
    expect(s.ops).toHaveLength(3); // 3 × worstGet is over 128 KiB
    expect(3 * worstGet).toBeGreaterThan(128 * 1024);
    s.answer(reply);
    s.answer(reply);
    await until(() => socket.writableLength === 2 * reply.length);
    // The last reply is small, but the two before wait in the socket: over half the budget, still paused.
    s.answer('END\r\n');
    await until(() => socket.writableLength === 2 * reply.length + 5);
    await turns();
    expect(s.ops).toHaveLength(0);
    socket.release();
    await until(() => s.ops.length === 1);
    expect(socket.writableLength).toBe(0);
    expect(stats.clientPauses).toBe(1);
  });

  it(`stops reading the socket of a paused client only once ${HELD_INPUT_MAX} bytes of input wait, and reads it again on resume`, async () => {
    const { socket, stats, answerAll, inFlight } = setup({ maxInflightPerClient: 8 });
    const line = (n: number): string => `get ${`k${n}`.padEnd(250, 'x')}\r\n`; // 256 bytes
    const count = Math.ceil((1.5 * HELD_INPUT_MAX) / 256);
    const requests = Array.from({ length: count }, (_, n) => line(n)).join('');
    socket.receive(requests.slice(0, HELD_INPUT_MAX / 2));
    await until(() => stats.clientPauses === 1);
    expect(inFlight()).toBe(8);
    expect(socket.isPaused()).toBe(false);
    // The parser holds what it has read less the 8 requests in flight: this takes it past HELD_INPUT_MAX.
    const upTo = HELD_INPUT_MAX + 8 * 256 + 100;
    socket.receive(requests.slice(HELD_INPUT_MAX / 2, upTo));
    await until(() => socket.isPaused());
    expect(stats.bytesRead).toBe(upTo);
    socket.receive(requests.slice(upTo));
    await turns();
    expect(stats.bytesRead).toBe(upTo); // not read while paused
    let replies = 0;
    let out = '';
    while (replies < count) {
      await until(() => inFlight() > 0);
      replies += inFlight();
      answerAll('END\r\n');
      out += socket.sent();
    }
    expect(socket.isPaused()).toBe(false);
    expect(stats.bytesRead).toBe(requests.length);
    await until(() => (out += socket.sent()).length === count * 5);
    expect(stats.clientPauses).toBeGreaterThan(1);
  });
});
