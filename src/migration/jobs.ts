/**
 * The background work of a migration, run by the lease holder only, each on the copy engine:
 *
 *   copyAndVerify  copy phase: copy every moved key from its old owner to its new owner (CAS-guarded
 *                  add + re-check), then `beforeVerify` (the leader moves to dual_read and waits for
 *                  verify), then verify: a full pass with an orphan sweep of the new owners, and
 *                  incremental passes. `copy: false` runs verify only (lazy copy, or a resumed verify).
 *   deleteMoved    cleanup: delete the moved keys from the old owners (or, after an abort, from the
 *                  new owners), walking each with metadump.
 */
import { MetaClient, Progress, flagValue, scanServer, syncServers, type Endpoint, type ProgressSnapshot, type SyncReport } from '../copy/index.js';
import { isReserved } from '../protocol/index.js';
import type { ServerSpec } from '../config/types.js';
import type { MovedArcs } from './arcs.js';
import { movingServers } from './space.js';

const endpoint = (s: ServerSpec): Endpoint => ({ host: s.host, port: s.port });

export interface CopyJobOptions {
  arcs: MovedArcs;
  /** What the copy reads: the old owners that lose keys, or (a failover) a healthy replica group. */
  sources: readonly ServerSpec[];
  copy: boolean;
  rateKeysPerSec: number;
  rateBytesPerSec?: number;
  signal: AbortSignal;
  onProgress: (snapshot: ProgressSnapshot) => void;
  /** Between copy and verify, with the run's progress (its counts). */
  beforeVerify: (progress: Progress) => Promise<void>;
  maxVerifyPasses?: number;
  settleMs?: number;
}

export function copyAndVerify(o: CopyJobOptions): Promise<SyncReport> {
  const { arcs } = o;
  const { gaining } = movingServers(arcs);
  const targets = arcs.newServers.map(endpoint);
  return syncServers({
    sources: o.sources.map(endpoint),
    target: (key) => targets[arcs.newOwner(arcs.locate(key))]!,
    filter: (key) => !isReserved(key) && arcs.moved(arcs.locate(key)),
    copy: o.copy,
    // Sidecars that had not started dual-writing yet wrote the old owners only: a value already on
    // a new owner is not necessarily newer.
    distrustTarget: true,
    watchEventLoop: true,
    verify: true,
    rateKeysPerSec: o.rateKeysPerSec,
    ...(o.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: o.rateBytesPerSec }),
    signal: o.signal,
    orphanSweep: gaining.map(endpoint),
    progress: new Progress(),
    onProgress: o.onProgress,
    progressIntervalMs: 500,
    beforeVerify: o.beforeVerify,
    maxVerifyPasses: o.maxVerifyPasses ?? 8,
    ...(o.settleMs === undefined ? {} : { settleMs: o.settleMs }),
  });
}

/**
 * Lazy copy, before reads move to the new owners: what the new owners hold on moved arcs was
 * dual-written while some sidecars still wrote the old owners only, so each such key is compared
 * with its old owner (`sourceOf`) and a different (or orphaned) version is deleted by its CAS. A miss then reads
 * the old owner and backfills. Resolves to [checked, deleted, errors].
 */
export async function reconcileNew(arcs: MovedArcs, sourceOf: (key: Buffer) => ServerSpec, signal: AbortSignal): Promise<[number, number, number]> {
  const { gaining } = movingServers(arcs);
  const clients = new Map<string, MetaClient>();
  const client = (s: ServerSpec): MetaClient => {
    let c = clients.get(s.address);
    if (c === undefined) clients.set(s.address, (c = new MetaClient(endpoint(s))));
    return c;
  };
  let checked = 0;
  let deleted = 0;
  let errors = 0;
  try {
    for (const s of gaining) {
      const scan = scanServer(endpoint(s), { filter: (k) => !isReserved(k) && arcs.moved(arcs.locate(k)), signal });
      for await (const entry of scan) {
        checked++;
        try {
          const [n, o] = await Promise.all([client(s).mg(entry.key, 'v f c u'), client(sourceOf(entry.key)).mg(entry.key, 'v f u')]);
          if (n.status !== 'VA') continue;
          const same = o.status === 'VA' && o.value !== null && n.value !== null && o.value.equals(n.value) && flagValue(o, 'f') === flagValue(n, 'f');
          if (same) continue;
          const r = await client(s).md(entry.key, `C${flagValue(n, 'c') ?? ''}`);
          if (r.status === 'HD') deleted++;
        } catch {
          errors++;
        }
      }
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
  return [checked, deleted, errors];
}

export interface DeleteJobOptions {
  servers: readonly ServerSpec[];
  /** Keys to delete from `server` (reserved keys are never deleted). */
  filter: (server: ServerSpec, key: Buffer) => boolean;
  signal: AbortSignal;
  onDeleted: (n: number) => void;
}

/** Deletes every key that passes `filter` from `servers`; resolves to the number of errors. */
export async function deleteMoved(o: DeleteJobOptions): Promise<number> {
  let errors = 0;
  for (const s of o.servers) {
    const client = new MetaClient(endpoint(s));
    try {
      const scan = scanServer(endpoint(s), { filter: (k) => !isReserved(k) && o.filter(s, k), signal: o.signal });
      let batch: Promise<unknown>[] = [];
      for await (const entry of scan) {
        batch.push(
          client.md(entry.key, '').then(
            (r) => {
              if (r.status === 'HD') o.onDeleted(1);
            },
            () => void errors++,
          ),
        );
        if (batch.length >= 64) {
          await Promise.all(batch);
          batch = [];
        }
      }
      await Promise.all(batch);
    } catch {
      if (!o.signal.aborted) errors++;
    } finally {
      client.close();
    }
  }
  return errors;
}
