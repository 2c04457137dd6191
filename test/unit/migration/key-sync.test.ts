/**
 * KeySync's dirty keys: a stale copy that could not be deleted is deleted later, every second, but
 * never on a server that has become the key's owner meanwhile (writes land there first now), and
 * forgotten once the migration is over. A backend whose one connection is a stand-in that answers
 * `md` with HD (or refuses while "down") and records what it was sent; fake timers.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Backend, type BackendConnection, type Op } from '../../../src/backend/index.js';
import { KeySync } from '../../../src/migration/key-sync.js';
import { emptyRouteCounters } from '../../../src/migration/phased-route.js';

function fakeBackend(): { backend: Backend; sent: string[]; setDown: (down: boolean) => void } {
  const sent: string[] = [];
  let down = true;
  let op: Op | null = null;
  const conn = {
    get state() {
      return down ? 'tko' : 'up';
    },
    refuse: () => (down ? Buffer.from('SERVER_ERROR backend unavailable\r\n') : null),
    push: (o: Op) => (op = o),
    writer: {
      bytes: (b: Buffer) => {
        sent.push(b.toString('latin1').trim());
        const o = op!;
        queueMicrotask(() => o.handler.onOpReply(o, Buffer.from('HD\r\n')));
      },
    },
  } as unknown as BackendConnection;
  return { backend: new Backend('127.0.0.1:1', [conn]), sent, setDown: (d) => (down = d) };
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('KeySync dirty keys', () => {
  it('a key whose delete failed is deleted once the server answers, while the server is not its owner', async () => {
    const b = fakeBackend();
    const sync = new KeySync(emptyRouteCounters(), undefined, () => 'other');
    await sync.drop(Buffer.from('k1'), b.backend);
    expect(sync.isDirty(Buffer.from('k1'), b.backend)).toBe(true);
    b.setDown(false);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.sent).toEqual(['md k1']);
    expect(sync.isDirty(Buffer.from('k1'), b.backend)).toBe(false);
  });

  it('never deletes on a server that became the owner (cutover); reads keep skipping it until the migration is over', async () => {
    const b = fakeBackend();
    let role: 'other' | 'owner' | 'sole' = 'other';
    const sync = new KeySync(emptyRouteCounters(), undefined, () => role);
    await sync.drop(Buffer.from('k1'), b.backend);
    role = 'owner';
    b.setDown(false);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(b.sent).toEqual([]);
    expect(sync.isDirty(Buffer.from('k1'), b.backend)).toBe(true);
    role = 'sole';
    await vi.advanceTimersByTimeAsync(1_000);
    expect(b.sent).toEqual([]);
    expect(sync.isDirty(Buffer.from('k1'), b.backend)).toBe(false);
  });
});
