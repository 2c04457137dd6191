/**
 * The mechanics of forwarding a keyed request, for every pool's route (the plain one here, a
 * migration's in src/migration, a replicated pool's in src/replication): the caller says which
 * server each key goes to, this sends and gives the slot that answers the client.
 *
 *   forwardTo   one request to a server already looked up: one op, one reply (KeyedSlot)
 *   forward     a request on one ring, `backendFor` giving each key's server: a one-key request
 *               goes to its server; a multi-key get to the one server of all its keys, or split by
 *               server into one get each, whose VALUE blocks are merged back in the client's key
 *               order (MultiGetSlot)
 *
 * Nothing here decides where a key lives, and nothing allocates per request beyond the slot and,
 * for a get split over servers, its parts.
 */
import { R, ReplyKind, isRetrieval, type Request } from '../protocol/index.js';
import { Op, type Backend } from '../backend/index.js';
import { KeyedSlot, LocalSlot, MultiGetSlot, type Slot, type SlotOwner } from './reply-slots.js';
import { sendRequest } from './send-request.js';
import type { ProxyStats } from './stats.js';

/**
 * Sends `req` to `backend` as one op. `failAsMisses`: a multi-key get whose keys all live there
 * shows a failure as misses (as a split get shows a failed part).
 */
export function forwardTo(req: Request, owner: SlotOwner, stats: ProxyStats, backend: Backend, failAsMisses = false): Slot {
  const slot = new KeyedSlot(owner, req, stats, failAsMisses);
  const refused = sendRequest(backend, req, null, slot, 0);
  if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Line, 0), refused);
  return slot;
}

/** Sends `req` to the servers `backendFor` gives its keys (a get of several keys split by server). */
export function forward(req: Request, owner: SlotOwner, stats: ProxyStats, backendFor: (key: Buffer) => Backend): Slot {
  if (isRetrieval(req.cmd)) return forwardGet(req, owner, stats, backendFor);
  return forwardTo(req, owner, stats, backendFor(req.hashKey!));
}

/** get, gets, gat, gats: one op per server that owns some of the keys. */
function forwardGet(req: Request, owner: SlotOwner, stats: ProxyStats, backendFor: (key: Buffer) => Backend): Slot {
  const keys = req.keys;
  if (keys.length === 0) return new LocalSlot(owner, R.END); // `gat 10` with no key
  if (keys.length === 1) return forwardTo(req, owner, stats, backendFor(keys[0]!));
  const owners = new Array<Backend>(keys.length);
  const first = (owners[0] = backendFor(keys[0]!));
  let single = true;
  for (let i = 1; i < keys.length; i++) {
    const b = (owners[i] = backendFor(keys[i]!));
    if (b !== first) single = false;
  }
  if (single) return forwardTo(req, owner, stats, first, true);
  const partOf = new Map<Backend, number>();
  const parts: number[][] = [];
  const partBackends: Backend[] = [];
  for (let i = 0; i < keys.length; i++) {
    const b = owners[i]!;
    let p = partOf.get(b);
    if (p === undefined) {
      p = parts.length;
      partOf.set(b, p);
      parts.push([]);
      partBackends.push(b);
    }
    parts[p]!.push(i);
  }
  const slot = new MultiGetSlot(owner, req, parts, stats);
  for (let p = 0; p < parts.length; p++) {
    const refused = sendRequest(partBackends[p]!, req, parts[p]!, slot, p);
    if (refused !== null) slot.onOpError(new Op(slot, ReplyKind.Retrieval, p), refused);
  }
  return slot;
}
