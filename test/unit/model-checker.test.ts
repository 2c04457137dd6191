/**
 * The load generator's model checker on hand-built histories (no sockets): each case injects a
 * known number of violations and asserts the exact counts, so a checker that accepts everything
 * (or flags everything) fails here.
 */
import { describe, expect, it } from 'vitest';
import { checkHistory, replyOps, requestText, type Command, type Op, type Violations } from '../support/model-load.js';

const w = (key: string, value: string | undefined, start: number, end: number, cmd = 'set'): Op => ({ key, kind: 'write', value, start, end, cmd });
const d = (key: string, start: number, end: number): Op => ({ key, kind: 'delete', start, end, cmd: 'delete' });
const r = (key: string, value: string | null | undefined, start: number, end: number, cmd = 'get'): Op => ({ key, kind: 'read', value, start, end, cmd });
const U = Infinity;

function counts(v: Violations): Record<string, number> {
  return { stale: v.staleReads, resurrected: v.resurrectedDeletes, lost: v.lostWrites, unexplained: v.unexplainedReads, total: v.total };
}
const NONE = { stale: 0, resurrected: 0, lost: 0, unexplained: 0, total: 0 };

/** Interprets a reply as the load generator does: the ops it records. */
function ops(c: Command, reply: string | null, start: number, end: number): Op[] {
  return replyOps(c, reply, start, end, 1).ops;
}

describe('checkHistory', () => {
  it('accepts a sequential history, and an initial miss', () => {
    const h = [r('a', null, 0, 1), w('a', '1', 2, 3), r('a', '1', 4, 5), w('a', '2', 6, 7), r('a', '2', 8, 9), d('a', 10, 11), r('a', null, 12, 13), r('b', null, 0, 100)];
    const v = checkHistory(h);
    expect(counts(v)).toEqual(NONE);
    expect(v.reads).toBe(5);
  });

  it('flags a read of a value superseded by a write that finished before the read began', () => {
    const h = [w('a', '1', 0, 1), w('a', '2', 2, 3), r('a', '1', 4, 5)];
    const v = checkHistory(h);
    expect(counts(v)).toEqual({ ...NONE, stale: 1, total: 1 });
    expect(v.details[0]!.source).toBe(h[0]);
    expect(v.details[0]!.by).toBe(h[1]);
    expect(v.samples[0]).toMatch(/^stale read a: get "1" \[4\.000, 5\.000\]; written by set "1" \[0\.000, 1\.000\]; superseded by set "2" \[2\.000, 3\.000\]/);
  });

  it('accepts either value while a write overlaps the read, not afterwards', () => {
    const h = [
      w('a', '1', 0, 1),
      w('a', '2', 2, 6),
      r('a', '1', 3, 5), // w2 may not have taken effect yet
      r('a', '2', 3, 5), // or it may
      r('a', '2', 1.5, 1.8), // ended before w2 began: cannot see it
      r('a', '1', 7, 8), // w2 finished before this began
    ];
    expect(counts(checkHistory(h))).toEqual({ ...NONE, stale: 1, unexplained: 1, total: 2 });
  });

  it('orders by real time: a long write can still land after a short one that finished before the read', () => {
    const h = [
      w('a', '1', 0, 1),
      w('a', '2', 2, 10), // long, overlaps w3
      w('a', '3', 3, 4),
      r('a', '2', 5, 6), // fine: w2 may come after w3
      r('a', '3', 5, 6), // fine
      r('a', '1', 5, 6), // stale: w3 began after w1 ended and finished before the read began
      r('a', '3', 11, 12), // fine: w2 and w3 overlap, either may be last
    ];
    const v = checkHistory(h);
    expect(counts(v)).toEqual({ ...NONE, stale: 1, total: 1 });
    expect(v.details[0]!.by).toBe(h[2]);
  });

  it('flags a value read after an acknowledged delete with no write in between', () => {
    const h = [
      w('a', '1', 0, 1),
      d('a', 2, 3),
      r('a', '1', 4, 5), // resurrected
      r('a', undefined, 4, 5, 'touch'), // "present" (touch TOUCHED) after the delete: resurrected too
      r('a', null, 4, 5),
      w('a', '2', 6, 7),
      r('a', '1', 8, 9), // a write came after the delete: stale
    ];
    const v = checkHistory(h);
    expect(counts(v)).toEqual({ ...NONE, resurrected: 2, stale: 1, total: 3 });
    expect(v.details.map((x) => x.kind)).toEqual(['resurrected-delete', 'resurrected-delete', 'stale-read']);
  });

  it('accepts a read that overlaps the delete', () => {
    expect(counts(checkHistory([w('a', '1', 0, 1), d('a', 2, 5), r('a', '1', 3, 4), r('a', null, 3, 4)]))).toEqual(NONE);
  });

  it('flags a miss after an acknowledged set with no delete (lost write), unless a delete may come last', () => {
    expect(counts(checkHistory([w('a', '1', 0, 1), r('a', null, 2, 3)]))).toEqual({ ...NONE, lost: 1, total: 1 });
    // A delete overlapping the write or the read explains the miss.
    expect(counts(checkHistory([w('a', '1', 0, 1), d('a', 0.5, 4), r('a', null, 2, 3)]))).toEqual(NONE);
    expect(counts(checkHistory([w('a', '1', 0, 1), d('a', 2.5, 4), r('a', null, 2, 3)]))).toEqual(NONE);
    // A read overlapping the write may miss.
    expect(counts(checkHistory([w('a', '1', 0, 2), r('a', null, 1, 3)]))).toEqual(NONE);
    // A delete that finished before the write began does not.
    const v = checkHistory([d('a', 0, 1), w('a', '1', 2, 3), r('a', null, 4, 5)]);
    expect(counts(v)).toEqual({ ...NONE, lost: 1, total: 1 });
    expect(v.samples[0]).toContain('last acknowledged op before it: set "1" [2.000, 3.000]');
  });

  it('flags values never written to the key', () => {
    expect(counts(checkHistory([w('a', '1', 0, 1), w('b', '2', 0, 1), r('a', '2', 2, 3), r('a', undefined, 2, 3, 'touch'), r('c', undefined, 0, 1, 'touch')]))).toEqual({
      ...NONE,
      unexplained: 2,
      total: 2,
    });
  });

  it('with an unknown initial state, accepts anything until the first acknowledged op finishes', () => {
    const h = [r('a', 'old', 0, 1), r('a', null, 0, 1), w('a', '1', 2, 3), r('a', 'old', 4, 5), r('a', null, 4, 5)];
    expect(counts(checkHistory(h, { initial: 'unknown' }))).toEqual({ ...NONE, unexplained: 1, lost: 1, total: 2 });
    expect(counts(checkHistory(h.slice(0, 2)))).toEqual({ ...NONE, unexplained: 1, total: 1 });
  });

  it('accepts both outcomes of an uncertain (errored) write until an acknowledged op after it finishes', () => {
    const h = [
      w('a', '1', 0, 1),
      w('a', 'u', 2, U), // SERVER_ERROR or timeout
      r('a', 'u', 3, 4),
      r('a', '1', 3, 4),
      r('a', 'u', 100, 101), // still open: nothing acknowledged came after it
      w('a', '2', 200, 201),
      r('a', 'u', 300, 301), // closed by the set that began after it: stale
      r('a', '2', 300, 301),
    ];
    const v = checkHistory(h);
    expect(counts(v)).toEqual({ ...NONE, stale: 1, total: 1 });
    expect(v.samples[0]).toContain('(uncertain)');
    // An acknowledged write that began before the uncertain one does not close its window.
    expect(counts(checkHistory([w('a', '1', 0, 10), w('a', 'u', 1, U), r('a', 'u', 11, 12), r('a', '1', 11, 12)]))).toEqual(NONE);
    // An uncertain write never supersedes: the older value stays valid.
    expect(counts(checkHistory([w('a', '1', 0, 1), w('a', 'u', 2, U), r('a', '1', 1000, 1001)]))).toEqual(NONE);
  });

  it('keeps an uncertain write open until its error reply: writes that began while it was in flight do not close it', () => {
    const u = (start: number, replied: number): Op => ({ ...w('a', 'u', start, U), replied });
    // The set erred at 10; an incr acknowledged at 6 began while it was in flight, so it may have
    // landed after it: reading 'u' later is fine. A set that began after 10 closes the window.
    const inFlight = [w('a', '1', 0, 1), u(2, 10), w('a', '2', 5, 6), r('a', 'u', 100, 101), r('a', '2', 100, 101)];
    expect(counts(checkHistory(inFlight))).toEqual(NONE);
    const after = [...inFlight, w('a', '3', 200, 201), r('a', 'u', 300, 301), r('a', '2', 300, 301), r('a', '3', 300, 301)];
    const v = checkHistory(after);
    expect(counts(v)).toEqual({ ...NONE, stale: 2, total: 2 });
    expect(v.samples[0]).toContain('(uncertain, error at 10.000)');
    // Without the reply time the window closes at the start, as before.
    expect(counts(checkHistory([w('a', '1', 0, 1), w('a', 'u', 2, U), w('a', '2', 5, 6), r('a', 'u', 100, 101)]))).toEqual({ ...NONE, stale: 1, total: 1 });
    // The same for a delete that erred: a miss stays explained until a write that began after its reply.
    const del = [w('a', '1', 0, 1), { ...d('a', 2, U), replied: 10 }, w('a', '2', 5, 6), r('a', null, 100, 101), w('a', '3', 200, 201), r('a', null, 300, 301)];
    expect(counts(checkHistory(del))).toEqual({ ...NONE, lost: 1, total: 1 });
    // replyOps records when the error came.
    expect(replyOps({ cmd: 'set', key: 'k', value: 'v' }, 'SERVER_ERROR backend unavailable\r\n', 3, 7).ops).toEqual([{ key: 'k', kind: 'write', value: 'v', start: 3, end: U, replied: 7, cmd: 'set' }]);
  });

  it('accepts both outcomes of an uncertain delete', () => {
    const h = [w('a', '1', 0, 1), d('a', 2, U), r('a', null, 3, 4), r('a', '1', 3, 4), w('a', '2', 5, 6), r('a', null, 7, 8)];
    expect(counts(checkHistory(h))).toEqual({ ...NONE, lost: 1, total: 1 });
  });

  it('checks incr results: a write of the new value and a read of the old one', () => {
    const base = '1000000';
    const h = [
      ...ops({ cmd: 'set', key: 'c', value: base }, 'STORED\r\n', 0, 1),
      ...ops({ cmd: 'incr', key: 'c', delta: 5 }, '1000005\r\n', 2, 3),
      ...ops({ cmd: 'get', key: 'c' }, 'VALUE c 0 7\r\n1000005\r\nEND\r\n', 4, 5),
      ...ops({ cmd: 'incr', key: 'c', delta: 2 }, '1000007\r\n', 6, 7),
      ...ops({ cmd: 'get', key: 'c' }, `VALUE c 0 7\r\n${base}\r\nEND\r\n`, 8, 9), // stale: two incrs since
    ];
    expect(h.map((o) => `${o.kind}:${o.value}`)).toEqual(['write:1000000', 'read:1000000', 'write:1000005', 'read:1000005', 'read:1000005', 'write:1000007', 'read:1000000']);
    expect(counts(checkHistory(h))).toEqual({ ...NONE, stale: 1, total: 1 });

    // An incr that worked on an old value (a lost update) reads a superseded value.
    const lostUpdate = [
      ...ops({ cmd: 'set', key: 'c', value: '100' }, 'STORED\r\n', 0, 1),
      ...ops({ cmd: 'set', key: 'c', value: '200' }, 'STORED\r\n', 2, 3),
      ...ops({ cmd: 'incr', key: 'c', delta: 1 }, '101\r\n', 4, 5),
    ];
    expect(counts(checkHistory(lostUpdate))).toEqual({ ...NONE, stale: 1, total: 1 });

    // incr NOT_FOUND is a miss; an incr whose reply was lost writes an unknown value.
    const h2 = [
      ...ops({ cmd: 'set', key: 'c', value: '100' }, 'STORED\r\n', 0, 1),
      ...ops({ cmd: 'incr', key: 'c', delta: 1 }, 'NOT_FOUND\r\n', 2, 3), // lost write
      ...ops({ cmd: 'incr', key: 'c', delta: 1 }, null, 4, 5), // timeout: 101, or nothing
      ...ops({ cmd: 'incr', key: 'c', delta: 1 }, '102\r\n', 6, 7), // read 101 (from the uncertain incr)
    ];
    expect(h2.find((o) => o.cmd === 'incr' && o.kind === 'write' && o.end === U)?.value).toBeUndefined();
    expect(counts(checkHistory(h2))).toEqual({ ...NONE, lost: 1, total: 1 });
  });

  it('checks cas: STORED reads the value gets saw and writes the new one; EXISTS and NOT_FOUND change nothing', () => {
    const gets = (start: number, end: number): Op[] => ops({ cmd: 'gets', key: 'k' }, 'VALUE k 0 1\r\na\r\nEND\r\n', start, end);
    const cas = (value: string, reply: string, start: number, end: number): Op[] => ops({ cmd: 'cas', key: 'k', value, token: '7', seen: 'a' }, reply, start, end);
    const ok = [...ops({ cmd: 'set', key: 'k', value: 'a' }, 'STORED\r\n', 0, 1), ...gets(2, 3), ...cas('b', 'STORED\r\n', 4, 5), r('k', 'b', 6, 7)];
    expect(counts(checkHistory(ok))).toEqual(NONE);
    expect(replyOps({ cmd: 'gets', key: 'k' }, 'VALUE k 0 1 7\r\na\r\nEND\r\n', 0, 1).hit).toEqual({ value: 'a', token: '7' });

    // Another set finished between the gets and the cas: STORED then means the cas saw a stale item.
    const h = [...ops({ cmd: 'set', key: 'k', value: 'a' }, 'STORED\r\n', 0, 1), ...gets(2, 3), w('k', 'x', 3.2, 3.5), ...cas('b', 'STORED\r\n', 4, 5)];
    expect(counts(checkHistory(h))).toEqual({ ...NONE, stale: 1, total: 1 });
    // ...while EXISTS is what should happen, and leaves 'x'.
    const h2 = [...ops({ cmd: 'set', key: 'k', value: 'a' }, 'STORED\r\n', 0, 1), ...gets(2, 3), w('k', 'x', 3.2, 3.5), ...cas('b', 'EXISTS\r\n', 4, 5), r('k', 'x', 6, 7)];
    expect(counts(checkHistory(h2))).toEqual(NONE);
    expect(counts(checkHistory([...h2, r('k', 'b', 8, 9)]))).toEqual({ ...NONE, unexplained: 1, total: 1 });
    // NOT_FOUND after an acknowledged set and no delete: a lost write.
    const h3 = [...ops({ cmd: 'set', key: 'k', value: 'a' }, 'STORED\r\n', 0, 1), ...gets(2, 3), ...cas('b', 'NOT_FOUND\r\n', 4, 5)];
    expect(counts(checkHistory(h3))).toEqual({ ...NONE, lost: 1, total: 1 });
    // EXISTS after an acknowledged delete: resurrected.
    const h4 = [...ops({ cmd: 'set', key: 'k', value: 'a' }, 'STORED\r\n', 0, 1), ...gets(2, 3), d('k', 3.2, 3.5), ...cas('b', 'EXISTS\r\n', 4, 5)];
    expect(counts(checkHistory(h4))).toEqual({ ...NONE, resurrected: 1, total: 1 });
  });

  it('keeps keys apart', () => {
    const h = [w('a', '1', 0, 1), w('b', '2', 0, 1), d('b', 2, 3), r('a', '1', 4, 5), r('b', null, 4, 5), r('b', '2', 4, 5)];
    expect(counts(checkHistory(h))).toEqual({ ...NONE, resurrected: 1, total: 1 });
  });

  it('checks a few hundred thousand ops well within a second or two', () => {
    // 8 clients, 64 keys, back-to-back ops of 0.05-0.2 ms; every read sees the latest completed write.
    const h: Op[] = [];
    const latest = new Map<string, string | null>();
    let t = 0;
    let seq = 0;
    while (h.length < 300_000) {
      const key = `k${seq % 64}`;
      const start = t;
      const end = t + 0.05 + (seq % 4) * 0.05;
      t = end + 0.01; // sequential: each op starts after the previous ended
      const kind = seq % 10;
      if (kind < 5) h.push(r(key, latest.get(key) ?? null, start, end));
      else if (kind < 9) {
        const v = `v${seq}`;
        h.push(w(key, v, start, end));
        latest.set(key, v);
      } else {
        h.push(d(key, start, end));
        latest.set(key, null);
      }
      seq++;
    }
    h.push(r('k1', 'bogus', t, t + 1));
    const t0 = performance.now();
    const v = checkHistory(h);
    const ms = performance.now() - t0;
    expect(counts(v)).toEqual({ ...NONE, unexplained: 1, total: 1 });
    expect(ms).toBeLessThan(2_000);
  });
});

describe('replyOps', () => {
  it('records what each reply says', () => {
    expect(requestText({ cmd: 'touch', key: 'k' })).toBe('touch k 0\r\n');
    expect(requestText({ cmd: 'cas', key: 'k', value: 'vv', token: '9', seen: 'a' })).toBe('cas k 0 0 2 9\r\nvv\r\n');
    expect(ops({ cmd: 'delete', key: 'k' }, 'DELETED\r\n', 0, 1).map((o) => [o.kind, o.value])).toEqual([['delete', undefined], ['read', undefined]]);
    expect(ops({ cmd: 'delete', key: 'k' }, 'NOT_FOUND\r\n', 0, 1).map((o) => [o.kind, o.value])).toEqual([['delete', undefined], ['read', null]]);
    expect(ops({ cmd: 'touch', key: 'k' }, 'TOUCHED\r\n', 0, 1).map((o) => [o.kind, o.value])).toEqual([['read', undefined]]);
    expect(ops({ cmd: 'get', key: 'k' }, 'END\r\n', 0, 1).map((o) => [o.kind, o.value])).toEqual([['read', null]]);
  });

  it('makes errored writes uncertain, records nothing for errored reads, and reconnects after a timeout or a garbled reply', () => {
    const set: Command = { cmd: 'set', key: 'k', value: 'v' };
    const e = replyOps(set, 'SERVER_ERROR backend unavailable\r\n', 0, 1);
    expect(e).toMatchObject({ error: 'SERVER_ERROR', desync: false, ops: [{ kind: 'write', value: 'v', start: 0, end: U }] });
    expect(replyOps({ cmd: 'delete', key: 'k' }, 'CLIENT_ERROR bad\r\n', 0, 1)).toMatchObject({ error: 'CLIENT_ERROR', ops: [{ kind: 'delete', end: U }] });
    expect(replyOps(set, null, 0, 1)).toMatchObject({ error: 'timeout', desync: true, ops: [{ end: U }] });
    expect(replyOps({ cmd: 'get', key: 'k' }, 'ERROR\r\n', 0, 1)).toEqual({ ops: [], error: 'ERROR', desync: false });
    expect(replyOps({ cmd: 'get', key: 'k' }, 'STORED\r\n', 0, 1)).toMatchObject({ ops: [], error: 'unexpected', desync: true });
    expect(replyOps({ cmd: 'get', key: 'k' }, 'VALUE other 0 1\r\nv\r\nEND\r\n', 0, 1).error).toBe('unexpected');
    expect(replyOps({ cmd: 'touch', key: 'k' }, null, 0, 1, 0, 'closed')).toEqual({ ops: [], error: 'closed', desync: true });
  });
});
