/**
 * The classes of commands the data path branches on, named once. Each Cmd lists its classes in
 * CLASSES below (a Cmd added without an entry does not compile); the lookups read one byte of a
 * table indexed by Cmd, so they cost nothing on the hot path. What depends on a request's meta
 * flags (an mg that asks for the cas token) takes the Request.
 *
 * Read-modify-write is not a class of Cmd: whether an ms depends on what the server holds is in its
 * flags. A write is a read-modify-write when it does not fan out (write-class.ts).
 */
import { Cmd, type Request } from './request.js';
import { hasFlag } from './write-class.js';

/** get, gets, gat, gats: VALUE blocks and END. */
const RETRIEVAL = 1;
/** set, add, replace, append, prepend, cas: a data block after the line. */
const STORAGE = 2;
/** mg, ms, md, ma, mn, me. */
const META = 4;
/** Reads an item and leaves its value as it is (gat and mg `T` set its TTL): the retrievals, mg and me. */
const READ = 8;
/**
 * The classic text commands that name keys (get … touch). Their `noreply` hides an error reply too;
 * meta `q` never hides one.
 */
const CLASSIC_KEYED = 16;
/** gat, gats: a retrieval that also sets the TTL. */
const GET_AND_TOUCH = 32;
/** gets, gats: a retrieval that returns each item's cas token (mg asks with its `c` flag). */
const CAS_TOKENS = 64;

const CLASSES: { readonly [C in Cmd]: number } = {
  [Cmd.Get]: RETRIEVAL | READ | CLASSIC_KEYED,
  [Cmd.Gets]: RETRIEVAL | READ | CLASSIC_KEYED | CAS_TOKENS,
  [Cmd.Gat]: RETRIEVAL | READ | CLASSIC_KEYED | GET_AND_TOUCH,
  [Cmd.Gats]: RETRIEVAL | READ | CLASSIC_KEYED | GET_AND_TOUCH | CAS_TOKENS,
  [Cmd.Set]: STORAGE | CLASSIC_KEYED,
  [Cmd.Add]: STORAGE | CLASSIC_KEYED,
  [Cmd.Replace]: STORAGE | CLASSIC_KEYED,
  [Cmd.Append]: STORAGE | CLASSIC_KEYED,
  [Cmd.Prepend]: STORAGE | CLASSIC_KEYED,
  [Cmd.Cas]: STORAGE | CLASSIC_KEYED,
  [Cmd.Delete]: CLASSIC_KEYED,
  [Cmd.Incr]: CLASSIC_KEYED,
  [Cmd.Decr]: CLASSIC_KEYED,
  [Cmd.Touch]: CLASSIC_KEYED,
  [Cmd.MetaGet]: META | READ,
  [Cmd.MetaSet]: META,
  [Cmd.MetaDelete]: META,
  [Cmd.MetaArithmetic]: META,
  [Cmd.MetaNoop]: META,
  [Cmd.MetaDebug]: META | READ,
  [Cmd.Version]: 0,
  [Cmd.Verbosity]: 0,
  [Cmd.FlushAll]: 0,
  [Cmd.Stats]: 0,
  [Cmd.Quit]: 0,
};

const BITS = new Uint8Array(Object.keys(CLASSES).length);
for (const [cmd, bits] of Object.entries(CLASSES)) BITS[Number(cmd)] = bits;

/** get, gets, gat, gats. */
export const isRetrieval = (c: Cmd): boolean => (BITS[c]! & RETRIEVAL) !== 0;
/** set, add, replace, append, prepend, cas. */
export const isStorage = (c: Cmd): boolean => (BITS[c]! & STORAGE) !== 0;
/** The meta commands: mg, ms, md, ma, mn, me. */
export const isMeta = (c: Cmd): boolean => (BITS[c]! & META) !== 0;
/** A read: the retrievals, mg and me (the value stays as it is; gat and mg `T` set the TTL). */
export const isRead = (c: Cmd): boolean => (BITS[c]! & READ) !== 0;
/** gat, gats. */
export const isGetAndTouch = (c: Cmd): boolean => (BITS[c]! & GET_AND_TOUCH) !== 0;
/** A classic text command that names keys: get, gets, gat, gats, the storage commands, delete, incr, decr, touch. */
export const isClassicKeyed = (c: Cmd): boolean => (BITS[c]! & CLASSIC_KEYED) !== 0;

/**
 * The client does not see an error reply to this keyed request: a classic command's `noreply`
 * hides errors as well as successes, while meta `q` hides only the replies it names.
 */
export function noreplyHidesErrors(req: Request): boolean {
  return req.noreply && (BITS[req.cmd]! & CLASSIC_KEYED) !== 0;
}

/** A read that returns cas tokens: gets, gats, mg with `c`. */
export function wantsCas(req: Request): boolean {
  return (BITS[req.cmd]! & CAS_TOKENS) !== 0 || (req.cmd === Cmd.MetaGet && hasFlag(req, 0x63 /* c */));
}
