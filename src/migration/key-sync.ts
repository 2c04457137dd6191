/**
 * Per-key copies between the two owners of a moved key, for the data path (not the background
 * copy): a read's backfill (copyKey: add + re-check) and a write's sync (syncKey: the authority's
 * current value, or its absence, then a re-check). A failed sync drops the other owner's copy (a
 * miss is safe); when even that delete fails, the key is remembered as dirty on that server (reads
 * skip it) and the delete is retried every second until it lands, but never once that server has
 * become the key's owner (cutover made the new owner authoritative): writes land there first now,
 * and a late delete would take a newer one with it. The key then stays dirty (reads skip that
 * server, to the other owner or group) until the migration ends, when it is forgotten.
 * Bounded: MAX_DIRTY per server.
 * Neither writes a value it read once `current` says the phase may be out of date (phase-view.ts):
 * a backfill is skipped, a sync ends 'stale' and its caller decides again under the new phase.
 */
import type { Backend } from '../backend/index.js';
import { BackendMeta, copyKey, syncKey, type SyncOutcome } from '../copy/index.js';
import type { RouteCounters } from './route.js';

/** Keys remembered per backend whose stale copy could not be deleted yet. */
const MAX_DIRTY = 100_000;

export class KeySync {
  /** Keys whose copy on a backend may be stale (a failed sync and delete), per backend. */
  readonly #dirty = new Map<Backend, Map<string, Buffer>>();
  #dirtyTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly counters: RouteCounters,
    /** Whether this sidecar's phase is current (the route's view). */
    readonly current: () => boolean = () => true,
    /**
     * Whose `key` is on `b` now: 'other' (b is not the authority: deleting there is safe), 'owner'
     * (b is the authority, with another owner still there), 'sole' (the migration is over).
     */
    readonly role: (key: Buffer, b: Backend) => 'other' | 'owner' | 'sole' = () => 'other',
  ) {}

  async backfill(key: Buffer, from: Backend, to: Backend): Promise<unknown> {
    const r = await copyKey(BackendMeta.of(from), BackendMeta.of(to), Buffer.from(key), { proceed: this.current });
    if (r.outcome === 'copied') this.counters.backfilled++;
    else if (r.outcome === 'error') this.counters.backfillErrors++;
    return r;
  }

  async sync(key: Buffer, from: Backend, to: Backend): Promise<SyncOutcome> {
    const copy = Buffer.from(key);
    const outcome = await syncKey(BackendMeta.of(from), BackendMeta.of(to), copy, { proceed: this.current });
    if (outcome === 'raced') this.counters.raced++;
    else if (outcome === 'error' || outcome === 'source_error') {
      // After a stall the error may be a request that timed out only because this process stood still,
      // and the other owner may have taken newer writes meanwhile: not ours to delete. The caller decides again.
      if (!this.current()) return 'stale';
      this.counters.syncErrors++;
      // The other owner may keep an older value: drop it (a miss is safe).
      await this.drop(copy, to);
    }
    return outcome;
  }

  /**
   * Deletes `key` on `on`; if it cannot be reached, remembers the key: reads of it skip that owner,
   * and the delete is retried until it lands.
   */
  async drop(key: Buffer, on: Backend): Promise<void> {
    const dropped = await BackendMeta.of(on).md(key, '').then(
      (r) => r.status === 'HD' || r.status === 'NF',
      () => false,
    );
    if (!dropped) this.#markDirty(key, on);
  }

  #markDirty(key: Buffer, on: Backend): void {
    let keys = this.#dirty.get(on);
    if (keys === undefined) this.#dirty.set(on, (keys = new Map()));
    if (keys.size < MAX_DIRTY) keys.set(key.toString('latin1'), key);
    else this.counters.dirtyOverflow++;
    this.#dirtyTimer ??= setInterval(() => void this.#retryDirty(), 1_000);
    this.#dirtyTimer.unref();
  }

  /** Stops the retried deletes (the route's migration stopped here); the keys are forgotten. */
  close(): void {
    if (this.#dirtyTimer !== null) clearInterval(this.#dirtyTimer);
    this.#dirtyTimer = null;
    this.#dirty.clear();
  }

  /** The key may be stale on `b` (reads go to the other owner). */
  isDirty(key: Buffer, b: Backend): boolean {
    return this.#dirty.size > 0 && (this.#dirty.get(b)?.has(key.toString('latin1')) ?? false);
  }

  async #retryDirty(): Promise<void> {
    for (const [b, keys] of this.#dirty) {
      if (b.state !== 'up' && [...keys.values()].every((k) => this.role(k, b) !== 'sole')) continue;
      for (const [id, key] of [...keys].slice(0, 1_000)) {
        const role = this.role(key, b);
        if (role === 'sole') keys.delete(id);
        if (role !== 'other') continue;
        const ok = await BackendMeta.of(b).md(key, '').then(
          (r) => r.status === 'HD' || r.status === 'NF',
          () => false,
        );
        if (ok) keys.delete(id);
      }
      if (keys.size === 0) this.#dirty.delete(b);
    }
    if (this.#dirty.size === 0 && this.#dirtyTimer !== null) {
      clearInterval(this.#dirtyTimer);
      this.#dirtyTimer = null;
    }
  }
}
