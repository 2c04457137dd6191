/**
 * Copies one key from a source to a target without ever resurrecting data (FIELD-NOTES §4).
 *
 *   source: mg <key> v f t c u   ─ EN ─► vanished
 *      │ VA (value, flags, t, cas)
 *   target: ms <key> <len> T<ttl> F<flags> ME c      (add)
 *      │ NS ─► skipped: the target already holds the key (a dual-written value, at least as new); leave it
 *      │ HD c<ours>
 *   source: mg <key> c u   ─ same cas ─► copied
 *      └ gone, other cas, or no answer ─► target: md <key> C<ours> ─► raced
 *
 * Why each step:
 * - Every read carries `u` (no LRU bump, no fetched mark, no last-access update): a copy must not
 *   make every item it reads look hot, and a bump moves items between the LRUs a metadump walks,
 *   which makes the walk miss some.
 * - `add` (ME): clients keep writing both sides during a copy (the dual-write). A value they wrote
 *   to the target is at least as new as the one we read, so it must win: add never overwrites it.
 * - The re-check after the write: a client may have changed or deleted the key on the source
 *   between our read and our write, with its target leg landing before our add (so our stale copy
 *   got in). Any such change has moved the source's CAS (or removed the key) by the time we
 *   re-check. "When in doubt, delete": a miss is always safe in a cache, a stale hit is not.
 * - The delete names the CAS our own write got (`md … C<ours>`): it removes our copy and nothing
 *   else. If a client's dual-write replaced it meanwhile, that value is newer than both and stays.
 * - A write that failed in an unknown state (timeout, closed connection) is deleted the same way
 *   (unconditionally, since we do not know its CAS).
 * - TTL: see ttl.ts (relative up to 30 days, absolute beyond, no expiry as T0). An item with no
 *   time left is not copied (vanished).
 *
 * The one window this cannot close: a delete whose target leg lands before our add and whose
 * source leg lands after our re-check (the source lagging a whole add + re-check behind). The
 * verifier's orphan sweep (a target key that no source holds is deleted) closes it afterwards.
 */
import { isCopyError } from './copy-error.js';
import { flagNumber, type MetaClient } from './meta-client.js';

/** What a copy needs from each side: meta get, set and delete (a MetaClient, or the proxy's own backend connections). */
export type MetaOps = Pick<MetaClient, 'mg' | 'ms' | 'md'>;
import { storeTtl } from './ttl.js';

export type CopyOutcome = 'copied' | 'skipped' | 'vanished' | 'raced' | 'error';

export interface CopyResult {
  readonly outcome: CopyOutcome;
  /** Value bytes written (0 unless a write was attempted). */
  readonly bytes: number;
  /** The source's CAS when it was read (0 when not read). */
  readonly sourceCas: number;
  /** For 'error': what failed; `stale` means a stale copy may be left on the target. */
  readonly error?: Error;
  readonly stale?: boolean;
}

export interface CopyKeyOptions {
  /** The absolute expiry metadump listed (makes long TTLs exact). */
  dumpExp?: number;
  /** Awaited with the value size before the write (the bytes/s limit). */
  beforeWrite?: (bytes: number) => Promise<void>;
  /** Unix seconds now (default Date.now). */
  nowSec?: () => number;
  /**
   * The target may hold values that are not newer than the source's (a migration: sidecars that
   * had not started dual-writing wrote the old owner only). When the add finds the key, the
   * target's value is compared with the one read, and a different one is deleted (by its CAS) and
   * the add tried once more: when in doubt, delete.
   */
  distrustTarget?: boolean;
  /**
   * Asked just before anything is written to the target; false skips the write (outcome
   * 'skipped'). A migration's data path passes whether its phase is still current (phase-view.ts):
   * a value read before the process stalled must not be written after.
   */
  proceed?: () => boolean;
}

function errorOf(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

/** Deletes our write from the target: only the version with `cas` when known, else whatever is there. */
async function undo(target: MetaOps, key: Buffer, cas: number | null): Promise<Error | null> {
  try {
    const r = await target.md(key, cas === null ? '' : `C${cas}`);
    return r.status === 'HD' || r.status === 'NF' || r.status === 'EX' ? null : new Error(`md answered ${r.status}`);
  } catch (err) {
    return errorOf(err);
  }
}

/**
 * Copies `key` from `source` to `target` with add semantics and the re-check (see the header).
 * Failures come back as an 'error' outcome; it throws only when `beforeWrite` rejects (an abort).
 * The source must keep CAS values (memcached without `-C`): an item with CAS 0 cannot be re-checked
 * and is an error, never copied.
 */
export async function copyKey(source: MetaOps, target: MetaOps, key: Buffer, opts: CopyKeyOptions = {}): Promise<CopyResult> {
  let read;
  try {
    read = await source.mg(key, 'v f t c u');
  } catch (err) {
    return { outcome: 'error', bytes: 0, sourceCas: 0, error: errorOf(err) };
  }
  if (read.status === 'EN') return { outcome: 'vanished', bytes: 0, sourceCas: 0 };
  const cas = flagNumber(read, 'c');
  const flags = flagNumber(read, 'f');
  const remaining = flagNumber(read, 't');
  if (read.status !== 'VA' || read.value === null || !(cas > 0) || !(flags >= 0)) {
    return { outcome: 'error', bytes: 0, sourceCas: 0, error: new Error(`mg answered ${read.status} ${read.flags.join(' ')}`) };
  }
  const ttl = storeTtl(remaining, (opts.nowSec ?? (() => Date.now() / 1000))(), opts.dumpExp);
  if (ttl === null) return { outcome: 'vanished', bytes: 0, sourceCas: cas };

  const value = read.value;
  if (opts.beforeWrite !== undefined) await opts.beforeWrite(value.length);
  if (opts.proceed?.() === false) return { outcome: 'skipped', bytes: 0, sourceCas: cas };
  let written;
  for (let attempt = 0; ; attempt++) {
    try {
      written = await target.ms(key, value, `T${ttl} F${flags} ME c`);
    } catch (err) {
      // SERVER_ERROR (out of memory, too large): nothing was stored. Anything else: we cannot know.
      // (Not when `proceed` says no: the target may have taken newer writes since this one was sent.)
      const undone = isCopyError(err, 'COPY_SERVER_ERROR') || opts.proceed?.() === false ? null : await undo(target, key, null);
      return { outcome: 'error', bytes: value.length, sourceCas: cas, error: errorOf(err), stale: undone !== null };
    }
    if (written.status !== 'NS' || opts.distrustTarget !== true || attempt > 0) break;
    let there;
    try {
      there = await target.mg(key, 'v f c u');
    } catch (err) {
      return { outcome: 'error', bytes: 0, sourceCas: cas, error: errorOf(err) };
    }
    if (there.status !== 'VA') continue; // gone meanwhile: add again
    if (there.value !== null && there.value.equals(value) && flagNumber(there, 'f') === flags) break;
    const undone = await undo(target, key, flagNumber(there, 'c'));
    if (undone !== null) return { outcome: 'error', bytes: 0, sourceCas: cas, error: undone };
  }
  if (written.status === 'NS') return { outcome: 'skipped', bytes: 0, sourceCas: cas };
  if (written.status !== 'HD') return { outcome: 'error', bytes: 0, sourceCas: cas, error: new Error(`ms answered ${written.status}`) };
  const ours = flagNumber(written, 'c');
  const oursOrNull = ours > 0 ? ours : null;

  let recheck;
  try {
    recheck = await source.mg(key, 'c u');
  } catch {
    recheck = null;
  }
  if (recheck !== null && recheck.status === 'HD' && flagNumber(recheck, 'c') === cas) {
    return { outcome: 'copied', bytes: value.length, sourceCas: cas };
  }
  const undone = await undo(target, key, oursOrNull);
  if (undone !== null) return { outcome: 'error', bytes: value.length, sourceCas: cas, error: undone, stale: true };
  return { outcome: 'raced', bytes: value.length, sourceCas: cas };
}

export interface SyncKeyOptions {
  nowSec?: () => number;
  /** Syncs from a source that changed meanwhile, at most (default 3). */
  attempts?: number;
  /** As copyKey's. */
  proceed?: () => boolean;
}

/**
 * 'stale': `proceed` said no before a write to the target (nothing was written by this attempt).
 * 'source_error': the source could not be read before anything was written to the target; a
 * source that fails after the target got its value ends 'synced' (or 'deleted'); 'error':
 * anything else failed.
 */
export type SyncOutcome = 'synced' | 'deleted' | 'raced' | 'error' | 'source_error' | 'stale';

/** The source failed a read (thrown, or a reply that is neither a value nor a miss). */
class SourceFailed extends Error {}

async function readSource(source: MetaOps, key: Buffer, flags: string): Promise<Awaited<ReturnType<MetaOps['mg']>>> {
  let r;
  try {
    r = await source.mg(key, flags);
  } catch (err) {
    throw new SourceFailed((err as Error).message);
  }
  if (r.status !== 'VA' && r.status !== 'HD' && r.status !== 'EN') throw new SourceFailed(r.status);
  return r;
}

/**
 * Makes `target` hold what `source` holds for `key` now: the value (a plain set, over whatever the
 * target had) or its absence (a delete). The second leg of a write to a key whose owner is
 * changing (and how replica groups follow a read-modify-write): every write lands on one
 * authoritative owner and is then synced to the other, so writes from several sidecars that reach
 * the two owners in different orders still end with the other owner equal to the authority.
 * The source is read again after the set (or delete); if it changed meanwhile (a concurrent write
 * may have reached the target before ours), the sync is done again from the newer state, up to
 * `attempts` times; after the last, our set is deleted (only our version, `C<ours>`): a hole
 * there, never an older value. A later sync of the newer write fills it. `proceed` (copyKey's) is
 * asked before each write to the target; when it says no, the sync stops with 'stale'.
 */
export async function syncKey(source: MetaOps, target: MetaOps, key: Buffer, opts: SyncKeyOptions = {}): Promise<SyncOutcome> {
  const { nowSec = () => Date.now() / 1000, attempts = 3, proceed = () => true } = opts;
  let ours: number | null = null;
  /** What the target got from the source's last read, once it got it. */
  let applied: 'synced' | 'deleted' | undefined;
  try {
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= attempts;
      const read = await readSource(source, key, 'v f t c');
      if (!proceed()) return 'stale';
      if (read.status === 'EN') {
        const r = await target.md(key, '');
        if (r.status !== 'HD' && r.status !== 'NF') return 'error';
        ours = null;
        applied = 'deleted';
        const again = await readSource(source, key, 'c');
        if (again.status === 'EN') return 'deleted';
        if (last) return 'raced'; // the source has it again: a hole here until its own sync
        continue;
      }
      const cas = flagNumber(read, 'c');
      const ttl = storeTtl(flagNumber(read, 't'), nowSec());
      if (read.status !== 'VA' || read.value === null || !(cas > 0)) return await failed(target, key, ours);
      if (ttl === null) {
        await target.md(key, '');
        return 'deleted';
      }
      const written = await target.ms(key, read.value, `T${ttl} F${flagNumber(read, 'f')} c`);
      if (written.status !== 'HD') return await failed(target, key, ours);
      ours = flagNumber(written, 'c') > 0 ? flagNumber(written, 'c') : null;
      applied = 'synced';
      const again = await readSource(source, key, 'c');
      if (again.status === 'HD' && flagNumber(again, 'c') === cas) return 'synced';
      if (last) {
        await undo(target, key, ours);
        return 'raced';
      }
    }
  } catch (err) {
    // The source failed (a server that died). Before we wrote: the target keeps what it had
    // ('source_error'). After: the target holds what the source held last, and it stays (taking it
    // back would leave neither with the write).
    if (err instanceof SourceFailed) return applied ?? 'source_error';
    return failed(target, key, ours);
  }
}

/** A sync that failed after it wrote: its (maybe older) value is taken back where it can be. */
async function failed(target: MetaOps, key: Buffer, ours: number | null): Promise<'error'> {
  if (ours !== null) await undo(target, key, ours).catch(() => undefined);
  return 'error';
}
