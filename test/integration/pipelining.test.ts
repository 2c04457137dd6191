/**
 * 10,000 mixed commands written in one burst over one connection, including
 * multi-gets that span every backend and noreply commands: memshift's replies
 * must come back complete and in order, byte for byte what one memcached gives.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMemcached, startMemshiftPool, stopAll, TextClient, type ServerHandle } from '../support/harness.js';

let reference: ServerHandle;
let proxy: ServerHandle;

beforeAll(async () => {
  reference = await startMemcached();
  ({ proxy } = await startMemshiftPool(3));
});
afterAll(stopAll);

/** A deterministic burst; the last command is `mn`, so the reply ends with "MN\r\n". */
function burst(prefix: string, count: number): Buffer {
  let seed = 7;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const key = (): string => `${prefix}:${rnd(300)}`;
  const lines: string[] = [];
  for (let i = 0; i < count - 1; i++) {
    const v = `v${i}-${'x'.repeat(rnd(40))}`;
    switch (rnd(12)) {
      case 0:
      case 1:
        lines.push(`set ${key()} ${rnd(5)} 0 ${v.length}\r\n${v}\r\n`);
        break;
      case 2:
        lines.push(`set ${key()} 0 0 ${v.length} noreply\r\n${v}\r\n`);
        break;
      case 3:
      case 4:
        lines.push(`get ${key()}\r\n`);
        break;
      case 5:
        lines.push(`get ${Array.from({ length: 2 + rnd(30) }, key).join(' ')}\r\n`);
        break;
      case 6:
        lines.push(`delete ${key()}${rnd(2) ? ' noreply' : ''}\r\n`);
        break;
      case 7:
        lines.push(`set ${prefix}:n${rnd(20)} 0 0 1\r\n${rnd(10)}\r\n`);
        break;
      case 8:
        lines.push(`incr ${prefix}:n${rnd(20)} ${rnd(100)}${rnd(3) === 0 ? ' noreply' : ''}\r\n`);
        break;
      case 9:
        lines.push(`append ${key()} 0 0 1\r\nA\r\n`);
        break;
      case 10:
        lines.push(`touch ${key()} 1000\r\n`);
        break;
      default:
        lines.push(`mg ${key()} v f k\r\n`);
    }
  }
  lines.push('mn\r\n');
  return Buffer.from(lines.join(''));
}

async function play(port: number, bytes: Buffer): Promise<string> {
  const client = await TextClient.connect(port);
  try {
    await client.write(bytes);
    const reply = await client.read((b) => (b.length >= 4 && b.subarray(-4).toString() === 'MN\r\n' ? true : 0), 60_000);
    return reply.toString('latin1');
  } finally {
    client.close();
  }
}

it('answers 10,000 pipelined mixed commands completely and in order', async () => {
  const bytes = burst(`pipe${Date.now() % 100000}`, 10_000);
  const want = await play(reference.port, bytes);
  const got = await play(proxy.port, bytes);
  const wantLines = want.split('\r\n');
  const gotLines = got.split('\r\n');
  const firstDiff = wantLines.findIndex((l, i) => gotLines[i] !== l);
  expect(firstDiff === -1 ? null : { line: firstDiff, want: wantLines.slice(firstDiff, firstDiff + 3), got: gotLines.slice(firstDiff, firstDiff + 3) }).toBeNull();
  expect(got.length).toBe(want.length);
  expect(wantLines.filter((l) => l.startsWith('VALUE ')).length).toBeGreaterThan(1000);
});
