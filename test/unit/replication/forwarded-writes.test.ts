/**
 * Failed writes sent from a follower worker to worker 0 (workers: N): the batch codec, byte for
 * byte, and the sender's one batch per turn with its bound (past it the backend is sent as lost).
 */
import { describe, expect, it } from 'vitest';
import { decodeFailedWrites, encodeFailedWrites, FailedWriteSender, type FailedWrite, type LostWrites } from '../../../src/replication/forwarded-writes.js';

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('failed-write batches', () => {
  it('encode each entry as op, pool, backend and key, each field with a big-endian u16 length', () => {
    const bytes = encodeFailedWrites([{ pool: 'p', backend: 'h:1', op: 'delete', key: Buffer.from('ab') }]);
    expect([...bytes]).toEqual([1, 1, 0, 1, 0x70, 0, 3, 0x68, 0x3a, 0x31, 0, 2, 0x61, 0x62]);
  });

  it('read back what was written, any key bytes included, and own their keys', () => {
    const writes: FailedWrite[] = [
      { pool: 'main', backend: '127.0.0.1:11211', op: 'set', key: Buffer.from('user:1') },
      { pool: 'main', backend: '127.0.0.1:11212', op: 'delete', key: Buffer.from([0, 0xff, 0x20, 0x0d, 0x0a]) },
      { pool: 'pöol', backend: '[::1]:11211', op: 'set', key: Buffer.alloc(250, 0x6b) },
    ];
    const batch = encodeFailedWrites(writes);
    const back = decodeFailedWrites(batch);
    expect(back).toEqual(writes);
    batch.fill(0);
    expect(back[0]!.key.toString()).toBe('user:1');
  });

  it('refuse a batch cut short, an unknown op or version, at every cut', () => {
    const batch = encodeFailedWrites([
      { pool: 'main', backend: 'a:1', op: 'set', key: Buffer.from('k1') },
      { pool: 'main', backend: 'a:1', op: 'set', key: Buffer.from('k2') },
    ]);
    const whole = 1 + (1 + 6 + 4 + 3 + 2);
    for (let cut = 1; cut < batch.length; cut++) {
      if (cut === 1 || cut === whole) expect(decodeFailedWrites(batch.subarray(0, cut))).toHaveLength(cut === 1 ? 0 : 1);
      else expect(() => decodeFailedWrites(batch.subarray(0, cut)), `cut at ${cut}`).toThrow(/cut short|unknown op/);
    }
    expect(() => decodeFailedWrites(Buffer.from([2]))).toThrow(/unknown version 2/);
    expect(() => decodeFailedWrites(Buffer.alloc(0))).toThrow(/unknown version/);
    expect(() => decodeFailedWrites(Buffer.from([1, 7, 0, 0, 0, 0, 0, 0]))).toThrow(/unknown op 7/);
  });
});

describe('FailedWriteSender', () => {
  const sender = (maxBytes?: number) => {
    const sent: { batch: FailedWrite[]; lost: readonly LostWrites[]; done: () => void }[] = [];
    const s = new FailedWriteSender((batch, lost, done) => sent.push({ batch: batch === null ? [] : decodeFailedWrites(batch), lost, done }), maxBytes);
    return { s, sent };
  };

  it('sends the misses of one turn as one batch, the keys copied', async () => {
    const { s, sent } = sender();
    const read = Buffer.from('k1k2');
    s.add('main', 'a:1', 'set', read.subarray(0, 2));
    s.add('main', 'b:1', 'delete', read.subarray(2, 4));
    read.fill(0x78);
    expect(sent).toEqual([]);
    await turn();
    expect(sent.map((x) => x.batch)).toEqual([
      [
        { pool: 'main', backend: 'a:1', op: 'set', key: Buffer.from('k1') },
        { pool: 'main', backend: 'b:1', op: 'delete', key: Buffer.from('k2') },
      ],
    ]);
    s.add('main', 'a:1', 'set', Buffer.from('k3'));
    await turn();
    expect(sent).toHaveLength(2);
    expect(s.counters).toEqual({ sent: 3, lost: 0, batches: 2 });
  });

  it('past its bound (batched and not yet sent), sends the backend as lost instead, once a turn', async () => {
    const entry = 1 + 6 + 4 + 3 + 2; // main, a:1, k1
    const { s, sent } = sender(2 * entry);
    for (const k of ['k1', 'k2', 'k3', 'k4']) s.add('main', 'a:1', 'set', Buffer.from(k));
    await turn();
    expect(sent[0]!.batch.map((w) => String(w.key))).toEqual(['k1', 'k2']);
    expect(sent[0]!.lost).toEqual([{ pool: 'main', backend: 'a:1' }]);
    // Not sent yet: the next turn's writes are still past the bound.
    s.add('main', 'b:1', 'set', Buffer.from('k5'));
    await turn();
    expect(sent[1]).toMatchObject({ batch: [], lost: [{ pool: 'main', backend: 'b:1' }] });
    sent[0]!.done();
    sent[0]!.done(); // once only
    s.add('main', 'b:1', 'set', Buffer.from('k6'));
    await turn();
    expect(sent[2]!.batch.map((w) => String(w.key))).toEqual(['k6']);
    expect(s.counters.lost).toBe(3);
  });

  it('sends a key too long for the batch as lost', async () => {
    const { s, sent } = sender();
    s.add('main', 'a:1', 'set', Buffer.alloc(70_000));
    await turn();
    expect(sent).toMatchObject([{ batch: [], lost: [{ pool: 'main', backend: 'a:1' }] }]);
  });
});
