/**
 * Where keys land: shared by the ring-parity tests against live nutcracker
 * (ring-parity-nutcracker, twemproxy-import). Keys of many shapes are set through a proxy, then
 * every memcached behind it is asked which of them it holds.
 */
import { expect } from 'vitest';
import { keysOnServer } from './inspect.js';
import { TextClient } from './text-client.js';
import type { ServerHandle } from './servers.js';

/**
 * `n` distinct keys of many shapes, all starting with `prefix`: words with numbers, bare numbers,
 * hash tags, and random runs of letters, digits and punctuation (some up to the 250-byte limit).
 */
export function variedKeys(n: number, prefix = '', seed = 12345): string[] {
  let s = seed;
  const rnd = (m: number): number => {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    return s % m;
  };
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:_-.{}/|';
  const longest = 250 - Buffer.byteLength(prefix);
  const keys = new Set<string>();
  for (let i = 0; keys.size < n; i++) {
    switch (i % 4) {
      case 0:
        keys.add(`${prefix}user:${i}`);
        break;
      case 1:
        keys.add(`${prefix}${i}`);
        break;
      case 2:
        keys.add(`${prefix}{t${i % 997}}:item:${i}`);
        break;
      default:
        keys.add(`${prefix}${Array.from({ length: 1 + rnd(i % 50 === 3 ? longest : 40) }, () => chars[rnd(chars.length)]).join('')}`);
    }
  }
  return [...keys];
}

/** Sets every key through the proxy at host:port, pipelined in batches, checking each STORED. */
export async function setAll(port: number, keys: readonly string[], host = '127.0.0.1'): Promise<void> {
  const c = await TextClient.connect(port, host);
  try {
    for (let i = 0; i < keys.length; i += 1000) {
      const batch = keys.slice(i, i + 1000);
      await c.write(batch.map((k) => `set ${k} 0 0 1\r\nv\r\n`).join(''));
      const want = 'STORED\r\n'.repeat(batch.length);
      expect((await c.read(want.length, 20_000)).toString()).toBe(want);
    }
  } finally {
    c.close();
  }
}

/**
 * The address of the memcached holding each of `keys`, from each one's metadump; keys a metadump
 * missed (it is no snapshot: an item moving between LRU segments during the crawl can be skipped)
 * are then asked for on every server. A key on two servers fails the test.
 */
export async function placement(backends: readonly ServerHandle[], keys: readonly string[]): Promise<Map<string, string>> {
  const wanted = new Set(keys);
  const where = new Map<string, string>();
  const claim = (key: string, b: ServerHandle): void => {
    expect(where.get(key), `${key} on two servers`).toBeUndefined();
    where.set(key, b.address);
  };
  for (const b of backends) {
    const c = await TextClient.connect(b.port, b.host);
    try {
      await c.write('lru_crawler metadump all\r\n');
      const dump = (await c.read((buf) => (buf.length >= 5 && buf.subarray(-5).toString() === 'END\r\n' ? true : 0), 30_000)).toString();
      for (const line of dump.split('\n')) {
        if (!line.startsWith('key=')) continue;
        const key = decodeURIComponent(line.slice(4, line.indexOf(' ')));
        if (wanted.has(key)) claim(key, b);
      }
    } finally {
      c.close();
    }
  }
  const unlisted = keys.filter((k) => !where.has(k));
  for (const b of backends) for (const key of await keysOnServer(b.port, unlisted, b.host)) claim(key, b);
  return where;
}
