import { describe, expect, it } from 'vitest';
import {
  Cmd,
  RequestParser,
  Request,
  isClassicKeyed,
  isGetAndTouch,
  isMeta,
  isRead,
  isRetrieval,
  isStorage,
  noreplyHidesErrors,
  wantsCas,
} from '../../../src/protocol/index.js';
import { LIMITS } from './parse-helpers.js';

type ClassName = 'retrieval' | 'storage' | 'meta' | 'read' | 'get-and-touch' | 'classic-keyed' | 'noreply-hides-errors' | 'wants-cas';

/** Every Cmd and its classes: a Cmd missing here fails the first test, so adding one forces a decision. */
const TABLE: Record<keyof typeof Cmd, ClassName[]> = {
  Get: ['retrieval', 'read', 'classic-keyed', 'noreply-hides-errors'],
  Gets: ['retrieval', 'read', 'classic-keyed', 'noreply-hides-errors', 'wants-cas'],
  Gat: ['retrieval', 'read', 'get-and-touch', 'classic-keyed', 'noreply-hides-errors'],
  Gats: ['retrieval', 'read', 'get-and-touch', 'classic-keyed', 'noreply-hides-errors', 'wants-cas'],
  Set: ['storage', 'classic-keyed', 'noreply-hides-errors'],
  Add: ['storage', 'classic-keyed', 'noreply-hides-errors'],
  Replace: ['storage', 'classic-keyed', 'noreply-hides-errors'],
  Append: ['storage', 'classic-keyed', 'noreply-hides-errors'],
  Prepend: ['storage', 'classic-keyed', 'noreply-hides-errors'],
  Cas: ['storage', 'classic-keyed', 'noreply-hides-errors'],
  Delete: ['classic-keyed', 'noreply-hides-errors'],
  Incr: ['classic-keyed', 'noreply-hides-errors'],
  Decr: ['classic-keyed', 'noreply-hides-errors'],
  Touch: ['classic-keyed', 'noreply-hides-errors'],
  // mg `c` wants cas tokens: the flag cases below.
  MetaGet: ['meta', 'read'],
  MetaSet: ['meta'],
  MetaDelete: ['meta'],
  MetaArithmetic: ['meta'],
  MetaNoop: ['meta'],
  MetaDebug: ['meta', 'read'],
  // Keyless: the keyed data path never sees them (flush_all's noreply is FanoutSlot's).
  Version: [],
  Verbosity: [],
  FlushAll: [],
  Stats: [],
  Quit: [],
};

function classesOf(cmd: Cmd): ClassName[] {
  const req = new Request(cmd);
  req.noreply = true;
  const out: ClassName[] = [];
  if (isRetrieval(cmd)) out.push('retrieval');
  if (isStorage(cmd)) out.push('storage');
  if (isMeta(cmd)) out.push('meta');
  if (isRead(cmd)) out.push('read');
  if (isGetAndTouch(cmd)) out.push('get-and-touch');
  if (isClassicKeyed(cmd)) out.push('classic-keyed');
  if (noreplyHidesErrors(req)) out.push('noreply-hides-errors');
  if (wantsCas(req)) out.push('wants-cas');
  return out;
}

function parse(input: string): Request {
  const reqs: Request[] = [];
  const p = new RequestParser({ onRequest: (r) => reqs.push(r), onReply: () => {}, onClose: () => {}, onQuit: () => {}, wantsMore: () => true }, LIMITS);
  p.feed(Buffer.from(input, 'latin1'));
  expect(reqs).toHaveLength(1);
  return reqs[0]!;
}

describe('command classes', () => {
  it('the table names every Cmd', () => {
    expect(Object.keys(TABLE).sort()).toEqual(Object.keys(Cmd).sort());
  });

  for (const [name, cmd] of Object.entries(Cmd)) {
    it(`${name}: ${TABLE[name as keyof typeof Cmd].join(', ') || 'none'}`, () => {
      expect(classesOf(cmd)).toEqual(TABLE[name as keyof typeof Cmd]);
    });
  }

  it('the classes keep the ranges of Cmd the data path compared against before', () => {
    for (const cmd of Object.values(Cmd)) {
      expect(isRetrieval(cmd)).toBe(cmd <= Cmd.Gats);
      expect(isStorage(cmd)).toBe(cmd >= Cmd.Set && cmd <= Cmd.Cas);
      expect(isMeta(cmd)).toBe(cmd >= Cmd.MetaGet && cmd <= Cmd.MetaDebug);
      expect(isRead(cmd)).toBe(cmd <= Cmd.Gats || cmd === Cmd.MetaGet || cmd === Cmd.MetaDebug);
      expect(isGetAndTouch(cmd)).toBe(cmd === Cmd.Gat || cmd === Cmd.Gats);
      expect(isClassicKeyed(cmd)).toBe(cmd < Cmd.MetaGet);
    }
  });

  it('noreply hides a classic command’s errors; meta q never does', () => {
    expect(noreplyHidesErrors(parse('set k 0 0 1 noreply\r\nx\r\n'))).toBe(true);
    expect(noreplyHidesErrors(parse('set k 0 0 1\r\nx\r\n'))).toBe(false);
    expect(noreplyHidesErrors(parse('incr k 1 noreply\r\n'))).toBe(true);
    expect(noreplyHidesErrors(parse('delete k noreply\r\n'))).toBe(true);
    const quietSet = parse('ms k 1 q\r\nx\r\n');
    expect(quietSet.noreply).toBe(true);
    expect(noreplyHidesErrors(quietSet)).toBe(false);
    expect(noreplyHidesErrors(parse('md k q\r\n'))).toBe(false);
  });

  it('gets, gats and mg with c want cas tokens', () => {
    expect(wantsCas(parse('gets a b\r\n'))).toBe(true);
    expect(wantsCas(parse('gats 10 a\r\n'))).toBe(true);
    expect(wantsCas(parse('mg k v c\r\n'))).toBe(true);
    expect(wantsCas(parse('mg k c\r\n'))).toBe(true);
    expect(wantsCas(parse('mg k v\r\n'))).toBe(false);
    expect(wantsCas(parse('mg k v t\r\n'))).toBe(false);
    expect(wantsCas(parse('get a\r\n'))).toBe(false);
    expect(wantsCas(parse('gat 10 a\r\n'))).toBe(false);
    // A read's class: ms `c` returns the stored item's token, but a write runs where writes run anyway.
    expect(wantsCas(parse('ms k 1 c\r\nx\r\n'))).toBe(false);
  });
});
