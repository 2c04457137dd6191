/**
 * What a write request means when it has to reach more than one server (replica groups, the old
 * and the new owner of a migrating key): whether it does the same everywhere whatever the server
 * holds (it fans out), or depends on what it holds (it runs on one and the others follow).
 */
import { Cmd, type Request } from './request.js';

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
