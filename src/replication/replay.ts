/**
 * Replay of the failed-write log when a backend comes back (DESIGN: never lose
 * an acknowledged write). While it runs, the backend serves no reads (the read
 * order puts it last), so no client reads a value it missed.
 * - every logged key, set or delete, is replayed by copying the CURRENT value
 *   from a healthy group (value, flags and remaining TTL), never an old value;
 *   when no healthy group has the key, it is deleted on the returning backend,
 *   and so it is when the backend no longer owns the key (its group's ring
 *   changed since: a migration or a failover).
 *   (A delete is not replayed as a delete: another sidecar, whose own log did
 *   not have it, may have written the key again through the backend since, and
 *   the healthy group has whichever came last.)
 * A write that timed out may still be applied late by a backend that was only
 * stopped (SIGSTOP keeps it in its socket buffer). memshift replays on a fresh
 * connection that has answered a `version` probe, and then replays the same keys
 * a second time after `graceMs`, so a late write is overwritten by the current
 * value. The copy is syncKey (src/copy) over the proxy's own connections; keys go in meta
 * commands, base64-encoded where they must be, so any key bytes work.
 */
import type { Backend } from '../backend/index.js';
import { backendRequest as request, line } from '../backend/index.js';
import { ReplyKind } from '../protocol/index.js';
import { BackendMeta, syncKey } from '../copy/index.js';
import type { Logger } from '../observability/logger.js';
import type { WriteLog } from './write-log.js';

/** Where replay finds the current value of a key, and what it may read. */
export interface ReplaySource {
  /** The other groups' owners of `key`, in read order, that are up and not replaying. */
  sourcesFor(group: number, key: Buffer): Backend[];
  /** The group's owner of `key` now. */
  ownerIn(group: number, key: Buffer): Backend;
}

export class Replay {
  readonly counters = { replays: 0, replayed: 0, copied: 0, deleted: 0, failed: 0 };

  constructor(
    readonly log: WriteLog,
    readonly source: ReplaySource,
    readonly logger: Logger,
    readonly graceMs = 2_000,
  ) {}

  /**
   * Replay what a backend of `group` missed. The caller runs one replay per backend at a time and
   * keeps the backend out of the read order meanwhile (recovery.ts).
   */
  async run(group: number, backend: Backend): Promise<void> {
    if (this.log.pending(backend.address) === 0) return;
    this.counters.replays++;
    const t0 = Date.now();
    try {
      const seen: Buffer[] = [];
      for await (const batch of this.log.drain(backend.address, 500)) {
        await Promise.all(batch.map((e) => this.#copy(group, backend, e.key)));
        for (const e of batch) seen.push(Buffer.from(e.key)); // not a view of the log's read chunk
      }
      // A write the stopped backend applies late is overwritten by the current value.
      await new Promise((r) => setTimeout(r, this.graceMs));
      for (let i = 0; i < seen.length; i += 500) await Promise.all(seen.slice(i, i + 500).map((k) => this.#copy(group, backend, k)));
      this.logger.info({ backend: backend.address, keys: this.counters.replayed, ms: Date.now() - t0 }, 'failed-write log replayed');
    } catch (err) {
      this.logger.error({ backend: backend.address, err: (err as Error).message }, 'replay failed');
    }
  }

  async #delete(target: Backend, key: Buffer): Promise<void> {
    this.counters.replayed++;
    const r = await request(target, line(`md ${key.toString('base64')} b`), ReplyKind.Meta);
    if (r === null) this.counters.failed++;
    else this.counters.deleted++;
  }

  /**
   * Copy the current value from the first healthy group that answers; delete when none has it. A
   * client may write the key (to every group) while this runs: syncKey reads the source's CAS again
   * after writing the target and drops our write if it moved, and then the copy is redone, so an
   * older value never wins.
   */
  async #copy(group: number, target: Backend, key: Buffer): Promise<void> {
    this.counters.replayed++;
    // The group's ring changed since the write was missed (a migration or a failover): the key is
    // not the backend's any more, and a copy there would be a stray one nothing keeps current.
    if (this.source.ownerIn(group, key) !== target) {
      await this.#delete(target, key);
      this.counters.replayed--;
      return;
    }
    for (let round = 0; round < 5; round++) {
      const src = this.source.sourcesFor(group, key)[0];
      if (src === undefined) break;
      const outcome = await syncKey(BackendMeta.of(src), BackendMeta.of(target), key);
      if (outcome === 'synced') {
        this.counters.copied++;
        return;
      }
      if (outcome === 'deleted') {
        this.counters.deleted++; // the healthy group has no such key
        return;
      }
      // raced (the source changed meanwhile) or error (try again, maybe another group)
    }
    await this.#delete(target, key);
    this.counters.replayed--;
  }
}
