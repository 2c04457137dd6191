/**
 * Forwarding (src/proxy/forward.ts): the bytes each server gets for a request, and what the client
 * sees once the servers answer, with memcached's reply bytes fed by hand (memory-backend.ts).
 */
import { describe, expect, it } from 'vitest';
import { Cmd, Request } from '../../../src/protocol/index.js';
import type { Backend } from '../../../src/backend/index.js';
import { forward, forwardTo } from '../../../src/proxy/forward.js';
import { ProxyStats } from '../../../src/proxy/stats.js';
import { MemoryClient, memoryBackend, request, shown } from './memory-backend.js';

const DOWN = 'SERVER_ERROR backend unavailable\r\n';

function twoServers() {
  const a = memoryBackend('a:11211');
  const b = memoryBackend('b:11211');
  // Keys starting with "a" live on a, the others on b.
  const backendFor = (key: Buffer): Backend => (key[0] === 0x61 ? a.backend : b.backend);
  return { a: a.conn, b: b.conn, backendFor, stats: new ProxyStats(), client: new MemoryClient() };
}

describe('forwardTo: one request to a server already looked up', () => {
  it('sends the request as the client wrote it and shows the reply; counts it', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const slot = forwardTo(request('set a1 5 0 2\r\nhi\r\n'), client, stats, backendFor(Buffer.from('a1')));
    expect(a.sent()).toBe('set a1 5 0 2\r\nhi\r\n');
    expect(b.sent()).toBe('');
    expect(shown(slot)).toBeUndefined();
    a.answer('STORED\r\n');
    expect(shown(slot)).toBe('STORED\r\n');
    expect(client.done).toEqual([slot]);
    expect(stats.cmdSet).toBe(1);
  });

  it('noreply hides the reply, an error too', () => {
    const { a, backendFor, stats, client } = twoServers();
    const ok = forwardTo(request('delete a1 noreply\r\n'), client, stats, backendFor(Buffer.from('a1')));
    const failed = forwardTo(request('incr a2 1 noreply\r\n'), client, stats, backendFor(Buffer.from('a2')));
    expect(a.sent()).toBe('delete a1\r\nincr a2 1\r\n');
    a.answer('DELETED\r\n');
    a.fail();
    expect(shown(ok)).toBeNull();
    expect(shown(failed)).toBeNull();
    expect(stats.deleteHits).toBe(1);
    expect(stats.backendErrors).toBe(1);
  });

  it('a server that refuses the op answers at once, and nothing is written', () => {
    const { a, backendFor, stats, client } = twoServers();
    a.refusal = Buffer.from(DOWN);
    const slot = forwardTo(request('get a1\r\n'), client, stats, backendFor(Buffer.from('a1')));
    expect(shown(slot)).toBe(DOWN);
    expect(a.sent()).toBe('');
    expect(a.ops).toHaveLength(0);
    expect(stats.getErrors).toBe(1);
  });

  it('a meta command goes as its line, its reply shown as the server sent it', () => {
    const { b, backendFor, stats, client } = twoServers();
    const slot = forwardTo(request('mg b1 v f\r\n'), client, stats, backendFor(Buffer.from('b1')));
    expect(b.sent()).toBe('mg b1 v f\r\n');
    b.answer('VA 1 f3\r\nx\r\n');
    expect(shown(slot)).toBe('VA 1 f3\r\nx\r\n');
  });
});

describe('forward: a request on one ring', () => {
  it('a one-key request goes to its key\'s server', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const slot = forward(request('get b1\r\n'), client, stats, backendFor);
    expect(a.sent()).toBe('');
    expect(b.sent()).toBe('get b1\r\n');
    b.answer('VALUE b1 0 1\r\nx\r\nEND\r\n');
    expect(shown(slot)).toBe('VALUE b1 0 1\r\nx\r\nEND\r\n');
    expect([stats.cmdGet, stats.getHits, stats.getMisses]).toEqual([1, 1, 0]);
  });

  it('a get whose keys live on one server is one op; its failure shows misses', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const slot = forward(request('gets a1 a2 a3\r\n'), client, stats, backendFor);
    expect(a.sent()).toBe('gets a1 a2 a3\r\n');
    expect(b.sent()).toBe('');
    a.fail();
    expect(shown(slot)).toBe('END\r\n');
    expect([stats.backendErrors, stats.getErrors]).toEqual([1, 3]);
  });

  it('a get over two servers is split by server and merged back in the client\'s key order, with one END', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const slot = forward(request('get a1 b1 a2 b2 b3\r\n'), client, stats, backendFor);
    expect(a.sent()).toBe('get a1 a2\r\n');
    expect(b.sent()).toBe('get b1 b2 b3\r\n');
    // b answers first; a2 and b2 miss.
    b.answer('VALUE b1 0 2\r\nB1\r\nVALUE b3 7 2\r\nB3\r\nEND\r\n');
    expect(shown(slot)).toBeUndefined();
    a.answer('VALUE a1 1 2\r\nA1\r\nEND\r\n');
    expect(shown(slot)).toBe('VALUE a1 1 2\r\nA1\r\nVALUE b1 0 2\r\nB1\r\nVALUE b3 7 2\r\nB3\r\nEND\r\n');
    expect(client.done).toEqual([slot]);
    expect([stats.cmdGet, stats.getHits, stats.getMisses]).toEqual([5, 3, 2]);
  });

  it('gat keeps its exptime in every part', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const slot = forward(request('gat 30 b1 a1\r\n'), client, stats, backendFor);
    expect(a.sent()).toBe('gat 30 a1\r\n');
    expect(b.sent()).toBe('gat 30 b1\r\n');
    a.answer('END\r\n');
    b.answer('VALUE b1 0 1\r\nx\r\nEND\r\n');
    expect(shown(slot)).toBe('VALUE b1 0 1\r\nx\r\nEND\r\n');
    expect([stats.cmdTouch, stats.touchHits, stats.touchMisses]).toEqual([2, 1, 1]);
  });

  it('a part whose server refuses or fails shows its keys as misses, counted as errors', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    a.refusal = Buffer.from(DOWN);
    const slot = forward(request('get a1 b1 a2\r\n'), client, stats, backendFor);
    expect(a.sent()).toBe('');
    expect(b.sent()).toBe('get b1\r\n');
    b.answer('VALUE b1 0 1\r\nx\r\nEND\r\n');
    expect(shown(slot)).toBe('VALUE b1 0 1\r\nx\r\nEND\r\n');
    expect([stats.backendErrors, stats.getErrors, stats.cmdGet, stats.getHits, stats.getMisses]).toEqual([1, 2, 1, 1, 0]);

    a.refusal = null;
    const again = forward(request('get a1 b1\r\n'), client, stats, backendFor);
    a.answer('SERVER_ERROR out of memory\r\n');
    b.fail();
    expect(shown(again)).toBe('END\r\n');
    expect(stats.getErrors).toBe(4);
  });

  it('a get with no key (gat 10) is answered END at once', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const req = new Request(Cmd.Gat);
    req.exptime = 10;
    const slot = forward(req, client, stats, backendFor);
    expect(shown(slot)).toBe('END\r\n');
    expect(a.sent() + b.sent()).toBe('');
  });

  it('a write goes to the server of its key', () => {
    const { a, b, backendFor, stats, client } = twoServers();
    const slot = forward(request('append b9 0 0 3\r\nabc\r\n'), client, stats, backendFor);
    expect(a.sent()).toBe('');
    expect(b.sent()).toBe('append b9 0 0 3\r\nabc\r\n');
    b.answer('NOT_STORED\r\n');
    expect(shown(slot)).toBe('NOT_STORED\r\n');
  });
});
