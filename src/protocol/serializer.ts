/**
 * Request -> the bytes memshift sends to a backend. Always canonical and always
 * without noreply or meta `q`, so the backend answers every request and the
 * connection can never fall out of step.
 */
import { Cmd, type Request } from './request.js';
import { isClassicKeyed, isGetAndTouch, isMeta, isRetrieval } from './command-class.js';
import { ReplyKind } from './reply-parser.js';
import type { Writer } from './writer.js';

const COMMAND_WORDS: readonly (string | undefined)[] = [
  'get ', 'gets ', 'gat ', 'gats ', 'set ', 'add ', 'replace ', 'append ', 'prepend ', 'cas ', 'delete ',
  'incr ', 'decr ', 'touch ',
];
const CRLF = Buffer.from('\r\n');

const MN = Buffer.from('mn\r\n');

/** The reply shape a request's backend command produces. */
export function replyKindOf(req: Request): ReplyKind {
  const cmd = req.cmd;
  if (isRetrieval(cmd)) return ReplyKind.Retrieval;
  if (isMeta(cmd)) return req.untilNoop ? ReplyKind.MetaUntilNoop : ReplyKind.Meta;
  if (cmd === Cmd.Stats) return ReplyKind.Stats;
  return ReplyKind.Line;
}

/** A retrieval command for the given subset of the request's keys (indexes into req.keys). */
export function writeRetrieval(w: Writer, req: Request, keyIndexes: readonly number[] | null): void {
  w.ascii(COMMAND_WORDS[req.cmd]!);
  if (isGetAndTouch(req.cmd)) {
    w.int(req.exptime);
    w.ascii(' ');
  }
  const keys = req.keys;
  if (keyIndexes === null) {
    for (let i = 0; i < keys.length; i++) {
      if (i > 0) w.ascii(' ');
      w.bytes(keys[i]!);
    }
  } else {
    for (let i = 0; i < keyIndexes.length; i++) {
      if (i > 0) w.ascii(' ');
      w.bytes(keys[keyIndexes[i]!]!);
    }
  }
  w.bytes(CRLF);
}

/** Any single-key request (storage, delete, incr/decr, touch, meta). */
export function writeKeyed(w: Writer, req: Request): void {
  const cmd = req.cmd;
  if (!isClassicKeyed(cmd)) {
    w.bytes(req.line!);
    w.bytes(CRLF);
    if (cmd === Cmd.MetaSet && !req.tooLarge) {
      w.bytes(req.value!);
      w.bytes(CRLF);
    }
    if (req.untilNoop) w.bytes(MN);
    return;
  }
  if (isRetrieval(cmd)) return writeRetrieval(w, req, null);
  if (req.tooLarge) {
    // memcached drops the old value when a set is refused as too large.
    w.ascii('delete ');
    w.bytes(req.keys[0]!);
    w.bytes(CRLF);
    return;
  }
  w.ascii(COMMAND_WORDS[cmd]!);
  w.bytes(req.keys[0]!);
  switch (cmd) {
    case Cmd.Delete:
      break;
    case Cmd.Incr:
    case Cmd.Decr:
      w.ascii(' ');
      w.bytes(req.number!);
      break;
    case Cmd.Touch:
      w.ascii(' ');
      w.int(req.exptime);
      break;
    default: {
      // storage
      const value = req.value!;
      w.ascii(` ${req.flags} ${req.exptime} ${value.length}`);
      if (cmd === Cmd.Cas) {
        w.ascii(' ');
        w.bytes(req.number!);
      }
      w.bytes(CRLF);
      w.bytes(value);
    }
  }
  w.bytes(CRLF);
}

export function writeFlushAll(w: Writer, req: Request): void {
  w.ascii(req.hasArg ? `flush_all ${req.exptime}\r\n` : 'flush_all\r\n');
}
