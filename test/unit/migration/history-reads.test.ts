/** GET /migration/history's reads (finding 7): one read per pool at a time, its result reused for a while. */
import { describe, expect, it } from 'vitest';
import { SharedReads } from '../../../src/migration/admin.js';

/** A read of `key` that ends when the test says so; `reads` counts them. */
function pending(): { read: (key: string) => Promise<void>; reads: string[]; end: (fail?: boolean) => void } {
  const reads: string[] = [];
  const ends: ((fail: boolean) => void)[] = [];
  return {
    reads,
    read: (key) =>
      new Promise<void>((resolve, reject) => {
        reads.push(key);
        ends.push((fail) => (fail ? reject(new Error('no answer')) : resolve()));
      }),
    end: (fail = false) => {
      for (const e of ends.splice(0)) e(fail);
    },
  };
}

describe('shared reads', () => {
  it('requests at once share the read in flight; one within maxAge of its end takes its result; later ones read again', async () => {
    let t = 0;
    const r = pending();
    const reads = new SharedReads(r.read, 1_000, () => t);
    const first = Array.from({ length: 20 }, () => reads.get('main'));
    expect(r.reads).toEqual(['main']);
    // A slow read (past maxAge while in flight) is still shared, not started again.
    t = 5_000;
    void reads.get('main');
    expect(r.reads).toEqual(['main']);
    r.end();
    await Promise.all(first);
    t = 5_999;
    await reads.get('main');
    expect(r.reads).toEqual(['main']);
    t = 6_000;
    const again = reads.get('main');
    expect(r.reads).toEqual(['main', 'main']);
    r.end();
    await again;
  });

  it('each key is read on its own; a failed read resolves and counts as a read', async () => {
    let t = 0;
    const r = pending();
    const reads = new SharedReads(r.read, 1_000, () => t);
    const a = reads.get('a');
    const b = reads.get('b');
    expect(r.reads).toEqual(['a', 'b']);
    r.end(true);
    await expect(Promise.all([a, b])).resolves.toEqual([undefined, undefined]);
    t = 500;
    await reads.get('a');
    expect(r.reads).toEqual(['a', 'b']);
  });

  it('forgets the keys no longer wanted (a pool a reload removed): bounded, and read afresh if it comes back', async () => {
    const r = pending();
    const reads = new SharedReads(r.read, 60_000, () => 0);
    const a = reads.get('a');
    r.end();
    await a;
    reads.keep(new Set(['b']));
    const again = reads.get('a');
    expect(r.reads).toEqual(['a', 'a']);
    r.end();
    await again;
  });
});
