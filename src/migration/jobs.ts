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
import { endpointOf } from '../backend/index.js';
import { MetaClient, Progress, RECONCILE_BATCH, flagValue, scanServer, syncServers, type Endpoint, type ProgressSnapshot, type SyncReport, type VerifyPassReport } from '../copy/index.js';
import { isReserved } from '../protocol/index.js';
import type { ServerSpec } from '../config/types.js';
import type { MovedKeys } from './moved-keys.js';
import type { VerifyPassTime } from './record.js';
import type { MovePart } from './space.js';

const endpoint = (s: ServerSpec): Endpoint => endpointOf(s);

export interface CopyJobOptions {
  arcs: MovedKeys;
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
  /** Asked before every write: false stops the run before it writes (the lease may have lapsed). */
  fence: () => boolean;
}

export function copyAndVerify(o: CopyJobOptions): Promise<SyncReport> {
  const { arcs } = o;
  const { gaining } = arcs.movingServers();
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
    fence: o.fence,
    orphanSweep: gaining.map(endpoint),
    progress: new Progress(),
    onProgress: o.onProgress,
    progressIntervalMs: 500,
    beforeVerify: o.beforeVerify,
    maxVerifyPasses: o.maxVerifyPasses ?? 8,
    ...(o.settleMs === undefined ? {} : { settleMs: o.settleMs }),
  });
}

/** Totals over the parts of a run (the counts summed, the first part's phase and ETA). */
export interface PartsProgress {
  phase: string;
  expected: number | null;
  walked: number;
  etaSec: number | null;
  counts: Record<'scanned' | 'copied' | 'skipped' | 'verified' | 'mismatched' | 'repaired' | 'errors', number>;
}

export interface PartsReport {
  ok: boolean;
  passes: number;
  left: number;
  errorSample: string | undefined;
  /** Each pass: its kind, the keys it checked and swept over the parts, and its time (the slowest part's). */
  passTimes: VerifyPassTime[];
}

/**
 * copyAndVerify over every part (one ring each: a plain pool has one, a replicated pool one per
 * migrating group), side by side, each at its share of the rate. `beforeVerify` runs once, when
 * every part has finished its copy, with the summed counts; a part that fails stops them all.
 */
export async function copyParts(
  parts: readonly MovePart[],
  o: Omit<CopyJobOptions, 'arcs' | 'sources' | 'onProgress' | 'beforeVerify'> & { onProgress: (p: PartsProgress) => void; beforeVerify: (counts: PartsProgress['counts']) => Promise<void> },
): Promise<PartsReport> {
  const snapshots: (ProgressSnapshot | null)[] = parts.map(() => null);
  const arrived: Progress[] = [];
  const local = new AbortController();
  const stop = (): void => local.abort();
  o.signal.addEventListener('abort', stop, { once: true });
  let release!: () => void;
  let fail!: (err: unknown) => void;
  const gate = new Promise<void>((resolve, reject) => {
    release = resolve;
    fail = reject;
  });
  gate.catch(() => undefined);
  // A stopped run must not leave a part waiting at the gate (a part that was aborted before its
  // copy ended never arrives there).
  local.signal.addEventListener('abort', () => fail(new Error('the copy was stopped')), { once: true });
  const sum = (pick: (p: Progress | ProgressSnapshot) => PartsProgress['counts'][keyof PartsProgress['counts']], list: readonly (Progress | ProgressSnapshot | null)[]): number =>
    list.reduce((n, x) => n + (x === null ? 0 : pick(x)), 0);
  const totals = (list: readonly (Progress | ProgressSnapshot | null)[]): PartsProgress['counts'] => {
    const keys = ['scanned', 'copied', 'skipped', 'verified', 'mismatched', 'repaired', 'errors'] as const;
    return Object.fromEntries(keys.map((k) => [k, sum((x) => x.counts[k], list)])) as PartsProgress['counts'];
  };
  try {
    const reports = await Promise.all(
      parts.map((part, i) =>
        copyAndVerify({
          ...o,
          arcs: part.arcs,
          sources: part.copySources(),
          rateKeysPerSec: o.rateKeysPerSec / parts.length,
          ...(o.rateBytesPerSec === undefined ? {} : { rateBytesPerSec: o.rateBytesPerSec / parts.length }),
          signal: local.signal,
          onProgress: (snap) => {
            snapshots[i] = snap;
            const first = snapshots.find((x) => x !== null)!;
            o.onProgress({ phase: first.phase, expected: first.expected, walked: sum((x) => ('walked' in x.counts ? x.counts.walked : 0), snapshots), etaSec: first.etaSec, counts: totals(snapshots) });
          },
          beforeVerify: async (progress) => {
            arrived.push(progress);
            if (arrived.length === parts.length) o.beforeVerify(totals(arrived)).then(release, fail);
            await gate;
          },
        }).catch((err: unknown) => {
          fail(err);
          local.abort();
          throw err;
        }),
      ),
    );
    const verify = reports.map((r) => r.verify);
    if (o.signal.aborted) return { ok: false, passes: 0, left: 0, errorSample: 'stopped', passTimes: [] };
    return {
      ok: reports.every((r) => r.ok && r.verify !== null),
      passes: Math.max(0, ...verify.map((v) => v?.passes.length ?? 0)),
      left: verify.reduce((n, v) => n + (v?.left.count ?? 0), 0),
      errorSample: reports.flatMap((r) => r.errors.sample)[0],
      passTimes: passTimes(verify.map((v) => v?.passes ?? [])),
    };
  } catch (err) {
    if (o.signal.aborted) return { ok: false, passes: 0, left: 0, errorSample: 'stopped', passTimes: [] };
    throw err;
  } finally {
    o.signal.removeEventListener('abort', stop);
    local.abort();
  }
}

/** The parts' passes side by side: pass i's counts summed, its time the slowest part's. */
export function passTimes(parts: readonly (readonly VerifyPassReport[])[]): VerifyPassTime[] {
  const out: VerifyPassTime[] = [];
  for (const passes of parts) {
    passes.forEach((p, i) => {
      const o = (out[i] ??= { kind: p.kind, checked: 0, swept: 0, seconds: 0 });
      o.checked += p.checked;
      o.swept += p.swept;
      o.seconds = Math.max(o.seconds, Math.round(p.durationMs) / 1000);
    });
  }
  return out;
}

/**
 * Lazy copy, before reads move to the new owners: what the new owners hold on moved arcs was
 * dual-written while some sidecars still wrote the old owners only, so each such key is compared
 * with its old owner (`sourceOf`) and a different (or orphaned) version is deleted by its CAS. A miss then reads
 * the old owner and backfills. Resolves to [checked, deleted, errors].
 */
export async function reconcileNew(arcs: MovedKeys, sourceOf: (key: Buffer) => ServerSpec, signal: AbortSignal, fence: () => boolean): Promise<[number, number, number]> {
  const { gaining } = arcs.movingServers();
  const clients = new Map<string, MetaClient>();
  const client = (s: ServerSpec): MetaClient => {
    let c = clients.get(s.address);
    if (c === undefined) clients.set(s.address, (c = new MetaClient(endpoint(s))));
    return c;
  };
  let checked = 0;
  let deleted = 0;
  let errors = 0;
  let fenced = false;
  /** One key: both owners read side by side; a differing (or orphaned) new copy is deleted by its CAS. */
  const check = async (s: ServerSpec, key: Buffer): Promise<void> => {
    try {
      const [n, o] = await Promise.all([client(s).mg(key, 'v f c u'), client(sourceOf(key)).mg(key, 'v f u')]);
      if (n.status !== 'VA') return;
      const same = o.status === 'VA' && o.value !== null && n.value !== null && o.value.equals(n.value) && flagValue(o, 'f') === flagValue(n, 'f');
      if (same || fenced) return;
      if (!fence()) {
        fenced = true;
        return;
      }
      const r = await client(s).md(key, `C${flagValue(n, 'c') ?? ''}`);
      if (r.status === 'HD') deleted++;
    } catch {
      errors++;
    }
  };
  try {
    // RECONCILE_BATCH keys at a time (pipelined on each connection), as the probe times it.
    for (const s of gaining) {
      if (fenced) break;
      const scan = scanServer(endpoint(s), { filter: (k) => !isReserved(k) && arcs.moved(arcs.locate(k)), signal });
      let batch: Buffer[] = [];
      for await (const entry of scan) {
        checked++;
        batch.push(entry.key);
        if (batch.length < RECONCILE_BATCH) continue;
        await Promise.all(batch.map((k) => check(s, k)));
        batch = [];
        if (fenced) break;
      }
      if (!fenced && !signal.aborted) await Promise.all(batch.map((k) => check(s, k)));
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
  /** Asked before each batch of deletes: false stops (the lease may have lapsed). */
  fence: () => boolean;
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
        if (batch.length === 0 && !o.fence()) break;
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

/**
 * Deletes one part's moved keys from its old owners (cleanup) or its new owners (after an abort);
 * resolves to the errors. A metadump can miss an item that moves between LRU segments while it
 * walks: walk again until a pass finds nothing left to delete (at most 3 passes).
 */
export async function cleanPart(part: MovePart, side: 'old' | 'new', signal: AbortSignal, fence: () => boolean, onDeleted: (n: number) => void): Promise<number> {
  const arcs = part.arcs;
  const servers = side === 'old' ? part.losing : arcs.movingServers().gaining;
  let errors = 0;
  for (let pass = 0; pass < 3 && !signal.aborted; pass++) {
    let deleted = 0;
    errors = await deleteMoved({
      servers,
      // Only keys this server held as the old owner (cleanup) or got as the new owner (after an abort).
      filter: (server, k) => {
        const i = arcs.locate(k);
        if (!arcs.moved(i)) return false;
        const owner = side === 'old' ? arcs.oldServers[arcs.oldOwner(i)]! : arcs.newServers[arcs.newOwner(i)]!;
        return owner.address === server.address;
      },
      signal,
      fence,
      onDeleted: (n) => {
        deleted += n;
        onDeleted(n);
      },
    });
    if (deleted === 0 && errors === 0) break;
  }
  return errors;
}
