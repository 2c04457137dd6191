/**
 * The migration's shared state, kept in the cache tier itself so that every sidecar agrees:
 *
 *   __memshift__:migration:<name>   the record (JSON): the phase state, times, counts. Written with
 *                                   `set` to every old and new server; a reader keeps the answer
 *                                   with the highest `seq`. The leader re-publishes it every few
 *                                   seconds, since a cache may evict it. A missing record means
 *                                   "ask again", never "no migration".
 *   __memshift__:lease:<name>       who runs the copy and verify: `add` with a TTL on the first new
 *                                   server (the lease server), renewed with gets + cas while held,
 *                                   so only the holder extends it; another sidecar takes over when
 *                                   it lapses.
 *
 * <name> is the pool's name, or `route:<prefix, base64url>` for a route migration (space.ts).
 * Clients cannot read or write keys under `__memshift__` (the proxy answers CLIENT_ERROR).
 */
import { backendRequest, line, type Backend } from '../backend/index.js';
import { RESERVED_PREFIX, ReplyKind, isPrefix, parseValues } from '../protocol/index.js';
import type { DiscoveredMove } from '../config/types.js';
import type { PhaseState } from './phases.js';
import type { FailoverSpec, PrefixMove } from './space.js';
import type { PhaseSwitch } from './history.js';

export interface MigrationCounts {
  scanned: number;
  copied: number;
  skipped: number;
  verified: number;
  mismatched: number;
  repaired: number;
  /** Reads of moved keys that the new owner missed and were copied from the old one. */
  backfilled: number;
  errors: number;
  /** Moved keys deleted from the old owners in cleanup (from the new owners after an abort). */
  cleaned: number;
}

/** One verify pass of the last run: its kind, the keys it checked and swept (over the parts) and its seconds (the slowest part's). */
export interface VerifyPassTime {
  kind: 'full' | 'incremental';
  checked: number;
  swept: number;
  seconds: number;
}

export interface MigrationRecord extends PhaseState {
  pool: string;
  counts: MigrationCounts;
  /** What verify left and how it ended (after its pass cap). */
  verify: { passes: number; left: number; note: string; pass_times?: VerifyPassTime[] } | null;
  /** The sidecar running the copy and verify, as it names itself. */
  leader: string | null;
  /** Leader clock, ms. */
  updatedAt: number;
  /** A passive migration: the replica group and the server that died (failover.ts). */
  failover?: FailoverSpec;
  /** A route migration: the route's prefix and the pool its keys leave (`pool` is the one they go to). */
  route?: PrefixMove;
  /** An autopilot migration: the discovered rings it moves between (src/discovery). */
  discovered?: DiscoveredMove;
  /** Every phase switch, pause and resume, with its time (history.ts: withSwitch). Absent in records an earlier memshift wrote. */
  switches?: PhaseSwitch[];
  /** The leader's current job run, for every sidecar's progress bar; null between runs. */
  progress?: RunProgress | null;
}

/**
 * The leader's current run of a job (each run starts over: a copy pass walks every old owner):
 * keys walked of those expected, and this run's scanned keys and those verify has checked.
 */
export interface RunProgress {
  phase: string;
  expected: number | null;
  walked: number;
  eta_s: number | null;
  scanned: number;
  checked: number;
}

export function emptyCounts(): MigrationCounts {
  return { scanned: 0, copied: 0, skipped: 0, verified: 0, mismatched: 0, repaired: 0, backfilled: 0, errors: 0, cleaned: 0 };
}

const COUNT_NAMES = Object.keys(emptyCounts()) as (keyof MigrationCounts)[];

/**
 * The counts of a migration only grow, for its whole life: every pass of every job adds to them.
 * Two views of one migration (this process's and a record read, two servers' records) combine
 * into the larger of each count, so neither a record published a moment earlier, nor a new leader
 * that had not read the latest one yet, makes a count go back.
 */
export function maxCounts(a: MigrationCounts, b: Partial<MigrationCounts>): MigrationCounts {
  const out = { ...a };
  for (const k of COUNT_NAMES) out[k] = Math.max(a[k], b[k] ?? 0);
  return out;
}

/** `base` plus what a job's own counters (which start at 0 with each run) grew by since `last`. */
export function addGrowth(base: MigrationCounts, now: Partial<MigrationCounts>, last: Partial<MigrationCounts>): MigrationCounts {
  const out = { ...base };
  for (const k of COUNT_NAMES) out[k] += Math.max(0, (now[k] ?? 0) - (last[k] ?? 0));
  return out;
}

const recordKey = (pool: string): string => `${RESERVED_PREFIX}:migration:${pool}`;
const leaseKey = (pool: string): string => `${RESERVED_PREFIX}:lease:${pool}`;

function parseRecord(reply: Buffer, key: string): MigrationRecord | null {
  const item = parseValues(reply).get(key);
  if (item === undefined) return null;
  try {
    const r = JSON.parse(item.value.toString('utf8')) as MigrationRecord;
    return typeof r.id === 'string' && typeof r.seq === 'number' ? r : null;
  } catch {
    return null;
  }
}

/** `p`, or null when it has not settled within `ms`. */
function within<T>(p: Promise<T | null>, ms: number): Promise<T | null> {
  if (ms === Infinity) return p;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

export class RecordStore {
  readonly #key: string;

  constructor(
    readonly pool: string,
    readonly id: string,
    /** Every old and new server of the pool. */
    readonly servers: readonly Backend[],
  ) {
    this.#key = recordKey(pool);
  }

  /**
   * This migration's record with the highest seq (null when servers answered without one; undefined
   * when none answered), with the largest counts any server had for it (maxCounts), and the newest
   * record of another migration of the pool, if any.
   */
  async read(waitMs = Infinity): Promise<{ mine: MigrationRecord | null | undefined; other: MigrationRecord | null }> {
    // A server that has not answered within `waitMs` counts as not answering: one hung server must not stall every read.
    const replies = await Promise.all(this.servers.map((b) => within(backendRequest(b, line(`get ${this.#key}`), ReplyKind.Retrieval), waitMs)));
    let mine: MigrationRecord | null | undefined;
    let other: MigrationRecord | null = null;
    let counts = emptyCounts();
    for (const r of replies) {
      if (r === null || (!isPrefix(r, 0, 'VALUE') && !isPrefix(r, 0, 'END'))) continue;
      const rec = parseRecord(r, this.#key);
      if (mine === undefined) mine = null;
      if (rec === null) continue;
      if (rec.id !== this.id) {
        if (other === null || rec.updatedAt > other.updatedAt) other = rec;
        continue;
      }
      counts = maxCounts(counts, rec.counts);
      if (mine === null || rec.seq > mine.seq) mine = rec;
    }
    if (mine) mine = { ...mine, counts };
    return { mine, other };
  }

  /** Writes the record to every server; resolves to how many stored it. */
  async publish(record: MigrationRecord): Promise<number> {
    const body = Buffer.from(JSON.stringify(record), 'utf8');
    const req = Buffer.concat([line(`set ${this.#key} 0 0 ${body.length}`), body, line('')]);
    const replies = await Promise.all(this.servers.map((b) => backendRequest(b, req, ReplyKind.Line)));
    return replies.filter((r) => r !== null && isPrefix(r, 0, 'STORED')).length;
  }
}

export class Lease {
  readonly #key: string;
  held = false;

  constructor(
    readonly pool: string,
    readonly server: Backend,
    readonly holder: string,
    readonly ttlSec = 10,
  ) {
    this.#key = leaseKey(pool);
  }

  /** performance.now() until which the lease is surely still ours (see fresh()). */
  #heldUntil = -Infinity;

  /**
   * Whether the lease is surely still held: it was taken or renewed less than its TTL ago, counted
   * from when that request was sent, less 2 s (memcached counts TTLs in whole seconds on a clock
   * that ticks once a second). A leader that stood still longer may have lost it without knowing:
   * its background work checks this before every write (the fence), not only the next `acquire`.
   */
  fresh(): boolean {
    return this.held && performance.now() < this.#heldUntil;
  }

  #took(sentAt: number): true {
    this.#heldUntil = sentAt + (this.ttlSec - 2) * 1000;
    return (this.held = true);
  }

  /** Takes the lease if it is free, or keeps it if this process holds it; true when held. */
  async acquire(): Promise<boolean> {
    const v = Buffer.from(this.holder, 'utf8');
    const sentAt = performance.now();
    const r = await backendRequest(this.server, Buffer.concat([line(`add ${this.#key} 0 ${this.ttlSec} ${v.length}`), v, line('')]), ReplyKind.Line);
    if (r !== null && isPrefix(r, 0, 'STORED')) return this.#took(sentAt);
    return (this.held = await this.renew());
  }

  /** Extends the lease only if this process still holds it (gets + cas). */
  async renew(): Promise<boolean> {
    const sentAt = performance.now();
    const r = await backendRequest(this.server, line(`gets ${this.#key}`), ReplyKind.Retrieval);
    if (r === null) return (this.held = false);
    const item = parseValues(r).get(this.#key);
    if (item === undefined || item.cas === null || item.value.toString('utf8') !== this.holder) return (this.held = false);
    const value = Buffer.from(item.value);
    const c = await backendRequest(this.server, Buffer.concat([line(`cas ${this.#key} 0 ${this.ttlSec} ${value.length} ${item.cas}`), value, line('')]), ReplyKind.Line);
    if (c !== null && isPrefix(c, 0, 'STORED')) return this.#took(sentAt);
    return (this.held = false);
  }

  async release(): Promise<void> {
    if (this.held && (await this.renew())) await backendRequest(this.server, line(`delete ${this.#key}`), ReplyKind.Line);
    this.held = false;
  }
}
