/**
 * Replay of the failed-write log when a backend comes back (DESIGN: never lose
 * an acknowledged write). While it runs, the backend serves no reads (the read
 * order puts it last), so no client reads a value it missed.
 * - a logged delete is replayed as a delete;
 * - a logged set is replayed by copying the CURRENT value from a healthy group
 *   (value, flags and remaining TTL), never an old value; when no healthy group
 *   has the key, it is deleted on the returning backend.
 * A write that timed out may still be applied late by a backend that was only
 * stopped (SIGSTOP keeps it in its socket buffer). memshift replays on a fresh
 * connection that has answered a `version` probe, and then replays the same keys
 * a second time after `graceMs`, so a late write is overwritten by the current
 * value. Keys travel base64-encoded in meta commands, so any key bytes work.
 */
import type { Backend } from '../backend/index.js';
import { backendRequest as request, line } from '../backend/index.js';
import { ReplyKind, isPrefix, tokenNumber } from '../protocol/index.js';
import type { Logger } from '../observability/logger.js';
import type { WriteLog } from './write-log.js';

/** Where replay finds the current value of a key, and what it may read. */
export interface ReplaySource {
  /** The other groups' owners of `key`, in read order, that are up and not replaying. */
  sourcesFor(group: number, key: Buffer): Backend[];
}

const MAX_RELATIVE_TTL = 2_592_000;

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
        await Promise.all(batch.map((e) => (e.op === 'delete' ? this.#delete(backend, e.key) : this.#copy(group, backend, e.key))));
        for (const e of batch) if (e.op === 'set') seen.push(Buffer.from(e.key)); // not a view of the log's read chunk
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
   * client may write the key (to every group) while this runs, so after writing the target the
   * source's CAS is read again: if it moved, the copy is redone, so an older value never wins.
   */
  async #copy(group: number, target: Backend, key: Buffer): Promise<void> {
    this.counters.replayed++;
    const b64 = key.toString('base64');
    for (let round = 0; round < 5; round++) {
      const src = this.source.sourcesFor(group, key)[0];
      if (src === undefined) break;
      const r = await request(src, line(`mg ${b64} b v f t c`), ReplyKind.Meta);
      if (r === null || isPrefix(r, 0, 'SERVER_ERROR')) continue;
      if (!isPrefix(r, 0, 'VA ')) break; // EN: the healthy group has no such key
      const nl = r.indexOf(10);
      const len = tokenNumber(r, 0, nl, 1);
      const head = r.subarray(0, nl).toString('latin1');
      const flags = /\sf(\d+)/.exec(head)?.[1] ?? '0';
      const ttl = Number(/\st(-?\d+)/.exec(head)?.[1] ?? '-1');
      const cas = /\sc(\d+)/.exec(head)?.[1];
      const t = ttl < 0 ? 0 : ttl > MAX_RELATIVE_TTL ? Math.floor(Date.now() / 1000) + ttl : ttl;
      const value = r.subarray(nl + 1, nl + 1 + len);
      const w = await request(target, Buffer.concat([line(`ms ${b64} ${len} b T${t} F${flags}`), value, line('')]), ReplyKind.Meta);
      if (w === null || !isPrefix(w, 0, 'HD')) {
        this.counters.failed++;
        return;
      }
      const again = await request(src, line(`mg ${b64} b c`), ReplyKind.Meta);
      if (again !== null && isPrefix(again, 0, 'HD') && cas !== undefined && /\sc(\d+)/.exec(again.toString('latin1'))?.[1] === cas) {
        this.counters.copied++;
        return;
      }
      if (again !== null && isPrefix(again, 0, 'EN')) break; // deleted meanwhile: delete it here too
    }
    await this.#delete(target, key);
    this.counters.replayed--;
  }
}
