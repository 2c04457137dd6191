/**
 * What a write request means when it has to reach more than one server (replica groups, the old
 * and the new owner of a migrating key): whether it does the same everywhere whatever the server
 * holds, and the request that makes another server follow a write that one server applied.
 */
import { Cmd, Request } from './request.js';

/** The meta flag `flag` (its first byte) is on the request line. */
export function hasFlag(req: Request, flag: number): boolean {
  const line = req.line;
  if (line === null) return false;
  for (let i = 1; i < line.length; i++) if (line[i] === flag && line[i - 1] === 0x20) return true;
  return false;
}

/** Writes that mean the same on every group, whatever it holds. */
export function fansOut(req: Request): boolean {
  switch (req.cmd) {
    case Cmd.Set:
    case Cmd.Delete:
    case Cmd.Touch:
    case Cmd.MetaDelete:
      return true;
    case Cmd.MetaSet:
      return req.tooLarge || (!hasFlag(req, 0x43 /* C */) && !hasFlag(req, 0x4d /* M */)) || hasMode(req, 0x53 /* MS */);
    default:
      return false;
  }
}

function hasMode(req: Request, mode: number): boolean {
  const line = req.line!;
  const at = line.indexOf(' M');
  return at >= 0 && line[at + 2] === mode && !hasFlag(req, 0x43);
}

/** What the other groups get after the primary applied `req`: the same value as a set, or a delete. */
export function followUp(req: Request): Request {
  // Meta: the value's form is in flags memshift does not rebuild, so the others drop the key.
  const setsValue = req.cmd < Cmd.MetaGet && req.value !== null && req.cmd !== Cmd.Append && req.cmd !== Cmd.Prepend;
  if (!setsValue) return deleteOf(req);
  const copy = new Request(Cmd.Set);
  copy.keys = [req.keys[0]!];
  copy.hashKey = req.hashKey;
  copy.flags = req.flags;
  copy.exptime = req.exptime;
  copy.value = req.value;
  return copy;
}

/** A delete of `req`'s key in the same form (meta with its `b` flag, or text), for repairs. */
export function deleteOf(req: Request): Request {
  const key = req.keys[0]!;
  if (req.cmd >= Cmd.MetaGet) {
    const copy = new Request(Cmd.MetaDelete);
    copy.keys = [key];
    copy.hashKey = req.hashKey;
    copy.line = Buffer.concat([Buffer.from('md '), key, Buffer.from(hasFlag(req, 0x62) ? ' b' : '')]);
    return copy;
  }
  const copy = new Request(Cmd.Delete);
  copy.keys = [key];
  copy.hashKey = req.hashKey;
  return copy;
}
