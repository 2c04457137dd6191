/**
 * syncKey when its source fails (a server killed while a read-modify-write's result was being
 * copied from it): before anything reached the target it ends 'source_error' and the target keeps
 * what it had (the command then runs on the next group); after the target got the source's value,
 * that value stays and the sync counts as done (taking it back would leave no copy of the write).
 * Stand-in servers: the source answers from a list and then fails; the target records what it got.
 */
import { describe, expect, it } from 'vitest';
import { syncKey, type MetaOps } from '../../../src/copy/copier.js';
import type { MetaReply } from '../../../src/copy/meta-client.js';

const reply = (status: string, flags: string[] = [], value: string | null = null): MetaReply => ({ status, flags, value: value === null ? null : Buffer.from(value) });

/** A source whose mg answers `replies` in turn, then throws (the server died). */
function source(replies: MetaReply[]): MetaOps {
  return {
    mg: async () => {
      const r = replies.shift();
      if (r === undefined) throw new Error('127.0.0.1:1: mg failed');
      return r;
    },
    ms: async () => reply('HD'),
    md: async () => reply('HD'),
  };
}

function target(): MetaOps & { ops: string[] } {
  const ops: string[] = [];
  return {
    ops,
    mg: async () => reply('EN'),
    ms: async (_k: Buffer, v: Buffer) => {
      ops.push(`ms ${v.toString()}`);
      return reply('HD', ['c9']);
    },
    md: async (_k: Buffer, flags: string) => {
      ops.push(`md ${flags}`.trim());
      return reply('HD');
    },
  };
}

describe('syncKey with a source that fails', () => {
  it('before the target was written: source_error, the target untouched', async () => {
    const t = target();
    expect(await syncKey(source([]), t, Buffer.from('k'))).toBe('source_error');
    expect(t.ops).toEqual([]);
  });

  it('after the target got the value: synced, and the value stays (no undo)', async () => {
    const t = target();
    expect(await syncKey(source([reply('VA', ['f0', 't-1', 'c5'], '8')]), t, Buffer.from('k'))).toBe('synced');
    expect(t.ops).toEqual(['ms 8']);
  });

  it('after the target got the delete (the source had no such key): deleted', async () => {
    const t = target();
    expect(await syncKey(source([reply('EN')]), t, Buffer.from('k'))).toBe('deleted');
    expect(t.ops).toEqual(['md']);
  });

  it('a source that answers an error is a failed source too', async () => {
    const t = target();
    expect(await syncKey(source([reply('SERVER_ERROR')]), t, Buffer.from('k'))).toBe('source_error');
    expect(t.ops).toEqual([]);
  });
});
