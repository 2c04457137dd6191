/**
 * The commands memshift answers itself rather than forwarding by key:
 *
 *   version     the lowest version among the backends that told theirs (FALLBACK_MEMCACHED_VERSION
 *               while none has)
 *   stats       memshift's counters in memcached's format; `stats backends`: one block per server;
 *               `stats reset`: the counters start again; any other sub-command: ERROR
 *   flush_all   sent to every backend (one connection each), answered OK or the first error;
 *               refused when the config disables it or while a migration runs
 *
 * (`verbosity` never gets here: the parser answers it, protocol/commands.ts.)
 */
import type { PoolConfig } from '../config/types.js';
import { R, writeFlushAll, ReplyKind, type Request } from '../protocol/index.js';
import { Op, type Backend, type BackendPool } from '../backend/index.js';
import { FanoutSlot, LocalSlot, type Slot, type SlotOwner } from './reply-slots.js';
import type { ProxyStats } from './stats.js';
import { MEMSHIFT_VERSION } from '../version.js';

/** The VERSION memshift reports when no backend has told its own yet. */
export const FALLBACK_MEMCACHED_VERSION = '1.6.0';

/** The lowest memcached version among the backends whose connections are up and told theirs. */
export function memcachedVersion(backends: readonly Backend[]): string {
  let best: number[] | null = null;
  let text = FALLBACK_MEMCACHED_VERSION;
  for (const b of backends) {
    for (const c of b.connections) {
      if (c.version === null || c.state !== 'up') continue;
      const parts = c.version.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
      if (best === null || compareVersions(parts, best) < 0) {
        best = parts;
        text = c.version;
      }
    }
  }
  return text;
}

/** The reply to `version`. */
export function versionReply(backends: readonly Backend[]): Buffer {
  return Buffer.from(`VERSION ${memcachedVersion(backends)}\r\n`);
}

/** The reply to `stats` with sub-command `sub` ('' for plain stats). */
export function statsReply(sub: string, stats: ProxyStats, pools: readonly PoolConfig[], backends: BackendPool): Buffer {
  switch (sub) {
    case '':
      return Buffer.from(
        stats.format(memcachedVersion(backends.all), [
          ['memshift_version', MEMSHIFT_VERSION],
          ['memshift_pools', pools.length],
          ['memshift_backends', backends.all.length],
          ['memshift_backends_up', backends.all.filter((b) => b.state === 'up').length],
        ]),
      );
    case 'backends':
      return Buffer.from(backendStats(pools, backends.byPool));
    case 'reset':
      stats.reset();
      return R.RESET;
    default:
      return R.ERROR;
  }
}

/**
 * flush_all on every one of `targets`, unless `enabled` is false or `migrationRunning()` says a
 * migration runs (it would empty what the copy is moving).
 */
export function flushAll(req: Request, owner: SlotOwner, stats: ProxyStats, targets: readonly Backend[], enabled: boolean, migrationRunning: () => boolean): Slot {
  stats.cmdFlush++;
  if (!enabled) return new LocalSlot(owner, req.noreply ? null : R.FLUSH_ALL_DISABLED);
  if (migrationRunning()) return new LocalSlot(owner, req.noreply ? null : R.FLUSH_ALL_MIGRATING);
  const slot = new FanoutSlot(owner, req, targets.length, stats);
  for (const b of targets) {
    // One connection per backend is enough: flush_all acts on the whole server.
    const conn = b.connections[0]!;
    const op = new Op(slot, ReplyKind.Line, 0);
    const refused = conn.refuse();
    if (refused !== null) {
      slot.onOpError(op, refused);
      continue;
    }
    conn.push(op);
    writeFlushAll(conn.writer, req);
  }
  return slot;
}

/** `stats backends`: per server of every pool (`byPool[pool][server]`), its state and counters. */
function backendStats(pools: readonly PoolConfig[], byPool: readonly (readonly Backend[])[]): string {
  const lines: string[] = [];
  pools.forEach((pool, p) => {
    pool.servers.forEach((server, s) => {
      const b = byPool[p]![s]!;
      let requests = 0;
      let errors = 0;
      let refused = 0;
      let timeouts = 0;
      let inFlight = 0;
      for (const c of b.connections) {
        requests += c.counters.requests;
        errors += c.counters.errors;
        refused += c.counters.refused;
        timeouts += c.counters.timeouts;
        inFlight += c.inFlight;
      }
      const name = `${pool.name}:${server.name ?? server.address}`;
      lines.push(
        `STAT ${name}:address ${server.address}`,
        `STAT ${name}:state ${b.state}`,
        `STAT ${name}:version ${b.version ?? '-'}`,
        `STAT ${name}:weight ${server.weight}`,
        `STAT ${name}:connections ${b.connections.length}`,
        `STAT ${name}:requests ${requests}`,
        `STAT ${name}:errors ${errors}`,
        `STAT ${name}:refused ${refused}`,
        `STAT ${name}:timeouts ${timeouts}`,
        `STAT ${name}:in_flight ${inFlight}`,
      );
    });
  });
  return lines.map((l) => `${l}\r\n`).join('') + 'END\r\n';
}

function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
