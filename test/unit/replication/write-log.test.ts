import { appendFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi, type Mock } from 'vitest';
import { hold } from '../../support/process.js';
import type { Logger } from '../../../src/observability/logger.js';
import { nodeWriteLogFs, WriteLog, type WriteLogEntry, type WriteLogFs, type WriteLogLogger, type WriteLogOptions } from '../../../src/replication/write-log.js';
import { logFileName } from '../../../src/replication/write-log/format.js';

const B = '10.0.0.1:11211';
let dir: string;
const open: WriteLog[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'memshift-wlog-'));
});
afterEach(async () => {
  await Promise.all(open.splice(0).map((l) => l.close()));
  rmSync(dir, { recursive: true, force: true });
});

function newLog(options: Partial<WriteLogOptions> = {}): WriteLog {
  const log = new WriteLog({ dir, maxBytes: 1 << 20, fsyncIntervalMs: 5, ...options });
  open.push(log);
  return log;
}

type LogFn = (obj: object, msg: string) => void;

function fakeLogger(): { warn: Mock<LogFn>; error: Mock<LogFn> } {
  return { warn: vi.fn<LogFn>(), error: vi.fn<LogFn>() };
}

/** The real file system, counting calls, with some calls optionally replaced. */
function countingFs(overrides: Partial<WriteLogFs> = {}): { fs: WriteLogFs; calls: { write: number; sync: number } } {
  const calls = { write: 0, sync: 0 };
  const fs: WriteLogFs = {
    ...nodeWriteLogFs,
    write: (...a) => (calls.write++, nodeWriteLogFs.write(...a)),
    sync: (fd) => (calls.sync++, nodeWriteLogFs.sync(fd)),
    ...overrides,
  };
  return { fs, calls };
}

function errno(code: string): Error {
  return Object.assign(new Error(`${code}: simulated`), { code });
}

async function drainAll(log: WriteLog, id = B, batchSize = 1000): Promise<WriteLogEntry[][]> {
  const batches: WriteLogEntry[][] = [];
  for await (const batch of log.drain(id, batchSize)) batches.push(batch);
  return batches;
}

const show = (entries: WriteLogEntry[]): string[] => entries.map((e) => `${e.op} ${e.key.toString()}`);
const k = (s: string): Buffer => Buffer.from(s);
const logPath = (id = B): string => join(dir, logFileName(id));

describe('WriteLog append and drain', () => {
  it('drains entries in order, in batches, then removes the file', async () => {
    const log = newLog();
    log.append(B, 'set', k('a'));
    log.append(B, 'delete', k('b'));
    log.append(B, 'set', k('c'));
    expect(log.pending(B)).toBe(3);
    expect(log.bytes(B)).toBe(3 * 8);
    expect(log.backends()).toEqual([B]);
    const batches = await drainAll(log, B, 2);
    expect(batches.map(show)).toEqual([['set a', 'delete b'], ['set c']]);
    expect(log.pending(B)).toBe(0);
    expect(log.bytes(B)).toBe(0);
    expect(existsSync(logPath())).toBe(false);
    expect(await drainAll(log)).toEqual([]);
  });

  it('keeps binary keys intact (NUL, spaces, CRLF, every byte value, 250 bytes)', async () => {
    const keys = [
      Buffer.from([0]),
      Buffer.from('a key with spaces\r\n'),
      Buffer.from(Array.from({ length: 250 }, (_, i) => (i * 7) % 256)),
      Buffer.alloc(250, 0xff),
      Buffer.from('ключ-🔑'),
    ];
    const log = newLog();
    keys.forEach((key, i) => log.append(B, i % 2 === 0 ? 'set' : 'delete', key));
    await log.close();
    const entries = (await drainAll(newLog())).flat();
    expect(entries.map((e) => e.key)).toEqual(keys);
    expect(entries.map((e) => e.op)).toEqual(['set', 'delete', 'set', 'delete', 'set']);
  });

  it('last op wins per key: set then delete replays a delete, delete then set a set', async () => {
    const log = newLog();
    log.append(B, 'set', k('x'));
    log.append(B, 'delete', k('x'));
    log.append(B, 'delete', k('y'));
    log.append(B, 'set', k('y'));
    for (let i = 0; i < 1000; i++) log.append(B, 'set', k('hot'));
    expect(log.stats()[B]).toMatchObject({ appended: 1004, deduped: 999, entries: 5 });
    expect(show((await drainAll(log)).flat())).toEqual(['delete x', 'set y', 'set hot']);
  });

  it('dedupes at drain time too, in the order of each key last record', async () => {
    const log = newLog({ dedupeKeys: 0 }); // nothing remembered: every append is written
    for (const [op, key] of [['set', 'a'], ['set', 'b'], ['delete', 'a'], ['set', 'b'], ['set', 'c']] as const) log.append(B, op, k(key));
    expect(log.pending(B)).toBe(5);
    expect(show((await drainAll(log)).flat())).toEqual(['delete a', 'set b', 'set c']);
    expect(log.pending(B)).toBe(0);
  });

  it('keeps backends apart, with safe file names', async () => {
    const evil = '../../etc/passwd\0:1';
    const log = newLog();
    log.append(B, 'set', k('one'));
    log.append(evil, 'delete', k('two'));
    log.append('10.0.0.1_11211', 'set', k('three')); // same sanitized name as B, different file
    await log.close();
    const files = readdirSync(dir).sort();
    expect(files).toHaveLength(3);
    for (const f of files) expect(f).toMatch(/^[A-Za-z0-9._-]+\.wlog$/);
    const again = newLog();
    expect(again.backends()).toEqual([evil, '10.0.0.1_11211', B].sort());
    expect(show((await drainAll(again, evil)).flat())).toEqual(['delete two']);
    expect(again.pending(B)).toBe(1);
  });

  it('rejects a second drain of the same backend while one runs', async () => {
    const log = newLog();
    log.append(B, 'set', k('a'));
    const first = log.drain(B);
    await first.next();
    await expect(log.drain(B).next()).rejects.toThrow(/already being drained/);
    await first.return(undefined);
  });
});

describe('WriteLog persistence', () => {
  it('survives a restart without close (entries synced by the interval)', async () => {
    const log = newLog();
    log.append(B, 'set', k('a'));
    log.append(B, 'delete', k('b'));
    await vi.waitFor(() => expect(log.stats()[B]!.flushes).toBe(1));
    const again = newLog(); // the first instance never closed: as after a crash
    expect(again.backends()).toEqual([B]);
    expect(again.pending(B)).toBe(2);
    expect(show((await drainAll(again)).flat())).toEqual(['set a', 'delete b']);
  });

  it('resumes a drain after the last committed batch; an unfinished batch is replayed again', async () => {
    const log = newLog();
    for (const key of ['a', 'b', 'c', 'd', 'e']) log.append(B, 'set', k(key));
    const seen: string[][] = [];
    for await (const batch of log.drain(B, 2)) {
      seen.push(show(batch));
      if (seen.length === 2) break; // crash while replaying the second batch
    }
    expect(seen).toEqual([['set a', 'set b'], ['set c', 'set d']]);
    expect(log.pending(B)).toBe(3);
    const again = newLog();
    expect(again.pending(B)).toBe(3);
    expect((await drainAll(again, B, 2)).map(show)).toEqual([['set c', 'set d'], ['set e']]);
    expect(existsSync(logPath())).toBe(false);
  });

  it('ignores a torn tail (file cut mid-record), cuts it off and appends after the last whole record', async () => {
    const log = newLog();
    for (const key of ['first', 'second', 'a-much-longer-third-key']) log.append(B, 'set', k(key)); // the last is 30 bytes
    await log.close();
    const size = readFileSync(logPath()).length;
    truncateSync(logPath(), size - 3);
    const logger = fakeLogger();
    const again = newLog({ logger });
    expect(again.pending(B)).toBe(2);
    expect(logger.warn).toHaveBeenCalledWith(expect.objectContaining({ backend: B, ignoredBytes: 27 }), expect.stringMatching(/torn tail/));
    again.append(B, 'delete', k('fourth')); // 13 bytes: shorter than the torn bytes it replaces
    await again.close();
    expect(readFileSync(logPath()).length).toBe(size - 30 + 13);
    expect(show((await drainAll(newLog())).flat())).toEqual(['set first', 'set second', 'delete fourth']);
  });

  it('ignores a garbage tail (crc mismatch)', async () => {
    const log = newLog();
    log.append(B, 'set', k('kept'));
    await log.close();
    appendFileSync(logPath(), Buffer.from([0xde, 0xad, 0xbe, 0xef, 3, 0, 1, 0x61, 0x62, 0x63]));
    expect(show((await drainAll(newLog())).flat())).toEqual(['set kept']);
  });

  it('a damaged header state means needsResync', async () => {
    const log = newLog();
    log.append(B, 'set', k('a'));
    await log.close();
    const data = readFileSync(logPath());
    data[8] = data[8]! ^ 0xff; // inside the cursor, covered by the state crc
    writeFileSync(logPath(), data);
    const again = newLog({ logger: fakeLogger() });
    expect(again.needsResync(B)).toBe(true);
  });
});

describe('WriteLog bounds and errors', () => {
  it('stops at maxBytes: needsResync, persisted, counted; clearResync drops the log', async () => {
    const logger = fakeLogger();
    const log = newLog({ maxBytes: 100, logger }); // 17 bytes per 10-byte key: 5 fit
    for (let i = 0; i < 8; i++) log.append(B, 'set', k(`key-${i}-abc`));
    expect(log.needsResync(B)).toBe(true);
    expect(log.stats()[B]).toMatchObject({ appended: 8, overflows: 1, dropped: 8, needsResync: 1, entries: 0 });
    expect(logger.warn).toHaveBeenCalledTimes(1);
    expect(await drainAll(log)).toEqual([]);
    await log.close();

    const again = newLog({ maxBytes: 100 });
    expect(again.needsResync(B)).toBe(true);
    again.append(B, 'set', k('dropped'));
    expect(again.pending(B)).toBe(0);
    await again.clearResync(B);
    expect(again.needsResync(B)).toBe(false);
    expect(existsSync(logPath())).toBe(false);
    const clearing = again.clearResync(B); // nothing to clear now; appends made meanwhile are kept
    again.append(B, 'set', k('logged'));
    await clearing;
    expect(again.pending(B)).toBe(1);
    expect(show((await drainAll(again)).flat())).toEqual(['set logged']);
  });

  it('ENOSPC on write: no throw, needsResync, error counted and logged once', async () => {
    const logger = fakeLogger();
    const { fs } = countingFs({ write: () => Promise.reject(errno('ENOSPC')) });
    const log = newLog({ fs, logger });
    log.append(B, 'set', k('a'));
    await vi.waitFor(() => expect(log.needsResync(B)).toBe(true));
    for (let i = 0; i < 100; i++) log.append(B, 'set', k(`b${i}`));
    await log.close();
    const s = log.stats()[B]!;
    expect(s.writeErrors).toBeGreaterThanOrEqual(1);
    expect(s).toMatchObject({ needsResync: 1, appended: 101, dropped: 101, entries: 0, bytes: 0 });
    expect(logger.error).toHaveBeenCalledTimes(1);
    expect(logger.error.mock.calls[0]![0]).toMatchObject({ backend: B, err: 'ENOSPC' });
  });

  it('EIO on fsync: needsResync and the flag is persisted by the in-place header write', async () => {
    let failSync = false;
    const { fs } = countingFs({ sync: (fd) => (failSync ? Promise.reject(errno('EIO')) : nodeWriteLogFs.sync(fd)) });
    const log = newLog({ fs, logger: fakeLogger() });
    log.append(B, 'set', k('a'));
    await vi.waitFor(() => expect(log.stats()[B]!.flushes).toBe(1));
    failSync = true;
    log.append(B, 'set', k('b'));
    await vi.waitFor(() => expect(log.needsResync(B)).toBe(true));
    await log.close();
    expect(log.stats()[B]!.writeErrors).toBeGreaterThanOrEqual(1);
    expect(newLog().needsResync(B)).toBe(true); // the header write itself landed before its sync failed
  });

  it('a dir that is a file: constructor and appends never throw', async () => {
    const file = join(dir, 'not-a-dir');
    writeFileSync(file, 'x');
    const logger = fakeLogger();
    const log = new WriteLog({ dir: file, maxBytes: 1000, fsyncIntervalMs: 1, logger });
    open.push(log);
    expect(() => log.append(B, 'delete', k('a'))).not.toThrow();
    await vi.waitFor(() => expect(log.needsResync(B)).toBe(true));
    await log.close();
    expect(log.stats()[B]!.writeErrors).toBeGreaterThanOrEqual(1);
    expect(logger.error).toHaveBeenCalled();
  });

  it('a key too long to log marks the backend', () => {
    const log = newLog({ logger: fakeLogger() });
    log.append(B, 'set', Buffer.alloc(70_000, 0x61));
    expect(log.needsResync(B)).toBe(true);
  });
});

describe('WriteLog with concurrent appends', () => {
  it('a key failing again while its batch replays is logged again', async () => {
    const log = newLog();
    log.append(B, 'set', k('k'));
    log.append(B, 'set', k('other'));
    const seen: string[][] = [];
    for await (const batch of log.drain(B, 1)) {
      seen.push(show(batch));
      if (seen.length === 1) log.append(B, 'set', k('k')); // the replay of k raced a new failure of k
    }
    // The drain also picks up what was appended meanwhile; k may come twice, never zero times after the race.
    expect(seen.flat()).toEqual(['set k', 'set other', 'set k']);
    expect(log.pending(B)).toBe(0);
  });

  it('clearResync stops a running drain', async () => {
    const log = newLog();
    for (const key of ['a', 'b', 'c']) log.append(B, 'set', k(key));
    const seen: string[][] = [];
    for await (const batch of log.drain(B, 1)) {
      seen.push(show(batch));
      await log.clearResync(B);
    }
    expect(seen).toEqual([['set a']]);
    expect(log.pending(B)).toBe(0);
    expect(existsSync(logPath())).toBe(false);
  });

  it('a burst of 100k appends is cheap and takes few syncs', async () => {
    const { fs, calls } = countingFs();
    const log = newLog({ fs, maxBytes: 64 << 20, fsyncIntervalMs: 50 });
    const keys = Array.from({ length: 100_000 }, (_, i) => Buffer.from(`user:${i}:profile`));
    const t0 = performance.now();
    for (const key of keys) log.append(B, 'set', key);
    const appendMs = performance.now() - t0;
    await log.close();
    const totalMs = performance.now() - t0;
    console.log(`100k appends: ${appendMs.toFixed(1)} ms in append(), ${totalMs.toFixed(1)} ms with write+sync; ${calls.write} writes, ${calls.sync} syncs`);
    expect(calls.sync).toBeLessThan(50);
    expect(calls.write).toBeLessThan(50);
    expect(appendMs).toBeLessThan(5000); // generous: only catches a per-entry write
    const again = newLog();
    expect(again.pending(B)).toBe(100_000);
    const entries = (await drainAll(again, B, 10_000)).flat();
    expect(entries).toHaveLength(100_000);
    expect(entries[99_999]!.key.toString()).toBe('user:99999:profile');
  });

  it('appends spread over time are synced once per interval, not once per append', async () => {
    const { fs, calls } = countingFs();
    const log = newLog({ fs, fsyncIntervalMs: 20 });
    const t0 = performance.now();
    for (let group = 0; group < 100; group++) {
      for (let i = 0; i < 100; i++) log.append(B, i % 3 === 0 ? 'delete' : 'set', k(`g${group}:${i}`));
      await hold(1, 'the appends come in 100 turns');
    }
    await log.close();
    const ms = performance.now() - t0;
    console.log(`10k appends over ${ms.toFixed(0)} ms in 100 turns: ${calls.write} writes, ${calls.sync} syncs`);
    expect(calls.sync).toBeLessThan(Math.ceil(ms / 20) + 10);
    expect(calls.sync).toBeLessThan(100);
    expect(newLog().pending(B)).toBe(10_000);
  });

  it('markResync flags a backend, persisted even before anything was logged', async () => {
    const log = newLog({ logger: fakeLogger() });
    log.markResync(B, 'resync failed');
    await log.close();
    expect(newLog().needsResync(B)).toBe(true);
  });

  it('reports plain numbers for metrics; a pino logger fits', () => {
    const log = newLog();
    log.append(B, 'set', k('a'));
    const s = log.stats()[B]!;
    for (const v of Object.values(s)) expect(typeof v).toBe('number');
    const asLogger: (l: Logger) => WriteLogLogger = (l) => l; // type-level check
    expect(asLogger).toBeTypeOf('function');
  });
});
