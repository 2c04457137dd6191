/**
 * The copy engine (src/copy) against real memcached: sources and targets are plain memcached
 * servers, with no proxy in between. Data is written and read back with the harness's TextClient
 * (meta commands, base64 keys), never with the engine's own client, so the check is independent.
 *
 * (a) 20,000 keys with binary keys and values, flags and every kind of TTL, from 2 sources to 1
 *     target: verify finds 0 mismatches and the target equals the sources.
 * (b) a writer keeps setting and deleting keys on source and target (the dual-write) during the
 *     copy: after sync + verify no deleted key is on the target and the target equals the source;
 *     and with the writer running through verify too, the target never holds a stale value.
 * (c) two syncs of the same source at once take turns on BUSY.
 * (d) the keys/s and bytes/s limits hold (lower bounds only), the eviction watch slows a copy into a
 *     small target, and an abort stops a copy.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { MetaClient, copyKey, syncKey, syncServers, verifyKey, type Endpoint, type SyncReport } from '../../src/copy/index.js';
import { hold, startMemcached, stopAll, TextClient, type ServerHandle } from '../support/harness.js';
import { mulberry32 } from '../support/prng.js';

afterAll(stopAll);

const MAX_RELATIVE = 2_592_000;

interface Item {
  key: Buffer;
  value: Buffer;
  flags: number;
  /** The exptime as written: 0, relative seconds, or an absolute unix time. */
  exptime: number;
}

interface Read {
  value: Buffer;
  flags: number;
  ttl: number;
}

const ep = (s: ServerHandle): Endpoint => ({ host: '127.0.0.1', port: s.port });


function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** Keys of every shape, values up to 60 KB with CR/LF inside, any flags, every kind of TTL. */
function dataset(prefix: string, n: number, seed: number): Item[] {
  const rand = mulberry32(seed);
  const now = Math.floor(Date.now() / 1000);
  return Array.from({ length: n }, (_, i) => {
    let key: Buffer;
    if (i % 7 === 0) key = Buffer.concat([Buffer.from([0x01, 0xff, 0x20]), Buffer.from(`${prefix}${i}`), Buffer.from([0x00, 0x0a])]);
    else if (i % 11 === 0) key = Buffer.from(`${prefix}p%20${i}`);
    else if (i % 13 === 0) key = Buffer.from(`${prefix}é:${i}`);
    else key = Buffer.from(`${prefix}${i}`);
    const size = i % 97 === 0 ? 60_000 : Math.floor(rand() * 1_500);
    const value = randomBytes(rand, size);
    if (size > 4) value.write('\r\nEN', 1, 'latin1');
    const kind = i % 4;
    const exptime = kind === 0 ? 0 : kind === 1 ? 3_600 : kind === 2 ? 100_000 : now + MAX_RELATIVE + 400_000;
    return { key, value, flags: Math.floor(rand() * 2 ** 32), exptime };
  });
}

/** Length of `count` complete meta replies followed by MN in `buf`, or 0 when incomplete. */
function metaBatchLength(buf: Buffer, count: number): number {
  let pos = 0;
  for (let n = 0; n <= count; n++) {
    const nl = buf.indexOf(0x0a, pos);
    if (nl < 0) return 0;
    const line = buf.toString('latin1', pos, nl - 1);
    pos = nl + 1;
    if (line.startsWith('VA ')) {
      pos += Number(line.split(' ')[1]) + 2;
      if (pos > buf.length) return 0;
    }
    if (n === count) return line === 'MN' ? pos : -1;
  }
  return 0;
}

async function writeItems(port: number, items: Item[]): Promise<void> {
  const c = await TextClient.connect(port);
  try {
    for (let i = 0; i < items.length; i += 500) {
      const batch = items.slice(i, i + 500);
      const parts = batch.flatMap((it) => [Buffer.from(`ms ${it.key.toString('base64')} ${it.value.length} b T${it.exptime} F${it.flags}\r\n`), it.value, Buffer.from('\r\n')]);
      await c.write(Buffer.concat([...parts, Buffer.from('mn\r\n')]));
      const reply = (await c.read((b) => metaBatchLength(b, batch.length), 20_000)).toString('latin1');
      expect(reply).toBe('HD\r\n'.repeat(batch.length) + 'MN\r\n');
    }
  } finally {
    await c.close();
  }
  // memcached's LRU maintainer moves freshly written items between LRU segments for a moment, and a
  // metadump that runs meanwhile can skip one (it is no snapshot: seen in CI as 19,998 of 20,000).
  // The tests below count exactly what a dump of settled data yields, so let the data settle first.
  await hold(1_500, "memcached's LRU maintainer settles the items just written (not observable from outside)");
}

/** What the server holds for each key (null: absent), read with pipelined `mg <b64> b v f t`. */
async function readItems(port: number, keys: Buffer[]): Promise<(Read | null)[]> {
  const c = await TextClient.connect(port);
  const out: (Read | null)[] = [];
  try {
    for (let i = 0; i < keys.length; i += 500) {
      const batch = keys.slice(i, i + 500);
      await c.write(batch.map((k) => `mg ${k.toString('base64')} b v f t\r\n`).join('') + 'mn\r\n');
      const buf = await c.read((b) => metaBatchLength(b, batch.length), 20_000);
      let pos = 0;
      for (let n = 0; n < batch.length; n++) {
        const nl = buf.indexOf(0x0a, pos);
        const line = buf.toString('latin1', pos, nl - 1);
        pos = nl + 1;
        if (line === 'EN') {
          out.push(null);
          continue;
        }
        const [status, len, ...flags] = line.split(' ');
        expect(status).toBe('VA');
        const value = Buffer.from(buf.subarray(pos, pos + Number(len)));
        pos += Number(len) + 2;
        const flag = (f: string): number => Number(flags.find((x) => x.startsWith(f))?.slice(1));
        out.push({ value, flags: flag('f'), ttl: flag('t') });
      }
    }
  } finally {
    await c.close();
  }
  return out;
}

/** Every difference between what `source` and `target` hold for `keys` (value, flags, TTL ± 2 s). */
async function differences(source: number, target: number, keys: Buffer[]): Promise<string[]> {
  const [s, t] = await Promise.all([readItems(source, keys), readItems(target, keys)]);
  const diffs: string[] = [];
  keys.forEach((key, i) => {
    const a = s[i];
    const b = t[i];
    const name = key.toString('base64');
    if (a === null || a === undefined || b === null || b === undefined) {
      if ((a ?? null) !== (b ?? null)) diffs.push(`${name}: source ${a ? 'has it' : 'absent'}, target ${b ? 'has it' : 'absent'}`);
      return;
    }
    if (!a.value.equals(b.value)) diffs.push(`${name}: value differs`);
    if (a.flags !== b.flags) diffs.push(`${name}: flags ${a.flags} vs ${b.flags}`);
    const ttlOk = a.ttl === -1 || b.ttl === -1 ? a.ttl === b.ttl : Math.abs(a.ttl - b.ttl) <= 2;
    if (!ttlOk) diffs.push(`${name}: ttl ${a.ttl} vs ${b.ttl}`);
  });
  return diffs;
}

function expectClean(report: SyncReport): void {
  expect(report.errors, JSON.stringify(report.errors)).toEqual({ count: 0, sample: [] });
  expect(report.aborted).toBe(false);
  expect(report.ok).toBe(true);
}

describe('copy engine against real memcached', () => {
  it('(a) copies 20,000 keys from 2 sources to 1 target; verify finds 0 mismatches and the data matches', async () => {
    // Exact counts need every item where the crawler looks for it: memcached's LRU maintainer moves
    // items between LRU segments in the background, and the crawler can then miss one in a walk
    // (seen once: 19,999 scanned). The engine copes with that (verify walks again, other tests
    // show it); here the sources keep their items still.
    const still = { args: ['-o', 'no_lru_maintainer'] };
    const [a, b, t] = await Promise.all([startMemcached(still), startMemcached(still), startMemcached()]);
    const itemsA = dataset('a:', 10_000, 1);
    const itemsB = dataset('b:', 10_000, 2);
    await Promise.all([writeItems(a.port, itemsA), writeItems(b.port, itemsB)]);
    const snapshots: string[] = [];
    const report = await syncServers({
      sources: [ep(a), ep(b)],
      target: ep(t),
      rateKeysPerSec: Infinity,
      verify: true,
      onProgress: (s) => snapshots.push(s.phase),
      progressIntervalMs: 200,
    });
    expectClean(report);
    const c = report.progress.counts;
    expect(c.scanned).toBe(20_000);
    expect(c.copied).toBe(20_000);
    expect(c.skipped + c.vanished + c.raced).toBe(0);
    expect(c.mismatched).toBe(0);
    expect(c.verified).toBe(20_000);
    expect(report.sources.map((s) => s.matched)).toEqual([10_000, 10_000]);
    expect(report.verify?.passes[0]).toMatchObject({ kind: 'full', checked: 20_000, equal: 20_000, mismatched: 0, swept: 20_000, orphansDeleted: 0 });
    expect(report.verify?.converged).toBe(true);
    const d = report.progress.durations;
    expect(d.totalMs).toBe((d.copyMs ?? NaN) + (d.syncMs ?? NaN) + (d.verifyMs ?? NaN));
    expect(snapshots.at(-1)).toBe('done');
    expect(await differences(a.port, t.port, itemsA.map((i) => i.key))).toEqual([]);
    expect(await differences(b.port, t.port, itemsB.map((i) => i.key))).toEqual([]);
    // the long TTL went over as an absolute time, not as a relative one read as 1970
    const [long] = await readItems(t.port, [itemsA[3]!.key]);
    expect(long?.ttl).toBeGreaterThan(MAX_RELATIVE);
  });

  /** A writer that sets and deletes `w:<i>` on its source (i % 2) and on the target, both at once. */
  async function dualWriter(sources: ServerHandle[], target: ServerHandle, universe: number, loops: number) {
    let running = true;
    const last = new Map<string, Buffer | null>();
    let ops = 0;
    const loop = async (n: number): Promise<void> => {
      const rand = mulberry32(100 + n);
      const src = await Promise.all(sources.map((s) => TextClient.connect(s.port)));
      const tgt = await TextClient.connect(target.port);
      try {
        while (running) {
          const i = Math.floor(rand() * (universe / loops)) * loops + n; // this loop's keys only
          const key = `w:${i}`;
          const s = src[i % sources.length]!;
          if (rand() < 0.35) {
            const [r1, r2] = await Promise.all([s.request(`delete ${key}`), tgt.request(`delete ${key}`)]);
            expect(r1).toMatch(/^(DELETED|NOT_FOUND)\r\n$/);
            expect(r2).toMatch(/^(DELETED|NOT_FOUND)\r\n$/);
            last.set(key, null);
          } else {
            const value = randomBytes(rand, 1 + Math.floor(rand() * 300));
            const cmd = Buffer.concat([Buffer.from(`set ${key} 7 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]);
            const [r1, r2] = await Promise.all([s.write(cmd).then(() => s.read((b) => b.indexOf(0x0a) + 1)), tgt.write(cmd).then(() => tgt.read((b) => b.indexOf(0x0a) + 1))]);
            expect(r1.toString()).toBe('STORED\r\n');
            expect(r2.toString()).toBe('STORED\r\n');
            last.set(key, value);
          }
          ops++;
        }
      } finally {
        await Promise.all([...src, tgt].map((c) => c.close()));
      }
    };
    const done = Promise.all(Array.from({ length: loops }, (_, n) => loop(n)));
    return {
      last,
      get ops() {
        return ops;
      },
      stop: async () => {
        running = false;
        await done;
      },
    };
  }

  async function prefill(sources: ServerHandle[], universe: number): Promise<Buffer[]> {
    const keys = Array.from({ length: universe }, (_, i) => Buffer.from(`w:${i}`));
    const rand = mulberry32(7);
    const per: Item[][] = sources.map(() => []);
    keys.forEach((key, i) => {
      if (i % 6 !== 5) per[i % sources.length]!.push({ key, value: randomBytes(rand, 1 + Math.floor(rand() * 300)), flags: 7, exptime: 0 });
    });
    await Promise.all(sources.map((s, j) => writeItems(s.port, per[j]!)));
    return keys;
  }

  it('(b) with a dual-writer during the copy: no deleted key on the target, every source key with its value', async () => {
    const [a, b, t] = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const universe = 12_000;
    const keys = await prefill([a, b], universe);
    const writer = await dualWriter([a, b], t, universe, 4);
    const report = await syncServers({
      sources: [ep(a), ep(b)],
      target: ep(t),
      rateKeysPerSec: 4_000,
      verify: true,
      beforeVerify: () => writer.stop(), // the dual-write window ends; verify runs on a quiet system
    });
    expect(writer.ops).toBeGreaterThan(500);
    expectClean(report);
    expect(report.verify?.left.count).toBe(0);
    const [onA, onB, onT] = await Promise.all([readItems(a.port, keys), readItems(b.port, keys), readItems(t.port, keys)]);
    const problems: string[] = [];
    keys.forEach((key, i) => {
      const source = (i % 2 === 0 ? onA : onB)[i] ?? null;
      const target = onT[i] ?? null;
      const k = key.toString();
      if (writer.last.get(k) === null && target !== null) problems.push(`${k}: deleted by the writer, present on the target`);
      if (source === null && target !== null) problems.push(`${k}: absent on the source, present on the target`);
      if (source !== null && (target === null || !target.value.equals(source.value) || target.flags !== source.flags)) problems.push(`${k}: target differs from source`);
      const written = writer.last.get(k);
      if (written !== undefined && written !== null && !source?.value.equals(written)) problems.push(`${k}: source lost the writer's value`);
    });
    expect(problems.slice(0, 20)).toEqual([]);
    // the writer raced the copy for real
    const c = report.progress.counts;
    expect(c.copied + c.skipped + c.vanished + c.raced).toBe(c.scanned);
  });

  it('(b2) with the dual-writer running through verify too, the target never holds a deleted or stale value', async () => {
    const [a, b, t] = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const universe = 6_000;
    const keys = await prefill([a, b], universe);
    const writer = await dualWriter([a, b], t, universe, 4);
    let report: SyncReport;
    try {
      report = await syncServers({ sources: [ep(a), ep(b)], target: ep(t), rateKeysPerSec: 4_000, verify: true, maxVerifyPasses: 3 });
    } finally {
      await writer.stop();
    }
    expect(report.aborted).toBe(false);
    expect(report.errors.count).toBe(0);
    const [onA, onB, onT] = await Promise.all([readItems(a.port, keys), readItems(b.port, keys), readItems(t.port, keys)]);
    const problems: string[] = [];
    keys.forEach((key, i) => {
      const source = (i % 2 === 0 ? onA : onB)[i] ?? null;
      const target = onT[i] ?? null;
      const k = key.toString();
      if (writer.last.get(k) === null && target !== null) problems.push(`${k}: deleted by the writer, present on the target`);
      if (target !== null && (source === null || !source.value.equals(target.value))) problems.push(`${k}: stale on the target`);
    });
    expect(problems.slice(0, 20)).toEqual([]);
  });

  it('(c) two syncs of the same source at once take turns on BUSY', async () => {
    const [s, t1, t2] = await Promise.all([startMemcached(), startMemcached(), startMemcached()]);
    const items = Array.from({ length: 40_000 }, (_, i) => ({ key: Buffer.from(`busy:${i}`), value: Buffer.from(String(i)), flags: i, exptime: 0 }));
    await writeItems(s.port, items);
    const opts = { sources: [ep(s)], rateKeysPerSec: 20_000, verify: true, scan: { highWaterBytes: 4_096, busyInitialMs: 50 } };
    const [r1, r2] = await Promise.all([syncServers({ ...opts, target: ep(t1) }), syncServers({ ...opts, target: ep(t2) })]);
    expectClean(r1);
    expectClean(r2);
    expect(r1.busyRetries + r2.busyRetries).toBeGreaterThan(0);
    // a metadump is no snapshot: a key the copy's walk missed is added by verify (nothing bumps items here, so expect none)
    for (const r of [r1, r2]) expect(r.progress.counts.copied + r.progress.counts.repaired).toBe(40_000);
    const keys = items.map((i) => i.key);
    expect(await differences(s.port, t1.port, keys)).toEqual([]);
    expect(await differences(s.port, t2.port, keys)).toEqual([]);
  });

  it('(d) honours the keys/s limit (roughly: a lower bound only)', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const n = 1_500;
    const rate = 1_000;
    await writeItems(s.port, Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`rate:${i}`), value: Buffer.from('v'), flags: 0, exptime: 0 })));
    const report = await syncServers({ sources: [ep(s)], target: ep(t), rateKeysPerSec: rate, verify: false });
    expectClean(report);
    expect(report.progress.counts.copied).toBe(n);
    expect(report.progress.durations.copyMs).toBeGreaterThanOrEqual((n / rate) * 0.8 * 1_000);
  });

  it('(d) honours the bytes/s limit', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const n = 200;
    const value = Buffer.alloc(1_000, 0x61);
    await writeItems(s.port, Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`bytes:${i}`), value, flags: 0, exptime: 0 })));
    const bytesPerSec = 100_000;
    const report = await syncServers({ sources: [ep(s)], target: ep(t), rateKeysPerSec: Infinity, rateBytesPerSec: bytesPerSec, verify: false });
    expectClean(report);
    expect(report.progress.counts.bytes).toBe(n * value.length);
    expect(report.progress.durations.copyMs).toBeGreaterThanOrEqual(((n * value.length) / bytesPerSec) * 0.8 * 1_000);
  });

  it('(d) slows down while the target evicts', async () => {
    const [s, t] = await Promise.all([startMemcached({ memoryMb: 64 }), startMemcached({ memoryMb: 8 })]);
    const value = Buffer.alloc(4_000, 0x62);
    await writeItems(s.port, Array.from({ length: 8_000 }, (_, i) => ({ key: Buffer.from(`ev:${i}`), value, flags: 0, exptime: 0 })));
    const report = await syncServers({ sources: [ep(s)], target: ep(t), rateKeysPerSec: 3_000, verify: false, evictionPollMs: 250, evictionPolicy: { minFactor: 0.25 } });
    expect(report.errors.count).toBe(0);
    expect(report.rate.evictionSlowdowns).toBeGreaterThan(0);
    expect(report.rate.factor).toBeLessThan(1);
  });

  it('verify repairs what the copy skipped: stale target values, TTL and flag differences, target-only keys', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const items = Array.from({ length: 2_000 }, (_, i) => ({ key: Buffer.from(`rep:${i}`), value: Buffer.from(`v${i}`), flags: 1, exptime: 0 }));
    await writeItems(s.port, items);
    const stale = items.filter((_, i) => i % 50 === 0).map((it) => ({ ...it, value: Buffer.from('stale') }));
    const flagsOff = items.filter((_, i) => i % 50 === 1).map((it) => ({ ...it, flags: 2 }));
    const ttlOff = items.filter((_, i) => i % 50 === 2).map((it) => ({ ...it, exptime: 5_000 }));
    const orphans = Array.from({ length: 30 }, (_, i) => ({ key: Buffer.from(`rep:orphan:${i}`), value: Buffer.from('x'), flags: 0, exptime: 0 }));
    await writeItems(t.port, [...stale, ...flagsOff, ...ttlOff, ...orphans]);
    const report = await syncServers({ sources: [ep(s)], target: ep(t), rateKeysPerSec: Infinity, verify: true, settleMs: 100 });
    expectClean(report);
    const differing = stale.length + flagsOff.length + ttlOff.length;
    expect(report.progress.counts.skipped).toBe(differing); // add never overwrote them
    expect(report.verify?.passes[0]).toMatchObject({ mismatched: differing + orphans.length, repaired: differing + orphans.length, orphansDeleted: orphans.length, left: 0 });
    expect(await differences(s.port, t.port, [...items, ...orphans].map((i) => i.key))).toEqual([]);
  });

  it('an incremental pass catches keys changed on the source alone while the full pass ran', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const items = Array.from({ length: 3_000 }, (_, i) => ({ key: Buffer.from(`inc:${i}`), value: Buffer.from(`v${i}`), flags: 0, exptime: 0 }));
    await writeItems(s.port, items);
    const changed = items.filter((_, i) => i % 30 === 0).map((it) => ({ ...it, value: Buffer.from('changed on the source only') }));
    let writes: Promise<void> | undefined;
    const report = await syncServers({
      sources: [ep(s)],
      target: ep(t),
      rateKeysPerSec: 3_000,
      verify: true,
      settleMs: 50,
      beforeVerify: () => {
        writes = hold(400, 'mid-pass').then(() => writeItems(s.port, changed)); // a lost target leg, mid-pass
      },
    });
    await writes;
    expectClean(report);
    const passes = report.verify?.passes ?? [];
    expect(passes.length).toBeGreaterThanOrEqual(2);
    expect(passes[1]).toMatchObject({ kind: 'incremental', casAbove: { [`127.0.0.1:${s.port}`]: 3_000 } });
    expect(passes.reduce((n, p) => n + p.repaired, 0)).toBe(changed.length);
    expect(await differences(s.port, t.port, items.map((i) => i.key))).toEqual([]);
  });

  it("verify never writes the source's older value over a newer target value whose source leg is late", async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const key = Buffer.from('late:leg');
    await writeItems(s.port, [{ key, value: Buffer.from('old'), flags: 0, exptime: 0 }]);
    await writeItems(t.port, [{ key, value: Buffer.from('new'), flags: 0, exptime: 0 }]); // the target leg of a client write
    const source = new MetaClient(ep(s));
    const target = new MetaClient(ep(t));
    try {
      const verdict = verifyKey(source, target, key, { settleMs: 400 });
      await hold(150, "the source leg comes late, within the verify's 400 ms settle");
      await writeItems(s.port, [{ key, value: Buffer.from('new'), flags: 0, exptime: 0 }]); // ... and its source leg, late
      expect(await verdict).toBe('repaired');
      const [onT] = await readItems(t.port, [key]);
      expect(onT?.value.toString()).toBe('new');
    } finally {
      source.close();
      target.close();
    }
  });

  it('a data-path copy or sync writes nothing once `proceed` says the phase is out of date', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const [a, b] = [Buffer.from('proceed:a'), Buffer.from('proceed:b')];
    await writeItems(s.port, [a, b].map((key) => ({ key, value: Buffer.from('source'), flags: 0, exptime: 0 })));
    await writeItems(t.port, [{ key: b, value: Buffer.from('target'), flags: 0, exptime: 0 }]);
    const source = new MetaClient(ep(s));
    const target = new MetaClient(ep(t));
    try {
      expect((await copyKey(source, target, a, { proceed: () => false })).outcome).toBe('skipped');
      expect(await syncKey(source, target, b, { proceed: () => false })).toBe('stale');
      expect((await readItems(t.port, [a, b])).map((i) => i?.value.toString() ?? null)).toEqual([null, 'target']);
      // And with a current phase both write, as always.
      expect((await copyKey(source, target, a, { proceed: () => true })).outcome).toBe('copied');
      expect(await syncKey(source, target, b, { proceed: () => true })).toBe('synced');
      expect((await readItems(t.port, [a, b])).map((i) => i?.value.toString() ?? null)).toEqual(['source', 'source']);
    } finally {
      source.close();
      target.close();
    }
  });

  it('an abort stops the copy and reports it', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    await writeItems(s.port, Array.from({ length: 5_000 }, (_, i) => ({ key: Buffer.from(`ab:${i}`), value: Buffer.from('v'), flags: 0, exptime: 0 })));
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    const report = await syncServers({ sources: [ep(s)], target: ep(t), rateKeysPerSec: 1_000, verify: true, signal: ac.signal });
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(report.aborted).toBe(true);
    expect(report.ok).toBe(false);
    expect(report.progress.phase).toBe('aborted');
    expect(report.progress.counts.copied).toBeLessThan(5_000);
    expect(report.errors.count).toBe(0);
  });

  it('a fenced run (its lease may have lapsed) stops before its next write: copy, verify repairs and the orphan sweep', async () => {
    const [s, t] = await Promise.all([startMemcached(), startMemcached()]);
    const keys = Array.from({ length: 2_000 }, (_, i) => Buffer.from(`fe:${i}`));
    await writeItems(s.port, keys.map((key) => ({ key, value: Buffer.from('v'), flags: 0, exptime: 0 })));
    // The target holds an orphan and a different value: what verify would delete, were it allowed.
    await writeItems(t.port, [
      { key: Buffer.from('orphan'), value: Buffer.from('o'), flags: 0, exptime: 0 },
      { key: keys[0]!, value: Buffer.from('different'), flags: 0, exptime: 0 },
    ]);
    let writes = 0;
    const report = await syncServers({ sources: [ep(s)], target: ep(t), rateKeysPerSec: Infinity, verify: true, fence: () => ++writes <= 100 });
    expect(report.ok).toBe(false);
    const copied = (await readItems(t.port, keys)).filter((r) => r !== null).length;
    // At most the 100 writes the fence let through (the different value stays: copy adds, never overwrites).
    expect(copied).toBeLessThanOrEqual(100);
    expect(report.progress.counts.copied).toBeLessThanOrEqual(100);
    const [orphan, different] = await readItems(t.port, [Buffer.from('orphan'), keys[0]!]);
    expect(orphan?.value.toString()).toBe('o');
    expect(different?.value.toString()).toBe('different');
  });
});
