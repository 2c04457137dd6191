/**
 * The migration's admin endpoints:
 *   GET  /migration                      status (id, phase, counts, t_copy_s … t_total_s); {"phase": null} when none ran
 *   GET  /migration/history[?pool=P]     {"history": [...]}: the last 50 finished or aborted migrations, syncs and
 *                                        rebuilds (of the pool, with one), newest first (history.ts), read from the
 *                                        pools' servers at most once a second; bearer token off loopback
 *   POST /migration/{start,pause,resume,abort}   body {"pool": "..."} or {"id": "..."} when several
 *                                        migrations are configured (a route migration's pool is the route's); bearer token
 *   POST /migration/probe                the rates `memshift plan` estimates from, measured here (probe-endpoint.ts)
 * A control action goes through the shared record, so every sidecar sees it; one the phase does
 * not allow (an abort after cutover) answers 409 with the reason.
 */
import { AdminHttpError, type AdminEndpoints } from '../admin/index.js';
import type { Migration } from './runtime.js';
import type { MigrationStatus } from './status.js';
import { PhaseError } from './phases.js';
import { registerProbe } from './probe-endpoint.js';
import { processHistory } from './history.js';
import { readHistory, type ItemServer } from './history-store.js';

/** Each pool's servers, where its history item is read (its current config's). */
export type HistorySources = () => readonly { pool: string; servers: readonly ItemServer[] }[];

/** How long a pool's history read answers GET /migration/history before the item is read again. */
export const HISTORY_MAX_AGE_MS = 1_000;

/**
 * One read per key at a time, and its result reused for `maxAgeMs` after it ends: requests at once
 * share the read in flight, those just after it take its result. `keep` names the keys still
 * wanted (the others are forgotten), so what it remembers stays bounded by them.
 */
export class SharedReads {
  readonly #last = new Map<string, { read: Promise<void>; endedAt: number | null }>();

  constructor(
    private readonly read: (key: string) => Promise<void>,
    private readonly maxAgeMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Resolves once `key` was read at most `maxAgeMs` ago (never rejects: a failed read is a read). */
  get(key: string): Promise<void> {
    const had = this.#last.get(key);
    if (had !== undefined && (had.endedAt === null || this.now() - had.endedAt < this.maxAgeMs)) return had.read;
    const entry: { read: Promise<void>; endedAt: number | null } = { read: Promise.resolve(), endedAt: null };
    entry.read = this.read(key)
      .catch(() => undefined)
      .then(() => {
        entry.endedAt = this.now();
      });
    this.#last.set(key, entry);
    return entry.read;
  }

  /** Forgets the keys not in `keys` (pools a reload removed). */
  keep(keys: ReadonlySet<string>): void {
    for (const k of this.#last.keys()) if (!keys.has(k)) this.#last.delete(k);
  }
}

/**
 * Reads the pools' history items into this process's history (`pool`'s only, with one), each pool's
 * at most once a HISTORY_MAX_AGE_MS: GET /migration/history called at once or in a burst does not
 * read every item from every server of every pool each time.
 */
export function historyReader(sources: HistorySources): (pool?: string) => Promise<void> {
  const reads = new SharedReads(async (pool) => {
    const s = sources().find((x) => x.pool === pool);
    if (s !== undefined) processHistory.add(await readHistory(s.servers, s.pool));
  }, HISTORY_MAX_AGE_MS);
  return async (pool) => {
    const names = sources().map((s) => s.pool);
    reads.keep(new Set(names));
    await Promise.all(names.filter((p) => pool === undefined || p === pool).map((p) => reads.get(p)));
  };
}

const ACTIONS = ['start', 'pause', 'resume', 'abort'] as const;

export function migrationStatus(migrations: readonly Migration[]): { phase: null } | (MigrationStatus & { pools: MigrationStatus[] }) {
  const all = migrations.map((m) => m.status());
  const shown = all.find((s) => s.phase !== null);
  if (shown === undefined) return { phase: null };
  return { ...shown, pools: all };
}

/** `list` gives the migrations at request time (a failover adds one while memshift runs). */
export function registerMigration(admin: AdminEndpoints, list: () => readonly Migration[], loadHistory: (pool?: string) => Promise<void> = async () => undefined): void {
  admin.get('/migration', () => ({ status: 200, body: migrationStatus(list()) }));
  /** The migration named by `id` (and `pool`), else the pool's (the only one when no pool is named); 404 otherwise. */
  const find = (pool: string | undefined, id?: string): Migration => {
    const migrations = list();
    const m =
      id !== undefined
        ? migrations.find((x) => x.id === id && (pool === undefined || x.pool.name === pool))
        : pool === undefined
          ? migrations.length === 1
            ? migrations[0]
            : undefined
          : migrations.find((x) => x.pool.name === pool);
    if (m !== undefined) return m;
    if (id !== undefined) throw new AdminHttpError(404, `no migration "${id}"; migrations are ${migrations.map((x) => `"${x.id}"`).join(', ') || 'none'}`);
    const known = migrations.map((x) => x.pool.name);
    throw new AdminHttpError(404, known.length === 0 ? 'no pool has a migration configured' : `name the pool: {"pool": one of ${known.map((n) => `"${n}"`).join(', ')}}`);
  };
  registerProbe(admin, find);
  // It shows the servers' addresses, as /backends and /config do: the token off loopback.
  admin.getGuarded('/migration/history', async (req) => {
    const pool = req.query.get('pool') ?? undefined;
    await loadHistory(pool);
    return { status: 200, body: { history: processHistory.list(pool) } };
  });
  for (const action of ACTIONS) {
    admin.post(`/migration/${action}`, async (req) => {
      const body = (req.body ?? {}) as { pool?: unknown; id?: unknown };
      const m = find(typeof body.pool === 'string' ? body.pool : undefined, typeof body.id === 'string' ? body.id : undefined);
      try {
        await m.apply({ type: action });
        return { status: 200, body: m.status() };
      } catch (err) {
        if (err instanceof PhaseError) throw new AdminHttpError(409, err.message);
        throw err;
      }
    });
  }
}
