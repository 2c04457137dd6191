/**
 * The one way a client request reaches a backend: pick a connection, and either
 * queue the op and write the request, or hand back the reply that refuses it
 * (the backend is TKO, or its queue is full).
 */
import { ReplyKind, replyKindOf, writeKeyed, writeRetrieval, type Request } from '../protocol/index.js';
import { Op, type Backend, type OpHandler } from '../backend/index.js';

/** Sends `req` (all its keys, or the given key indexes of a retrieval) as op `part` of `handler`; the refusal reply, or null when sent. */
export function sendRequest(backend: Backend, req: Request, keyIndexes: readonly number[] | null, handler: OpHandler, part: number): Buffer | null {
  const conn = backend.pick();
  const refused = conn.refuse();
  if (refused !== null) return refused;
  conn.push(new Op(handler, keyIndexes === null ? replyKindOf(req) : ReplyKind.Retrieval, part));
  if (keyIndexes === null) writeKeyed(conn.writer, req);
  else writeRetrieval(conn.writer, req, keyIndexes);
  return null;
}
