/**
 * What happens when a backend of a replica group comes (back) up. It serves no reads until this
 * is done (it is `held`: the read order puts it last), then:
 *
 *   up ─► identity (stats: pid, time − uptime) ─► rebuilt already? ─► no sync needed ─► replay the log
 *                                               └► sync needed ─► lease ─► leader: syncServers, then replay
 *                                                                      └► follower: wait for the leader
 *
 * A full rebuild (the copy engine: copy from a healthy group, then verify) is needed when
 * - the backend restarted: its start time (`time − uptime`) or pid changed since memshift last saw it;
 * - the failed-write log marked it (overflow, lost log, I/O error): what it missed is unknown.
 * (A backend that restarted while no memshift watched it is not detected: run `memshift sync`.)
 *
 * The source group must stay healthy for the whole rebuild: verify makes the target equal to the
 * source, so a source that misses writes meanwhile (a backend TKO, stopped, or logging failed
 * writes) would teach the target its gaps. The rebuild is aborted then, and retried later.
 *
 * Several sidecars see the same restart. The first to `add` the lease key on the returning backend
 * itself runs the rebuild and touches the lease while it runs; the others keep the backend held
 * and poll until the leader writes the done key (or the lease lapses, and one of them takes over).
 * Both keys carry the backend's start time, so a later restart is a new rebuild. Keys under
 * `__memshift__` are memshift's own: rebuilds neither copy nor sweep them.
 */
import type { Backend } from '../backend/index.js';
import type { Logger } from '../observability/logger.js';
import type { PoolConfig } from '../config/types.js';
import { RESERVED_PREFIX, ReplyKind, isPrefix, isReserved, parseValues } from '../protocol/index.js';
import { Progress, syncServers, type ProgressSnapshot } from '../copy/index.js';
import { backendRequest, backendStats, endpointOf, line } from '../backend/index.js';
import type { Replay } from './replay.js';
import type { WriteLog } from './write-log.js';
import { sleep } from '../backend/clock.js';

const LEASE_TTL_SEC = 30;
const DONE_TTL_SEC = 3_600;

export interface SyncStatus {
  state: 'running' | 'following' | 'done' | 'failed';
  /** leader: this process copies; follower: another memshift does, this one waits. */
  role: 'leader' | 'follower';
  reason: string;
  /** The group copied from. */
  source: string | null;
  startedAt: number;
  finishedAt: number | null;
  progress: ProgressSnapshot | null;
  error?: string;
}

/** A finished rebuild, as the history of runs takes it. */
export interface RebuildRun {
  kind: 'rebuild';
  pool: string;
  id: string;
  from: string[];
  to: string[];
  progress: ProgressSnapshot;
  ok: boolean;
  note?: string;
  endedAt: number;
}

/**
 * Where a finished rebuild is recorded: the history of migrations, syncs and rebuilds that every
 * sidecar's GET /migration/history shows. migration/ keeps it (history.ts, history-store.ts:
 * rebuildHistory), and the assembly passes it in (app/generation.ts), so replication/ does not
 * import migration/.
 */
export interface RebuildHistory {
  /** Adds the run to this process's history. */
  finished(run: RebuildRun): RecordedRebuild;
}

export interface RecordedRebuild {
  /** The run's result, as the history keeps it (logged whole). */
  readonly result: { readonly outcome: string };
  /** The result in one line, for the log. */
  readonly line: string;
  /** Writes the pool's history, this result first, to `servers` (where every sidecar reads it). */
  store(servers: readonly Backend[]): Promise<unknown>;
}

export interface RecoveryDeps {
  pool: PoolConfig;
  /** backends[group][server], in ring order. */
  backends: readonly (readonly Backend[])[];
  /** The group's owner of a key now (its ring, or a migration's or failover's remap of it). */
  ownerIn: (group: number, key: Buffer) => Backend;
  /** The group's servers in its ring now (less those a failover took out). */
  inRing: (group: number) => readonly Backend[];
  log: WriteLog;
  replay: Replay;
  history: RebuildHistory;
  /** Backends that serve no reads; recovery adds and removes them. */
  held: Set<Backend>;
  logger: Logger;
  /** Names this process in lease values (logs only). */
  instance: string;
  retryMinMs?: number;
  pollMs?: number;
  /** How often backends that are up are checked for a resync flag (default 5000). */
  resyncCheckMs?: number;
}

interface Need {
  reason: string;
  /** Run without the lease: only this process's log lost writes. */
  solo: boolean;
}

interface Identity {
  started: number;
  pid: string;
}


export class Recovery {
  /** The last sync of each backend (running or finished), for GET /replication. */
  readonly syncs = new Map<Backend, SyncStatus>();
  readonly counters = { syncs: 0, syncFailures: 0, restarts: 0, followed: 0 };
  readonly #d: RecoveryDeps;
  readonly #identity = new Map<Backend, Identity>();
  readonly #busy = new Set<Backend>();
  /** Backends that came up again while their recovery ran: recovered again when it ends. */
  readonly #again = new Set<Backend>();
  readonly #abort = new AbortController();

  readonly #watch: NodeJS.Timeout;

  constructor(deps: RecoveryDeps) {
    this.#d = deps;
    // A log can lose writes while its backend stays up (a full disk): rebuild without waiting for an up.
    this.#watch = setInterval(() => {
      deps.backends.forEach((servers, g) => {
        for (const b of servers) if (b.state === 'up' && deps.log.needsResync(b.address)) this.onUp(g, b);
      });
    }, deps.resyncCheckMs ?? 5_000);
    this.#watch.unref();
  }

  /**
   * A backend of `group` is up (first connect, reconnect, good probe). One that comes up again while
   * its recovery still runs (it went down and came back during a replay: maybe restarted, empty) is
   * recovered again once that run ends, so the restart is not missed.
   */
  onUp(group: number, backend: Backend): void {
    if (this.#abort.signal.aborted) return;
    if (this.#busy.has(backend)) {
      this.#again.add(backend);
      return;
    }
    this.#busy.add(backend);
    this.#d.held.add(backend);
    void this.#recover(group, backend)
      .catch((err: unknown) => this.#d.logger.error({ backend: backend.address, err: (err as Error).message }, 'recovery failed'))
      .finally(() => {
        this.#busy.delete(backend);
        this.#d.held.delete(backend);
        if (this.#again.delete(backend) && backend.state === 'up') this.onUp(group, backend);
      });
  }

  close(): void {
    clearInterval(this.#watch);
    this.#abort.abort();
  }

  async #recover(group: number, backend: Backend): Promise<void> {
    let delay = this.#d.retryMinMs ?? 1_000;
    while (!this.#abort.signal.aborted && backend.state === 'up') {
      const need = await this.#syncReason(backend);
      if (need === undefined) return; // no answer: it is down again; the next up starts over
      if (need === null || (await this.#sync(group, backend, need))) {
        await this.#d.replay.run(group, backend);
        return;
      }
      await sleep(delay);
      delay = Math.min(delay * 2, 60_000);
    }
  }

  /**
   * Why `backend` needs a full rebuild, and whether this process must run it alone (its own log lost
   * writes after another memshift's rebuild); null when it needs none; undefined when it did not answer.
   */
  async #syncReason(backend: Backend): Promise<Need | null | undefined> {
    const stats = await backendStats(backend);
    if (stats === null) return undefined;
    const id: Identity = { started: Number(stats.get('time')) - Number(stats.get('uptime')), pid: stats.get('pid') ?? '' };
    const before = this.#identity.get(backend);
    this.#identity.set(backend, id);
    const lease = await this.#leaseState(backend, id);
    if (lease === undefined) return undefined;
    const lostLog = this.#d.log.needsResync(backend.address);
    if (lease === 'done') return lostLog ? { reason: 'its failed-write log overflowed or was lost', solo: true } : null;
    if (lease === 'running') return { reason: 'another memshift is rebuilding it', solo: false };
    if (lostLog) return { reason: 'its failed-write log overflowed or was lost', solo: true };
    if (before !== undefined && (before.started !== id.started || before.pid !== id.pid)) {
      this.counters.restarts++;
      return { reason: 'it restarted (uptime reset)', solo: false };
    }
    return null;
  }

  #keys(id: Identity): { lease: string; done: string } {
    const base = `${RESERVED_PREFIX}:resync:${id.started}:${id.pid}`;
    return { lease: `${base}:lease`, done: `${base}:done` };
  }

  /** 'done', 'running' (a lease without done), 'none'; undefined when the backend did not answer. */
  async #leaseState(backend: Backend, id: Identity): Promise<'done' | 'running' | 'none' | undefined> {
    const k = this.#keys(id);
    const r = await backendRequest(backend, line(`get ${k.lease} ${k.done}`), ReplyKind.Retrieval);
    if (r === null) return undefined;
    const items = parseValues(r);
    if (items.has(k.done)) return 'done';
    return items.has(k.lease) ? 'running' : 'none';
  }

  async #store(backend: Backend, cmd: 'add' | 'set', key: string, ttl: number, value: string): Promise<Buffer | null> {
    return backendRequest(backend, Buffer.concat([line(`${cmd} ${key} 0 ${ttl} ${value.length}`), line(value)]), ReplyKind.Line);
  }

  /** Rebuild `backend` (or wait for the memshift that does); true when it is complete. */
  async #sync(group: number, backend: Backend, { reason, solo }: Need): Promise<boolean> {
    const d = this.#d;
    const id = this.#identity.get(backend)!;
    const k = this.#keys(id);
    const status: SyncStatus = { state: 'following', role: 'follower', reason, source: null, startedAt: Date.now(), finishedAt: null, progress: null };
    this.syncs.set(backend, status);
    const finish = (ok: boolean, error?: string): boolean => {
      status.state = ok ? 'done' : 'failed';
      status.finishedAt = Date.now();
      if (error !== undefined) status.error = error;
      return ok;
    };
    // Writes this process misses from now on are logged again; the rebuild covers the earlier ones.
    await d.log.clearResync(backend.address);
    // Take the lease, or follow whoever holds it until it is done or lapses.
    while (!solo) {
      if (this.#abort.signal.aborted || backend.state !== 'up') return finish(false, 'the backend went down');
      const r = await this.#store(backend, 'add', k.lease, LEASE_TTL_SEC, d.instance);
      if (r === null) return finish(false, 'the backend did not answer');
      if (isPrefix(r, 0, 'STORED')) break;
      this.counters.followed++;
      d.logger.info({ backend: backend.address, reason }, 'another memshift is rebuilding this backend; waiting for it');
      let state: 'done' | 'running' | 'none' | undefined;
      do {
        await sleep(d.pollMs ?? 1_000);
        state = await this.#leaseState(backend, id);
      } while (state === 'running' && !this.#abort.signal.aborted);
      if (state === 'done') return finish(true);
      if (state === undefined) return finish(false, 'the backend did not answer');
    }
    status.role = 'leader';
    status.state = 'running';
    const source = this.#healthySource(group);
    if (source === null) {
      if (!solo) await backendRequest(backend, line(`delete ${k.lease}`), ReplyKind.Line);
      return finish(false, 'no healthy group to copy from');
    }
    status.source = d.pool.groups[source]!.name;
    this.counters.syncs++;
    const server = d.pool.groups[group]!.servers[d.backends[group]!.indexOf(backend)]!;
    const progress = new Progress();
    const sources = d.inRing(source);
    const logged = sources.map((b) => d.log.pending(b.address));
    const abort = new AbortController();
    const onClose = (): void => abort.abort();
    this.#abort.signal.addEventListener('abort', onClose);
    const watch = setInterval(() => {
      const bad = sources.find((b, i) => b.state !== 'up' || d.held.has(b) || d.log.pending(b.address) > logged[i]! || d.log.needsResync(b.address));
      if (bad !== undefined && !abort.signal.aborted) {
        status.error = `source ${bad.address} stopped being healthy`;
        abort.abort();
      }
    }, 100);
    watch.unref();
    const renew = setInterval(() => void backendRequest(backend, line(`touch ${k.lease} ${LEASE_TTL_SEC}`), ReplyKind.Line), (LEASE_TTL_SEC * 1000) / 3);
    renew.unref();
    d.logger.warn({ backend: backend.address, reason, from: status.source }, 'rebuilding backend from a healthy group');
    try {
      const report = await syncServers({
        sources: sources.map((b) => endpointOf(d.pool.groups[source]!.servers[d.backends[source]!.indexOf(b)]!)),
        target: endpointOf(server),
        filter: (key) => !isReserved(key) && d.ownerIn(group, key) === backend,
        rateKeysPerSec: d.pool.resync.rateKeysPerSec,
        watchEventLoop: true,
        verify: true,
        // The sync window: writes in flight when the copy ends land (or fail and are logged) within
        // the pool's timeout, on every sidecar; verify starts after them.
        beforeVerify: () => sleep(d.pool.timeoutMs),
        signal: abort.signal,
        progress,
        onProgress: (snap) => {
          status.progress = snap;
        },
      });
      status.progress = report.progress;
      const c = report.progress.counts;
      const t = report.progress.durations;
      const failure = report.ok ? undefined : report.aborted ? (status.error ?? 'aborted') : (report.errors.sample[0] ?? 'verify did not converge');
      const recorded = d.history.finished({
        kind: 'rebuild',
        pool: d.pool.name,
        id: `rebuild-${d.pool.groups[group]!.name}-${backend.address}`,
        from: sources.map((b) => `${status.source!}/${b.address}`),
        to: [`${d.pool.groups[group]!.name}/${backend.address}`],
        progress: report.progress,
        ok: report.ok,
        ...(failure === undefined ? {} : { note: failure }),
        endedAt: Date.now(),
      });
      const { result } = recorded;
      d.logger.info({ backend: backend.address, ok: report.ok, ...c, ...t, result }, `backend rebuild ${result.outcome}: ${recorded.line}`);
      // Every sidecar's GET /migration/history shows it (migration/history.ts).
      await recorded.store([...new Set(d.backends.flat())]);
      if (failure !== undefined) throw new Error(failure);
      await this.#store(backend, 'set', k.done, DONE_TTL_SEC, d.instance);
      return finish(true);
    } catch (err) {
      this.counters.syncFailures++;
      d.log.markResync(backend.address, 'rebuild failed');
      d.logger.error({ backend: backend.address, err: (err as Error).message }, 'backend rebuild failed; will retry');
      return finish(false, (err as Error).message);
    } finally {
      clearInterval(renew);
      clearInterval(watch);
      this.#abort.signal.removeEventListener('abort', onClose);
      if (!solo) await backendRequest(backend, line(`delete ${k.lease}`), ReplyKind.Line);
    }
  }

  /** The first other group whose backends in its ring are all up and not held; null when there is none. */
  #healthySource(group: number): number | null {
    const d = this.#d;
    for (let g = 0; g < d.backends.length; g++) {
      if (g !== group && d.inRing(g).every((b) => b.state === 'up' && !d.held.has(b))) return g;
    }
    return null;
  }
}
