/**
 * The migration's admin endpoints:
 *   GET  /migration                      status (id, phase, counts, t_copy_s … t_total_s); {"phase": null} when none ran
 *   GET  /migration/history[?pool=P]     {"history": [...]}: the last 50 finished or aborted migrations, syncs and
 *                                        rebuilds, newest first (history.ts), read from the pools' servers
 *   POST /migration/{start,pause,resume,abort}   body {"pool": "..."} or {"id": "..."} when several
 *                                        migrations are configured (a route migration's pool is the route's); bearer token
 *   POST /migration/probe                the rates `memshift plan` estimates from, measured here (probe-endpoint.ts)
 * A control action goes through the shared record, so every sidecar sees it; one the phase does
 * not allow (an abort after cutover) answers 409 with the reason.
 */
import { AdminHttpError, type AdminServer } from '../admin/index.js';
import type { Migration, MigrationStatus } from './index.js';
import { PhaseError } from './phases.js';
import { registerProbe } from './probe-endpoint.js';
import { processHistory } from './history.js';
import { readHistory, type ItemServer } from './history-store.js';

/** Each pool's servers, where its history item is read (its current config's). */
export type HistorySources = () => readonly { pool: string; servers: readonly ItemServer[] }[];

/** Reads the history items of the pools (`pool`'s only, with one) into this process's history. */
export async function loadHistory(sources: HistorySources, pool?: string): Promise<void> {
  const wanted = sources().filter((s) => pool === undefined || s.pool === pool);
  processHistory.add((await Promise.all(wanted.map((s) => readHistory(s.servers, s.pool)))).flat());
}

const ACTIONS = ['start', 'pause', 'resume', 'abort'] as const;

export function migrationStatus(migrations: readonly Migration[]): { phase: null } | (MigrationStatus & { pools: MigrationStatus[] }) {
  const all = migrations.map((m) => m.status());
  const shown = all.find((s) => s.phase !== null);
  if (shown === undefined) return { phase: null };
  return { ...shown, pools: all };
}

/** `list` gives the migrations at request time (a failover adds one while memshift runs). */
export function registerMigration(admin: AdminServer, list: () => readonly Migration[], history: HistorySources = () => []): void {
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
  admin.get('/migration/history', async (req) => {
    const pool = req.query.get('pool') ?? undefined;
    await loadHistory(history, pool);
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
