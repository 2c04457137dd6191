/**
 * The history item of a pool in the cache tier (why there: history.ts):
 *
 *   __memshift__:history:<pool>   JSON: the pool's last 50 results, newest first. Read from every
 *                                 server of the pool (the answers merged); a result is added on
 *                                 each server with gets + cas (add when there is none), so two
 *                                 writers at once both land. Never expires; a cache may evict it.
 *
 * The servers are reached through ItemServer: a sidecar's own connections (backendItems), or the
 * copy engine's (metaItems) for `memshift sync`, which runs without a sidecar.
 */
import { backendRequest, line, type Backend } from '../backend/index.js';
import { flagValue, type MetaClient } from '../copy/index.js';
import { RESERVED_PREFIX, ReplyKind, isPrefix, parseValues } from '../protocol/index.js';
import type { RebuildHistory } from '../replication/recovery.js';
import { mergeResults, processHistory, resultLine, resultOfRun, type MigrationResult } from './history.js';

export const historyKey = (pool: string): string => `${RESERVED_PREFIX}:history:${pool}`;

/** Keeps the item well under memcached's default 1 MB item size: the oldest results go first. */
const MAX_ITEM_BYTES = 256 * 1024;
/** Tries per server when another writer changed the item between our read and write. */
const CAS_TRIES = 5;

/** One server, as the history needs it. */
export interface ItemServer {
  /** The item and its CAS token; null when the server has none; undefined when it did not answer. */
  gets(key: string): Promise<{ value: Buffer; cas: string } | null | undefined>;
  /** Stores the item if its CAS token is still `cas` (null: only if there is none). */
  store(key: string, value: Buffer, cas: string | null): Promise<'stored' | 'changed' | 'failed'>;
}

/** A sidecar's backend (its own connections, TLS and login). */
export function backendItems(b: Backend): ItemServer {
  return {
    async gets(key) {
      const r = await backendRequest(b, line(`gets ${key}`), ReplyKind.Retrieval);
      if (r === null || (!isPrefix(r, 0, 'VALUE') && !isPrefix(r, 0, 'END'))) return undefined;
      const item = parseValues(r).get(key);
      return item === undefined || item.cas === null ? null : { value: Buffer.from(item.value), cas: String(item.cas) };
    },
    async store(key, value, cas) {
      const head = cas === null ? `add ${key} 0 0 ${value.length}` : `cas ${key} 0 0 ${value.length} ${cas}`;
      const r = await backendRequest(b, Buffer.concat([line(head), value, line('')]), ReplyKind.Line);
      if (r === null) return 'failed';
      if (isPrefix(r, 0, 'STORED')) return 'stored';
      return isPrefix(r, 0, 'EXISTS') || isPrefix(r, 0, 'NOT_STORED') || isPrefix(r, 0, 'NOT_FOUND') ? 'changed' : 'failed';
    },
  };
}

/** A copy-engine connection (meta protocol). */
export function metaItems(c: MetaClient): ItemServer {
  const k = (key: string): Buffer => Buffer.from(key, 'latin1');
  return {
    async gets(key) {
      try {
        const r = await c.mg(k(key), 'v c');
        if (r.status === 'EN') return null;
        const cas = flagValue(r, 'c');
        return r.status === 'VA' && r.value !== null && cas !== undefined && cas !== null ? { value: r.value, cas } : undefined;
      } catch {
        return undefined;
      }
    },
    async store(key, value, cas) {
      try {
        const r = await c.ms(k(key), value, cas === null ? 'ME' : `C${cas}`);
        if (r.status === 'HD') return 'stored';
        return r.status === 'NS' || r.status === 'EX' || r.status === 'NF' ? 'changed' : 'failed';
      } catch {
        return 'failed';
      }
    },
  };
}

function parse(value: Buffer): MigrationResult[] {
  try {
    const list = JSON.parse(value.toString('utf8')) as unknown;
    return Array.isArray(list) ? (list as MigrationResult[]).filter((r) => typeof r?.id === 'string' && typeof r.ended_at === 'string') : [];
  } catch {
    return [];
  }
}

/** The item for `results`: at most 50, and the oldest left out until it fits MAX_ITEM_BYTES. */
function encode(results: readonly MigrationResult[]): Buffer {
  let list = mergeResults([results]);
  let body = Buffer.from(JSON.stringify(list), 'utf8');
  while (body.length > MAX_ITEM_BYTES && list.length > 1) {
    list = list.slice(0, Math.max(1, Math.floor(list.length * 0.75)));
    body = Buffer.from(JSON.stringify(list), 'utf8');
  }
  return body;
}

/** The pool's results that any server holds, merged, newest first. */
export async function readHistory(servers: readonly ItemServer[], pool: string): Promise<MigrationResult[]> {
  const key = historyKey(pool);
  const answers = await Promise.all(servers.map((s) => s.gets(key).catch(() => undefined)));
  // Only the pool's own results: an item that holds another pool's would count them twice.
  return mergeResults(answers.map((a) => (a ? parse(a.value).filter((r) => r.pool === pool) : [])));
}

/**
 * Adds `results` (a new one, and what this process knows that a server may have lost) to the
 * pool's item on every server; resolves to how many stored it.
 */
export async function appendHistory(servers: readonly ItemServer[], pool: string, results: readonly MigrationResult[]): Promise<number> {
  const key = historyKey(pool);
  const mine = results.filter((r) => r.pool === pool);
  const one = async (s: ItemServer): Promise<boolean> => {
    for (let i = 0; i < CAS_TRIES; i++) {
      const had = await s.gets(key).catch(() => undefined);
      if (had === undefined) return false;
      const out = await s.store(key, encode([...(had === null ? [] : parse(had.value)), ...mine]), had === null ? null : had.cas).catch(() => 'failed' as const);
      if (out !== 'changed') return out === 'stored';
    }
    return false;
  };
  return (await Promise.all(servers.map(one))).filter(Boolean).length;
}

/** This process's history as a sidecar's rebuilds (replication/recovery.ts) record into it, through its own connections. */
export const rebuildHistory: RebuildHistory = {
  finished(run) {
    const result = resultOfRun(run);
    processHistory.finished(result);
    return {
      result,
      line: resultLine(result),
      store: (servers) => appendHistory(servers.map(backendItems), run.pool, [result, ...processHistory.list(run.pool)]),
    };
  },
};
