/**
 * Looking into a running memcached (or anything speaking its text protocol) from a test:
 * `stats` as a Map, and which keys a backend holds.
 */
import { TextClient } from './text-client.js';

/** The `STAT name value` lines of `stats [sub]` as a Map. */
export async function stats(port: number, host = '127.0.0.1', sub?: string): Promise<Map<string, string>> {
  const client = await TextClient.connect(port, host);
  try {
    const reply = await client.request(sub === undefined ? 'stats' : `stats ${sub}`, 5_000);
    const out = new Map<string, string>();
    for (const line of reply.split('\r\n')) {
      if (!line.startsWith('STAT ')) continue;
      const rest = line.slice(5);
      const sp = rest.indexOf(' ');
      out.set(sp < 0 ? rest : rest.slice(0, sp), sp < 0 ? '' : rest.slice(sp + 1));
    }
    if (out.size === 0) throw new Error(`stats on ${host}:${port} answered ${JSON.stringify(reply)}`);
    return out;
  } finally {
    await client.close();
  }
}

const BATCH = 500;

/**
 * Which of `keys` the memcached at host:port holds, by pipelined `me <key>` (one `ME …`/`EN` each)
 * closed by `mn`. `me` leaves no trace: unlike `mg`/`get` it changes no `get_*` counters, no
 * fetched flag and no LRU position, so tests can look without disturbing what they measure.
 */
export async function keysOnServer(port: number, keys: Iterable<string>, host = '127.0.0.1'): Promise<Set<string>> {
  const all = [...keys];
  for (const key of all) {
    const plain = [...key].every((ch) => ch.charCodeAt(0) > 0x20 && ch !== '\x7f');
    if (!plain || key.length === 0 || Buffer.byteLength(key) > 250) {
      throw new Error(`keysOnServer: ${JSON.stringify(key)} is not a plain text key`);
    }
  }
  const held = new Set<string>();
  const client = await TextClient.connect(port, host);
  try {
    for (let i = 0; i < all.length; i += BATCH) {
      const batch = all.slice(i, i + BATCH);
      await client.write(batch.map((k) => `me ${k}\r\n`).join('') + 'mn\r\n');
      const reply = await client.read((buf) => {
        const text = buf.toString('latin1');
        return text.endsWith('\r\nMN\r\n') || text === 'MN\r\n' ? true : 0;
      }, 10_000);
      const lines = reply.toString('utf8').split('\r\n').slice(0, -2);
      if (lines.length !== batch.length) {
        throw new Error(`keysOnServer ${host}:${port}: ${batch.length} keys but replies ${JSON.stringify(lines.slice(0, 5))}…`);
      }
      batch.forEach((key, j) => {
        const line = lines[j] ?? '';
        if (line.startsWith('ME ')) held.add(key);
        else if (line !== 'EN') throw new Error(`keysOnServer ${host}:${port}: me ${key} answered ${JSON.stringify(line)}`);
      });
    }
  } finally {
    await client.close();
  }
  return held;
}

/**
 * `flush_all` on each backend. Exact at once: with CAS on (memcached's default) it drops every item
 * whose CAS is older, whatever second it was set in, and items set after it stay.
 */
export async function flushAll(backends: readonly { port: number; host?: string }[]): Promise<void> {
  for (const b of backends) {
    const c = await TextClient.connect(b.port, b.host ?? '127.0.0.1');
    try {
      const reply = await c.request('flush_all');
      if (reply !== 'OK\r\n') throw new Error(`flush_all on ${b.host ?? '127.0.0.1'}:${b.port} answered ${JSON.stringify(reply)}`);
    } finally {
      c.close();
    }
  }
}
