/** Reading accepted sockets through the shared buffer (src/backend/socket-data.ts), on real loopback sockets. */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { onSocketData } from '../../../src/backend/socket-data.js';

const servers: net.Server[] = [];
const sockets: net.Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
});

interface Accepted {
  readonly client: net.Socket;
  readonly server: net.Socket;
  readonly shared: boolean;
  readonly chunks: Buffer[];
}

/** A server whose accepted socket is read with onSocketData, and a client connected to it. */
async function pair(): Promise<Accepted> {
  const chunks: Buffer[] = [];
  let resolveAccepted!: (v: { socket: net.Socket; shared: boolean }) => void;
  const accepted = new Promise<{ socket: net.Socket; shared: boolean }>((r) => (resolveAccepted = r));
  const server = net.createServer((socket) => resolveAccepted({ socket, shared: onSocketData(socket, (c) => chunks.push(c)) }));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as net.AddressInfo).port;
  const client = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => resolve(c));
    c.once('error', reject);
  });
  const { socket, shared } = await accepted;
  sockets.push(client, socket);
  return { client, server: socket, shared, chunks };
}

const total = (chunks: readonly Buffer[]): number => chunks.reduce((n, c) => n + c.length, 0);

async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setImmediate(r));
  }
}

describe('onSocketData', () => {
  it('reads an accepted TCP socket through the shared buffer, every byte in order', async () => {
    const p = await pair();
    expect(p.shared).toBe(true);
    const payload = Buffer.alloc(300_000);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 9)) & 0xff;
    p.client.write(payload.subarray(0, 10));
    p.client.write(payload.subarray(10, 200_000));
    p.client.write(payload.subarray(200_000));
    await until(() => total(p.chunks) >= payload.length);
    expect(Buffer.concat(p.chunks).equals(payload)).toBe(true);
  });

  it('hands out chunks that later reads do not overwrite', async () => {
    const p = await pair();
    p.client.write('first chunk\r\n');
    await until(() => p.chunks.length === 1);
    const first = p.chunks[0]!;
    p.client.write('x'.repeat(70_000));
    await until(() => total(p.chunks) >= 13 + 70_000);
    expect(first.toString()).toBe('first chunk\r\n');
  });

  it('reads nothing while paused, and everything after resume', async () => {
    const p = await pair();
    p.server.pause();
    p.client.write('while paused\r\n');
    // The bytes reach the kernel's buffer of the accepted socket; give the loop turns to deliver them.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(p.chunks).toEqual([]);
    p.server.resume();
    await until(() => total(p.chunks) === 14);
    expect(Buffer.concat(p.chunks).toString()).toBe('while paused\r\n');
  });

  it("still gets 'end' and 'close' when the peer closes", async () => {
    const p = await pair();
    let ended = false;
    let closed = false;
    p.server.on('end', () => (ended = true));
    p.server.on('close', () => (closed = true));
    p.client.end('bye');
    await until(() => ended && closed);
    expect(Buffer.concat(p.chunks).toString()).toBe('bye');
  });

  it("falls back to 'data' for a socket that has already read", async () => {
    const chunks: Buffer[] = [];
    const server = net.createServer();
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    sockets.push(client);
    const socket = await accepted;
    sockets.push(socket);
    const early: Buffer[] = [];
    socket.on('data', (c: Buffer) => early.push(c));
    client.write('early');
    await until(() => total(early) === 5);
    expect(onSocketData(socket, (c) => chunks.push(c))).toBe(false);
    client.write('late');
    await until(() => total(chunks) === 4);
    expect(Buffer.concat(chunks).toString()).toBe('late');
  });
});
