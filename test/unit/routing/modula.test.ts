/**
 * twemproxy's modula distribution (src/routing/modula.ts) against golden vectors read from live
 * nutcracker 0.5.0: each case's servers were memcached processes behind a nutcracker pool with
 * `distribution: modula`; the keys were `set` through nutcracker, then every memcached was asked
 * which keys it holds. `owners[i]` is the index, in `servers` as written, of the server that held
 * `keys[i]`. The server strings are the ones nutcracker ran with (their host:port is part of the
 * ring name, so it decides the slot order).
 */
import { describe, expect, it } from 'vitest';
import { parseServerSpec } from '../../../src/config/server-spec.js';
import { MODULA_MAX_SLOTS, type HashName, type ServerSpec } from '../../../src/config/types.js';
import { CONTINUUM_MAX_POINTS } from '../../../src/routing/continuum.js';
import { MovedArcs } from '../../../src/migration/arcs.js';
import { ContinuumRing, ModulaRing, continuumIndex, createRing, keyHashOf, modulaContinuum, modulaPoint, modulaSlots } from '../../../src/routing/index.js';
import { TWEMPROXY_HASH_NAMES } from '../../../src/routing/hash.js';

interface Vectors {
  readonly hash: HashName;
  readonly hashTag?: string;
  readonly servers: readonly string[];
  readonly keys: readonly string[];
  readonly owners: string;
}

const NUTCRACKER: Readonly<Record<string, Vectors>> = {
  'fnv1a_64-weighted-4': {
    hash: 'fnv1a_64',
    servers: ['127.0.0.1:45589:3', '127.0.0.1:46143:1', '127.0.0.1:44421:2 zz', '127.0.0.1:44947:1 b'],
    keys: ['K4G0mOG-WGu', 'eaeK8OaeC', '4', '0WaG4', 'u', 'a', '-u4W0-Kmy', 'Gq4-Oi88y0m0y', '8GWKG8qui0imK', 'iW0yWyGCGGeOq', 'a8W-8', 'qe-4i', 'a-0Ceia-8WiWaGOWO', 'ua-ey', '-yC8yW8OGieSWyuy0', 'y', 'm', 'S', 'mC8mq8yWyGqie', 'e', 'qyC-KGe44GWy-', 'Gyie-', '8mKi4', '-8WC-', 'KWW8amGyKCKO-GWK0', 'uaOOCuiquS0CSWGe8', 'imyOu', '4qy0q0C-u', 'e8Wm8mGe8', 'SGyqOuG4SCGGW', 'aaa-W', '-eeiu', '48SGq', 'Ka8eG', '8u4--8uGSu-yOGSWu', 'u4u4S', 'Wmyy04u4ueK0ymmm8', 'K8eyuCSO-Oyuq', '80Gai', 'euGya-mO0'],
    owners: '1330320122011200103030002330002002001000',
  },
  'crc32a-names-3': {
    hash: 'crc32a',
    hashTag: '{}',
    servers: ['127.0.0.1:46143:1 aa', '127.0.0.1:44421:2 c', '127.0.0.1:45589:1 b'],
    keys: ['4-umaWaS', '40SKa-440qy4i', 'CS48-', 'a', '8', 'Oi-KW--e0SGi4', 'G', 'u', 'GaWCaWWK-', 'GCa8i', '4', 'u--W8S4i4-ae0', '8e8a4yKyy0Wy4', '-', 'e', 'aquu0Giq0eSS0CK8e', 'S', 'mm4em', 'SKi-m', 'CC-iaCGKC80mG', '-WeK0O-W-', '-yaGmSWiGCOG4myqO', '4eOeueu0eWe-88O0m', 'Kay8i', 'amiW4imy4', 'aCy408K0iGy800eyO', '00meW', '0', 'CeW8P-KiyyueW', '0qCm4', 'yi8Cy', '8Ki-4iaqeqi-4', 'WCa-4GiuC40WW', 'yieKy', 'Siqq444uG', 'CiGqGe-CW0yaey4CS', '0GyS-mGa0', 'eiW8iCSWSC0G8S4u0', 'ivCa0G80a8-48y-4b', 'aOunK'],
    owners: '0210001110212211020122102021122110111121',
  },
  'md5-11211-3': {
    hash: 'md5',
    servers: ['127.0.0.8:11211:1', '127.0.0.1:32989:1', '127.0.0.7:11211:2'],
    keys: ['SGiWyq8Siu0Om', '-eeWmaCSe0We-u0KK', 'mq4OK', 'i', 'yu8ya', 'yCaGa', 'a', 'OW-GGmimSeK-GKqqa', 'm', '8C8q-', '8-uWOC0WuGeK-G-40', '-aK-4', 'a0CaiK884WG00', 'OO88q4yCOSayO', 'qOem0SKqy', 'W8eiqiOyiWr4aqSC8', 'CGWue4mSqWGuee4WC', 'OKKu0', 'm4WyqWe-m4u08', 'GCi0q', 'GiWymSKWi0OK4iaGi', 'Sq-O0G8OCC8CiGqOu', '-uiiayK4CeqKS', 'WjuyuG-0yqaW-', 'u0a088040', 'G', '0quqeKq00WaKyamW8', 'W', 'Giuey', 'WOOemOq8m', 'KqKyG-yyK8-G8yqCe', '8', '-yGC4884S', 'aGOqK', '0C0Su', '4-Ku8au48', 'a0uaqyGWeWG4m', 'mqOyW', 'uKWKOiWSy8ui0eqKW', '0'],
    owners: '2210202212122021022221112122211221122221',
  },
  'one_at_a_time-5': {
    hash: 'one_at_a_time',
    servers: ['127.0.0.1:46143:1', '127.0.0.1:44421:1', '127.0.0.1:45589:1', '127.0.0.1:44947:1', '127.0.0.1:32989:1'],
    keys: ['GKWa-CW48C', 'O8iCOyKi80yei4a4e', 'Sua4i0-G4', 'G-CmCuSCWa-uu', 'qWqKqeiCWW-ae', 'G', 'u', 'Caaay', 'WiOaO4KiG', 'CWeem0i4ueKGW', 'uGOeCa8ufGWi-OW0y', 'WieWK', 'ym0yO0qSmiCGu', 'CmGCe-K0iaSSmaWeq', '-q-4u', 'y40WyG4imKuGi', 'GqSKaSqKiSeW8', 'SO0Cm', 'S44eumC8u', 'Gau00', 'mG4qiS-SqOO8K40au', 'O', 'iyqSuCG0eiS8meSGC', 'aKySi', 'e', 'a', 'K0aiCem4Kmeia', 'O4Cue-08G4S8C', 'aG0-SW8SW8meC', 'i', 'yCeeWqem0q0qim4qG', '4Oiu48uiu', '-4u-Wq4u-yeS0W0aK', 'O0Oe9KmamWiiq', 'yS-eOOOyGaOamm8Cb', 'm-C4aKWCG', 'SG-yK', 'qCOWK', 'OyaiKiKGu', 'yCGCi-O-y'],
    owners: '2323142023331301023430000343113323204241',
  },};

function specs(list: readonly string[]): ServerSpec[] {
  return list.map((raw) => {
    const p = parseServerSpec(raw);
    if (!p.ok) throw new Error(p.error);
    return p.value;
  });
}

const ring = (v: Pick<Vectors, 'hash' | 'hashTag' | 'servers'>): ContinuumRing =>
  createRing({ servers: specs(v.servers), hash: v.hash, distribution: 'modula', hashTag: v.hashTag });

describe('modula equals live nutcracker', () => {
  it.each(Object.keys(NUTCRACKER))('%s: every key on the server nutcracker chose', (name) => {
    const v = NUTCRACKER[name]!;
    expect(v.keys.length).toBe(v.owners.length);
    const r = ring(v);
    expect(r).toBeInstanceOf(ModulaRing);
    const got = v.keys.map((k) => String(r.ownerOf(Buffer.from(k)))).join('');
    expect(got).toBe(v.owners);
  });

  it('the vectors catch slots built in config order instead of nutcracker\'s name order', () => {
    const v = NUTCRACKER['fnv1a_64-weighted-4']!;
    const servers = specs(v.servers);
    const configOrder = servers.flatMap((s, i) => Array<number>(s.weight).fill(i));
    const hash = keyHashOf(v.hash);
    const got = v.keys.map((k) => String(configOrder[hash(Buffer.from(k), 0, k.length) % configOrder.length])).join('');
    expect(got).not.toBe(v.owners);
  });
});

describe('modula slots (nc_modula.c modula_update)', () => {
  it('one slot per unit of weight, servers in name order (shorter name first, then bytes)', () => {
    // names: "10.0.0.1" (port 11211), "10.0.0.2:11212", "b" (node name), "aa" (node name)
    const servers = specs(['10.0.0.2:11212:2', '10.0.0.1:11211:1', '10.0.0.3:11211:3 aa', '10.0.0.4:11211:1 b']);
    expect([...modulaSlots(servers)]).toEqual([3, 2, 2, 2, 1, 0, 0]);
  });

  it('at most one slot per continuum point (the config checks MODULA_MAX_SLOTS, the ring is built on a continuum)', () => {
    expect(MODULA_MAX_SLOTS).toBe(CONTINUUM_MAX_POINTS);
  });

  it('refuses duplicate ring names, as nutcracker does', () => {
    expect(() => modulaSlots(specs(['10.0.0.1:11211:1 x', '10.0.0.2:11211:1 x']))).toThrow(/two servers have the ring name "x"/);
  });

  it('a key hashes to slot hash % total weight', () => {
    const servers = specs(['10.0.0.1:11211:2', '10.0.0.2:11211:3']);
    const r = createRing({ servers, hash: 'fnv1a_64', distribution: 'modula' }) as ModulaRing;
    const hash = keyHashOf('fnv1a_64');
    for (let i = 0; i < 1000; i++) {
      const key = Buffer.from(`key:${i}`);
      expect(r.ownerOf(key)).toBe(r.slots[hash(key, 0, key.length) % 5]);
    }
  });

  it('one server takes every key without hashing; an empty key (or tag) hashes to 0, slot 0', () => {
    const one = createRing({ servers: specs(['10.0.0.1:11211:7']), hash: 'crc32a', distribution: 'modula' });
    expect(one.ownerOf(Buffer.from('anything'))).toBe(0);
    const r = createRing({ servers: specs(['10.0.0.2:11211:1', '10.0.0.1:11211:1']), hash: 'crc32a', distribution: 'modula' }) as ModulaRing;
    expect(r.keyHashOf(Buffer.alloc(0))).toBe(0);
    expect(r.ownerOf(Buffer.alloc(0))).toBe(r.slots[0]);
    expect(r.slots[0]).toBe(1); // "10.0.0.1" sorts first
  });

  it('hash_tag: only the tagged part is hashed', () => {
    const r = createRing({ servers: specs(['10.0.0.1:11211:1', '10.0.0.2:11211:1', '10.0.0.3:11211:1']), hash: 'md5', distribution: 'modula', hashTag: '{}' });
    for (let i = 0; i < 200; i++) expect(r.ownerOf(Buffer.from(`a${i}{user${i}}b`))).toBe(r.ownerOf(Buffer.from(`user${i}`)));
  });

  it('every twemproxy hash works with modula', () => {
    const servers = specs(['10.0.0.1:11211:1', '10.0.0.2:11211:2', '10.0.0.3:11211:1']);
    for (const hash of TWEMPROXY_HASH_NAMES) {
      const r = createRing({ servers, hash, distribution: 'modula' });
      const seen = new Set<number>();
      for (let i = 0; i < 2000; i++) seen.add(r.ownerOf(Buffer.from(`k${i}`)));
      expect(seen.size, hash).toBe(3);
    }
  });
});

describe('the modula continuum (for check, plans and migrations)', () => {
  it('modulaPoint is a bijection that sorts hashes by slot', () => {
    for (const n of [1, 2, 3, 5, 7, 1000, 65537]) {
      const c = modulaContinuum(new Uint16Array(n));
      expect(c.values[n - 1]).toBe(2 ** 32 - 1);
      expect(modulaPoint(0, n)).toBe(0);
      // The largest hash is the last of its slot.
      expect(modulaPoint(2 ** 32 - 1, n)).toBe(c.values[(2 ** 32 - 1) % n]);
      // Consecutive hashes of one slot are consecutive points; slot r + 1 starts right after slot r ends.
      for (let r = 0; r < Math.min(n, 50); r++) {
        const start = r === 0 ? 0 : c.values[r - 1]! + 1;
        expect(modulaPoint(r, n)).toBe(start);
        expect(modulaPoint(r + n, n)).toBe(start + 1);
      }
    }
  });

  it('the continuum owner of hashOf(key) is ownerOf(key), and arc lengths are exact shares', () => {
    const r = createRing({ servers: specs(['10.0.0.1:11211:3', '10.0.0.2:11211:1', '10.0.0.3:11211:2']), hash: 'murmur', distribution: 'modula' });
    const { values, owners } = r.continuum;
    for (let i = 0; i < 20_000; i++) {
      const key = Buffer.from(`key-${i}`);
      expect(owners[continuumIndex(values, r.hashOf(key))]).toBe(r.ownerOf(key));
    }
    const share = [0, 0, 0];
    for (let i = 0; i < values.length; i++) share[owners[i]!] = (share[owners[i]!] ?? 0) + values[i]! - (i === 0 ? -1 : values[i - 1]!);
    expect(share.reduce((a, b) => a + b)).toBe(2 ** 32);
    // 2^32 = 6 * 715827882 + 4: slots 0..3 get one hash more.
    expect(share).toEqual([3 * 715827882 + 3, 715827882 + 1, 2 * 715827882]);
  });

  it('migration arcs between two modula rings with the same total weight are exact', () => {
    const from = specs(['10.0.0.1:11211:2', '10.0.0.2:11211:1', '10.0.0.3:11211:1']);
    const to = specs(['10.0.0.1:11211:2', '10.0.0.2:11211:1', '10.0.0.9:11211:1']);
    const oldRing = createRing({ servers: from, hash: 'fnv1a_64', distribution: 'modula' });
    const newRing = createRing({ servers: to, hash: 'fnv1a_64', distribution: 'modula' });
    const arcs = MovedArcs.between(oldRing, from, newRing, to);
    let moved = 0;
    for (let i = 0; i < 20_000; i++) {
      const key = Buffer.from(`k:${i}`);
      const a = arcs.locate(key);
      expect(arcs.oldOwner(a)).toBe(oldRing.ownerOf(key));
      expect(arcs.newOwner(a)).toBe(newRing.ownerOf(key));
      if (arcs.moved(a)) moved++;
    }
    // Only 10.0.0.3's slot moves (to 10.0.0.9): a quarter of the keys.
    expect(arcs.movedShare).toBeCloseTo(0.25, 9);
    expect(moved / 20_000).toBeGreaterThan(0.22);
    expect(moved / 20_000).toBeLessThan(0.28);
  });
});
