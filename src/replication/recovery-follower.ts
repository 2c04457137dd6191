/**
 * Recovery in a worker other than worker 0 (`workers: N`, app/cluster). Worker 0 runs the replay
 * and the rebuilds (recovery.ts) for every worker, over the failed-write log it owns; a follower
 * only decides, as a single process would, which backends serve no reads meanwhile (`held`: the
 * read order puts them last). It learns that from worker 0's readiness report:
 *
 *   worker 0, on a change (and when asked): per pool, the backends that are not readable there:
 *                                           not up in worker 0, or held by its recovery
 *   follower: held = what the last report lists, plus every backend that came up here since the
 *             last report that answered this follower's ask
 *
 * So a backend that comes back is held in every worker from its up until worker 0 has seen it up
 * and replayed (or rebuilt) it: a follower never reads a backend worker 0 still replays, nor one
 * worker 0 has not seen come back (its writes there would still fail and be logged). The ask
 * carries the backends that came up here: worker 0 recovers each as it would on an up of its own
 * (its connection may have stayed up, idle, while this worker's writes there failed and went to
 * its log), before it answers. While it waits, a follower asks again every `retryMs` (worker 0 may
 * be restarting; it recovers every backend when it starts anyway).
 */
import type { Backend } from '../backend/index.js';
import type { SyncStatus } from './recovery.js';

/** Worker 0's report: per pool, the addresses of the backends not readable there. */
export type Readiness = Readonly<Record<string, readonly string[]>>;

/** A backend of a pool, by address. */
export interface BackendRef {
  readonly pool: string;
  readonly backend: string;
}

/** What a pool's recovery shows (metrics, GET /replication) and is told (recovery.ts, or a follower's, where no rebuild runs). */
export interface PoolRecovery {
  readonly syncs: ReadonlyMap<Backend, SyncStatus>;
  readonly counters: { readonly syncs: number; readonly syncFailures: number; readonly restarts: number; readonly followed: number };
  onUp(group: number, backend: Backend): void;
  close(): void;
}

interface Followed {
  readonly backends: readonly Backend[];
  readonly held: Set<Backend>;
  /** Came up here since the last answered ask. */
  readonly awaiting: Set<Backend>;
}

export class ReadinessFollower {
  #asked = 0;
  /** The last report (none yet: nothing is known to be unready, but every up waits for an answer). */
  #report: Readiness = {};
  readonly #pools = new Map<string, Followed>();
  #timer: NodeJS.Timeout | null = null;
  /** Backends that came up here since the last ask. */
  #ups: BackendRef[] = [];

  constructor(
    /** Asks worker 0 for a report, telling it which backends came up here; the report that answers it carries `id`. */
    readonly ask: (id: number, ups: readonly BackendRef[]) => void,
    readonly retryMs = 1_000,
  ) {}

  /** Follows pool `name`, whose `held` set the replica groups read. */
  follow(name: string, backends: readonly Backend[], held: Set<Backend>): PoolRecovery {
    const f: Followed = { backends, held, awaiting: new Set() };
    this.#pools.set(name, f);
    this.#apply(name, f);
    return {
      syncs: new Map(),
      counters: { syncs: 0, syncFailures: 0, restarts: 0, followed: 0 },
      onUp: (_group, backend) => {
        f.awaiting.add(backend);
        f.held.add(backend);
        this.#ups.push({ pool: name, backend: backend.address });
        this.#askNow();
      },
      close: () => {
        if (this.#pools.get(name) === f) this.#pools.delete(name);
      },
    };
  }

  /** A report from worker 0; `answer`: the id of this follower's ask it answers, if it does. */
  report(readiness: Readiness, answer?: number): void {
    this.#report = readiness;
    if (answer !== undefined && answer >= this.#asked) for (const f of this.#pools.values()) f.awaiting.clear();
    for (const [name, f] of this.#pools) this.#apply(name, f);
    if (this.#waiting() === 0) this.#stopRetry();
  }

  close(): void {
    this.#stopRetry();
    this.#pools.clear();
  }

  #apply(name: string, f: Followed): void {
    const unready = new Set(this.#report[name] ?? []);
    for (const b of f.backends) {
      const hold = unready.has(b.address) || f.awaiting.has(b);
      if (hold) f.held.add(b);
      else f.held.delete(b);
    }
  }

  #waiting(): number {
    let n = 0;
    for (const f of this.#pools.values()) n += f.awaiting.size;
    return n;
  }

  #askNow(): void {
    const ups = this.#ups;
    this.#ups = [];
    this.ask(++this.#asked, ups);
    this.#timer ??= setInterval(() => {
      if (this.#waiting() === 0) this.#stopRetry();
      else this.ask(++this.#asked, []);
    }, this.retryMs).unref();
  }

  #stopRetry(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }
}

/** Worker 0's report: per pool, the backends that are down there or held by its recovery. */
export function readinessOf(pools: readonly { pool: string; backends: readonly Backend[]; held: ReadonlySet<Backend> }[]): Readiness {
  return Object.fromEntries(pools.map((p) => [p.pool, p.backends.filter((b) => b.state !== 'up' || p.held.has(b)).map((b) => b.address)]));
}
