/**
 * `memshift import-twemproxy` against live nutcracker (issue 7, acceptance 4): for each of
 * twemproxy's 12 key hashes with ketama and with modula, a real nutcracker config (the one
 * nutcracker runs, over 3 real memcached, with weights, node names and hash_tag in some cases) is
 * converted by `node dist/cli.js import-twemproxy`; 20,000 keys are set through nutcracker and every
 * memcached is asked which keys it holds; the converted config must place every key on the same
 * server. Two end-to-end cases then stop nutcracker, start memshift on the converted config
 * unchanged (same listen address) and read every key back through it (a warm switch), and set
 * a sample again through memshift to see it land where nutcracker put it.
 *
 * The 3 memcached are shared by every case (flush_all in between) and each case's keys carry its
 * own prefix, so nothing left from another case can be mistaken for this one's.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/index.js';
import type { Config } from '../../src/config/types.js';
import { TWEMPROXY_HASH_NAMES, type TwemproxyHashName } from '../../src/routing/hash.js';
import { createRing } from '../../src/routing/index.js';
import {
  flushAll, REPO_ROOT, startMemcached, startMemshift, startNutcracker, stopAll, TextClient, type ServerHandle,
} from '../support/harness.js';
import { placement, setAll, variedKeys } from '../support/placement.js';

const KEYS = 20_000;
afterAll(stopAll);

/** How many of `keys` a get through host:port finds (multi-gets of 100 keys). */
async function hits(port: number, keys: readonly string[], host = '127.0.0.1'): Promise<number> {
  const c = await TextClient.connect(port, host);
  let found = 0;
  try {
    for (let i = 0; i < keys.length; i += 100) {
      await c.write(`get ${keys.slice(i, i + 100).join(' ')}\r\n`);
      const reply = (await c.read((b) => (b.length >= 5 && b.subarray(-5).toString() === 'END\r\n' ? true : 0), 20_000)).toString();
      found += reply.split('\r\n').filter((l) => l.startsWith('VALUE ')).length;
    }
  } finally {
    c.close();
  }
  return found;
}

/** `node dist/cli.js import-twemproxy FILE`: the memshift YAML it prints. */
function importTwemproxy(file: string): string {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'dist/cli.js'), 'import-twemproxy', file], { encoding: 'utf8', timeout: 30_000 });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout;
}

/** Where the converted config puts each key: the address of its owner, computed in-process. */
function memshiftPlacement(config: Config, keys: readonly string[]): Map<string, string> {
  const pool = [...config.pools.values()][0]!;
  const ring = createRing(pool);
  return new Map(keys.map((k) => [k, pool.servers[ring.ownerOf(Buffer.from(k))]!.address]));
}

interface Case {
  readonly hash: TwemproxyHashName;
  readonly distribution: 'ketama' | 'modula';
  readonly weights: readonly number[];
  readonly names?: readonly string[];
  readonly hashTag?: string;
}

/** The 24 cases: every hash with both distributions, varying weights, node names and hash_tag. */
const CASES: Case[] = TWEMPROXY_HASH_NAMES.flatMap((hash, h) =>
  (['ketama', 'modula'] as const).map((distribution, d): Case => {
    const i = h * 2 + d;
    return {
      hash,
      distribution,
      weights: i % 3 === 0 ? [1, 1, 1] : i % 3 === 1 ? [1, 2, 1] : [3, 1, 2],
      ...(i % 5 === 2 ? { names: ['cache-b', 'a', 'cache-a'] } : {}),
      ...(i % 3 === 1 ? { hashTag: '{}' } : {}),
    };
  }),
);

const describeCase = (c: Case): string =>
  `${c.hash}, ${c.distribution}, weights ${c.weights.join('/')}${c.names === undefined ? '' : ', node names'}${c.hashTag === undefined ? '' : `, hash_tag ${c.hashTag}`}`;

describe('import-twemproxy places 20,000 keys exactly as live nutcracker does', () => {
  let backends: ServerHandle[] = [];
  beforeAll(async () => {
    backends = await Promise.all([1, 2, 3].map(() => startMemcached({ memoryMb: 64 })));
  });

  const serversOf = (c: Case): string[] => backends.map((b, i) => `${b.address}:${c.weights[i]}${c.names === undefined ? '' : ` ${c.names[i]}`}`);

  it('covers every twemproxy hash with ketama and with modula', () => {
    expect(CASES).toHaveLength(24);
    expect(new Set(CASES.map((c) => `${c.hash}/${c.distribution}`)).size).toBe(24);
    expect(CASES.some((c) => c.hashTag !== undefined && c.distribution === 'modula')).toBe(true);
    expect(CASES.some((c) => c.names !== undefined && c.distribution === 'modula')).toBe(true);
  });

  CASES.forEach((c, n) => {
    it(describeCase(c), async () => {
      await flushAll(backends);
      const nut = await startNutcracker({ servers: serversOf(c), hash: c.hash, distribution: c.distribution, ...(c.hashTag === undefined ? {} : { hashTag: c.hashTag }) });
      try {
        const yaml = importTwemproxy(nut.configFile);
        const config = parseConfig(yaml, 'converted');
        expect(config.listen).toEqual([expect.objectContaining({ kind: 'tcp', host: nut.host, port: nut.port })]);
        expect([...config.pools.values()][0]).toMatchObject({ hash: c.hash, distribution: c.distribution, ...(c.hashTag === undefined ? {} : { hashTag: c.hashTag }) });

        const keys = variedKeys(KEYS, `c${n}:`, 1000 + n);
        await setAll(nut.port, keys);
        const viaNutcracker = await placement(backends, keys);
        expect(viaNutcracker.size).toBe(KEYS);
        const viaMemshift = memshiftPlacement(config, keys);
        const differ = keys.filter((k) => viaNutcracker.get(k) !== viaMemshift.get(k));
        expect(differ.slice(0, 10), `${differ.length} of ${KEYS} keys placed differently`).toEqual([]);
        // Not vacuous: the keys spread over the servers (crc32 is 15 bits, so on a ketama ring
        // every key falls before the first point or two, and one server may take them all).
        const used = new Set(viaNutcracker.values()).size;
        expect(used).toBeGreaterThanOrEqual(c.hash === 'crc32' && c.distribution === 'ketama' ? 1 : 3);
      } finally {
        await nut.stop();
      }
    });
  });

  const E2E: Case[] = [
    { hash: 'fnv1a_64', distribution: 'ketama', weights: [1, 2, 1], names: ['cache-b', 'a', 'cache-a'], hashTag: '{}' },
    { hash: 'hsieh', distribution: 'modula', weights: [3, 1, 2], hashTag: '{}' },
  ];
  for (const c of E2E) {
    it(`end to end, ${describeCase(c)}: memshift on the converted config finds every key nutcracker set`, async () => {
      await flushAll(backends);
      const nut = await startNutcracker({ servers: serversOf(c), hash: c.hash, distribution: c.distribution, ...(c.hashTag === undefined ? {} : { hashTag: c.hashTag }) });
      const yaml = importTwemproxy(nut.configFile);
      const keys = variedKeys(KEYS, `e2e-${c.distribution}:`, 77);
      let viaNutcracker: Map<string, string>;
      try {
        await setAll(nut.port, keys);
        viaNutcracker = await placement(backends, keys);
        expect(viaNutcracker.size).toBe(KEYS);
      } finally {
        await nut.stop();
      }
      // The switch: memshift takes nutcracker's listen address, with the config as converted.
      const ms = await startMemshift(yaml);
      try {
        expect({ host: ms.host, port: ms.port }).toEqual({ host: nut.host, port: nut.port });
        expect(await hits(ms.port, keys, ms.host)).toBe(KEYS);
        // And keys set through memshift land where nutcracker put them.
        const sample = keys.filter((_, i) => i % 10 === 0);
        await flushAll(backends);
        await setAll(ms.port, sample, ms.host);
        const viaMemshift = await placement(backends, sample);
        expect(viaMemshift.size).toBe(sample.length);
        const differ = sample.filter((k) => viaMemshift.get(k) !== viaNutcracker.get(k));
        expect(differ.slice(0, 10), `${differ.length} of ${sample.length} keys placed differently`).toEqual([]);
      } finally {
        await ms.stop();
      }
    });
  }
});
