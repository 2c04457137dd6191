/**
 * One request on a backend's shared (proxy) connection, as a promise of its reply: the way replay
 * and recovery talk to a backend without a connection of their own. Null when the backend refuses
 * the op (down, queue full) or the op fails (timeout, close).
 */
import { Op, type OpHandler } from './connection.js';
import type { Backend } from './pool.js';
import { ReplyKind, parseStats } from '../protocol/index.js';

export function backendRequest(backend: Backend, bytes: Buffer, kind: ReplyKind): Promise<Buffer | null> {
  return new Promise((resolve) => {
    const conn = backend.pick();
    if (conn.refuse() !== null) return resolve(null);
    const handler: OpHandler = { onOpReply: (_op, reply) => resolve(reply), onOpError: () => resolve(null) };
    conn.push(new Op(handler, kind, 0));
    conn.writer.bytes(bytes);
  });
}

/** `s` plus CRLF, as bytes. */
export const line = (s: string): Buffer => Buffer.from(`${s}\r\n`, 'latin1');

/** `stats` of a backend as a map of name to value; null when it did not answer. */
export async function backendStats(backend: Backend): Promise<Map<string, string> | null> {
  const reply = await backendRequest(backend, line('stats'), ReplyKind.Stats);
  return reply === null ? null : parseStats(reply);
}
