/**
 * A model-checking load generator for tests of online migrations: several clients run a mixed
 * memcached text-protocol load through one or more proxy ports, every acknowledged operation is
 * recorded with its real-time interval [start, end] (`performance.now()`, one process, monotonic),
 * and every read is checked against a reference model afterwards.
 *
 *   const report = await runModelLoad({ ports: [proxy.port], keys: 200, durationMs: 3_000 });
 *   const final = await finalCheck([proxy.port], report);      // one more read of every key
 *   console.log(formatReport(final));
 *   expect(final.staleReads + final.resurrectedDeletes + final.lostWrites).toBe(0);
 *
 * Violations (the product spec's definitions):
 *  - a stale read returns a value older than the last acknowledged write that finished before
 *    the read began;
 *  - a lost write is an acknowledged write whose key later reads as a miss with no delete (or
 *    expiry: the load uses TTL 0 only) in between;
 *  - a resurrected delete is a read that returns a value after an acknowledged delete with no
 *    write in between.
 *
 * Every written value is unique (run tag, client, sequence), so a read names exactly the write
 * that produced it. The checker (`checkHistory`) is a pure function over the recorded `Op`s; see
 * its comment for the exact rule. Clients pipeline nothing: one request at a time per connection.
 */
import { performance } from 'node:perf_hooks';
import { sleep } from './process.js';
import { TextClient } from './text-client.js';
import { mulberry32 } from './prng.js';

// ------------------------------------------------------------------------------------ history

/**
 * One recorded effect or observation on one key.
 *
 *  - `write`: the key holds `value` afterwards. `value` undefined = an unknown value (an incr
 *    whose reply was lost).
 *  - `delete`: the key is absent afterwards.
 *  - `read`: what was seen: a string = that value, `null` = a miss, `undefined` = "present, value
 *    not seen" (touch TOUCHED, cas EXISTS, delete DELETED).
 *
 * `end` is `Infinity` for a write or delete whose outcome is unknown (error reply or timeout): it
 * may or may not have taken effect ("uncertain"), and `replied` says until when it could have.
 * Reads always have a finite end.
 */
export interface Op {
  key: string;
  kind: 'read' | 'write' | 'delete';
  start: number;
  end: number;
  value?: string | null;
  /** The command that produced it (`get`, `set`, `incr`, `final`, ...), for messages. */
  cmd?: string;
  /** The client id, for messages. */
  client?: number;
  /**
   * Uncertain ops: when the error reply came (or the client gave up waiting). The op took effect,
   * if at all, between its start and then; without it, at its start.
   */
  replied?: number;
}

/** What a key holds before the history starts: nothing, or anything (then any first read is fine). */
export type InitialState = 'absent' | 'unknown';

export type ViolationKind = 'stale-read' | 'resurrected-delete' | 'lost-write' | 'unexplained-read';

export interface Violation {
  kind: ViolationKind;
  key: string;
  read: Op;
  /** The write that produced the value read (stale read, resurrected delete). */
  source?: Op;
  /** The op that made the read wrong: the superseding write/delete, or for a lost write the last op before the read. */
  by?: Op;
  message: string;
}

export interface Violations {
  /** Reads checked. */
  reads: number;
  staleReads: number;
  resurrectedDeletes: number;
  lostWrites: number;
  /** A value never written to that key, or read before its write began (corruption, cross-key mix-up). */
  unexplainedReads: number;
  /** All of the above. */
  total: number;
  /** The first `maxSamples` violations, in history order. */
  details: Violation[];
  /** Their messages. */
  samples: string[];
}

export interface CheckOptions {
  /** Default 'absent'. */
  initial?: InitialState;
  /** How many violations to describe, default 10. */
  maxSamples?: number;
}

/** First index i with arr[i] >= x (arr ascending). */
function lowerBound(arr: Float64Array, x: number): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const ascending = (x: number, y: number): number => (x < y ? -1 : x > y ? 1 : 0);

/** Acknowledged ops (threshold = end) or uncertain ones, sorted by threshold, with the suffix minimum of their starts. */
class ByThreshold {
  readonly thresholds: Float64Array;
  readonly sufMinStart: Float64Array;
  constructor(readonly ops: Op[]) {
    ops.sort((a, b) => ascending(threshold(a), threshold(b)));
    const n = ops.length;
    this.thresholds = Float64Array.from(ops, threshold);
    this.sufMinStart = new Float64Array(n);
    let min = Infinity;
    for (let i = n - 1; i >= 0; i--) {
      min = Math.min(min, ops[i]!.start);
      this.sufMinStart[i] = min;
    }
  }
  /** Is there an op not superseded by mark m (threshold >= m) that began before the read ended? */
  anyOpen(m: number, readEnd: number): boolean {
    const i = lowerBound(this.thresholds, m);
    return i < this.thresholds.length && this.sufMinStart[i]! < readEnd;
  }
}

const isUncertain = (op: Op): boolean => op.end === Infinity;

/**
 * The time after which a newer op's start supersedes `op`: its end; for an uncertain op the time its
 * error reply came (it took effect, if at all, before that), or its start when that is not known.
 */
function threshold(op: Op): number {
  if (Number.isFinite(op.end)) return op.end;
  return op.replied ?? op.start;
}

class KeyIndex {
  /** Acknowledged writes and deletes (and the initial pseudo-ops), sorted by end. */
  readonly acked: Op[] = [];
  ends = new Float64Array(0);
  /** prefMaxStart[i] = max start of acked[0..i]. */
  prefMaxStart = new Float64Array(0);
  readonly byValue = new Map<string, Op[]>();
  /** Acknowledged writes of an unknown value (the initial 'unknown' state). */
  readonly ackedWild: Op[] = [];
  ackedWrites!: ByThreshold;
  ackedDeletes!: ByThreshold;
  uncWrites!: ByThreshold;
  uncDeletes!: ByThreshold;
  uncWild!: ByThreshold;

  constructor(key: string, ops: Op[], initial: InitialState) {
    const aw: Op[] = [];
    const ad: Op[] = [];
    const uw: Op[] = [];
    const ud: Op[] = [];
    const uwild: Op[] = [];
    const initialOps: Op[] = [{ key, kind: 'delete', start: -Infinity, end: -Infinity, cmd: 'initial' }];
    if (initial === 'unknown') initialOps.push({ key, kind: 'write', start: -Infinity, end: -Infinity, cmd: 'initial' });
    for (const op of [...initialOps, ...ops]) {
      if (op.kind === 'read') continue;
      const unc = isUncertain(op);
      if (op.kind === 'delete') (unc ? ud : ad).push(op);
      else {
        (unc ? uw : aw).push(op);
        if (typeof op.value === 'string') {
          const list = this.byValue.get(op.value);
          if (list) list.push(op);
          else this.byValue.set(op.value, [op]);
        } else if (unc) uwild.push(op);
        else this.ackedWild.push(op);
      }
      if (!unc) this.acked.push(op);
    }
    this.acked.sort((a, b) => ascending(a.end, b.end));
    const n = this.acked.length;
    this.ends = new Float64Array(n);
    this.prefMaxStart = new Float64Array(n);
    let max = -Infinity;
    for (let i = 0; i < n; i++) {
      const op = this.acked[i]!;
      this.ends[i] = op.end;
      max = Math.max(max, op.start);
      this.prefMaxStart[i] = max;
    }
    this.ackedWrites = new ByThreshold(aw);
    this.ackedDeletes = new ByThreshold(ad);
    this.uncWrites = new ByThreshold(uw);
    this.uncDeletes = new ByThreshold(ud);
    this.uncWild = new ByThreshold(uwild);
  }

  /** How many acknowledged ops finished strictly before t. */
  finishedBefore(t: number): number {
    return lowerBound(this.ends, t);
  }

  /** The latest start among acknowledged ops that finished before t (-Infinity if none). */
  supersedeMark(t: number): number {
    const i = this.finishedBefore(t);
    return i > 0 ? this.prefMaxStart[i - 1]! : -Infinity;
  }

  /** The op that finished last among those that finished before t and started after `after`. */
  latestSuperseder(t: number, after: number): Op | undefined {
    for (let i = this.finishedBefore(t) - 1; i >= 0; i--) {
      const op = this.acked[i]!;
      if (op.start > after) return op;
    }
    return undefined;
  }
}

const fmtT = (t: number): string => (Number.isFinite(t) ? t.toFixed(3) : String(t));
const fmtV = (v: string | null | undefined): string => (v === null ? 'miss' : v === undefined ? '(present)' : JSON.stringify(v));

/** `set c2 "v…" [t0, t1]`, for messages. */
export function describeOp(op: Op): string {
  const who = `${op.cmd ?? op.kind}${op.client === undefined ? '' : ` c${op.client}`}`;
  const what = op.kind === 'delete' ? '' : op.kind === 'write' && op.value === undefined ? ' (unknown value)' : ` ${fmtV(op.value)}`;
  const when = op.cmd === 'initial' ? ' [initial state]' : ` [${fmtT(op.start)}, ${fmtT(op.end)}]`;
  return `${who}${op.kind === 'delete' ? ' (delete)' : ''}${what}${when}${isUncertain(op) ? ` (uncertain${op.replied === undefined ? '' : `, error at ${fmtT(op.replied)}`})` : ''}`;
}

/**
 * Checks every read against the writes and deletes of its key.
 *
 * A read R = [s, e] that saw value v is valid iff some write W of v (for a miss: some delete, or
 * the initial absence) satisfies W.start < R.end (it began before the read finished) and is not
 * superseded: no acknowledged write/delete W2 has W.end < W2.start and W2.end < R.start. A read
 * that saw "present" (value not known) needs such a W of any value.
 *
 * An uncertain op (end = Infinity) never supersedes anything, and stays a candidate from its start
 * until an acknowledged write/delete that started after its error reply (`replied`; its start when
 * not known) finishes: it is superseded like an op that ended then, since it may have taken
 * effect at any moment before its reply, after writes that began while it was in flight. Either
 * outcome is accepted in that window.
 *
 * Classification of an invalid read: a value never written to the key (or only by writes that
 * began after the read ended) is `unexplained`; a value whose write is superseded is a stale read,
 * or a resurrected delete when the superseding op that finished last before the read is a delete;
 * an invalid miss is a lost write (the last op that finished before the read is then necessarily
 * a write, and no delete can be ordered after it).
 *
 * Cost: O(n log n) for n ops (per-key arrays sorted by time, binary searches per read).
 */
export function checkHistory(history: readonly Op[], opts: CheckOptions = {}): Violations {
  const initial = opts.initial ?? 'absent';
  const maxSamples = opts.maxSamples ?? 10;
  const perKey = new Map<string, Op[]>();
  for (const op of history) {
    const list = perKey.get(op.key);
    if (list) list.push(op);
    else perKey.set(op.key, [op]);
  }
  const indexes = new Map<string, KeyIndex>();
  for (const [key, ops] of perKey) indexes.set(key, new KeyIndex(key, ops, initial));

  const out: Violations = { reads: 0, staleReads: 0, resurrectedDeletes: 0, lostWrites: 0, unexplainedReads: 0, total: 0, details: [], samples: [] };
  const report = (v: Omit<Violation, 'message'>, message: string): void => {
    if (v.kind === 'stale-read') out.staleReads++;
    else if (v.kind === 'resurrected-delete') out.resurrectedDeletes++;
    else if (v.kind === 'lost-write') out.lostWrites++;
    else out.unexplainedReads++;
    out.total++;
    if (out.details.length < maxSamples) {
      out.details.push({ ...v, message });
      out.samples.push(message);
    }
  };

  for (const r of history) {
    if (r.kind !== 'read' || !Number.isFinite(r.end)) continue;
    out.reads++;
    const idx = indexes.get(r.key)!;
    const m = idx.supersedeMark(r.start);
    const open = (c: Op): boolean => c.start < r.end && !(m > threshold(c));
    const what = `${r.key}: ${describeOp(r)}`;

    if (r.value === null) {
      if (idx.ackedDeletes.anyOpen(m, r.end) || idx.uncDeletes.anyOpen(m, r.end)) continue;
      const i = idx.finishedBefore(r.start);
      const last = i > 0 ? idx.acked[i - 1] : undefined;
      report({ kind: 'lost-write', key: r.key, read: r, by: last }, `lost write ${what}; last acknowledged op before it: ${last ? describeOp(last) : 'none'}; no delete can follow it`);
      continue;
    }
    if (r.value === undefined) {
      if (idx.ackedWrites.anyOpen(m, r.end) || idx.uncWrites.anyOpen(m, r.end)) continue;
    } else {
      const cands = idx.byValue.get(r.value) ?? [];
      if (cands.some(open) || idx.ackedWild.some(open) || idx.uncWild.anyOpen(m, r.end)) continue;
    }
    // Invalid hit: which write did it read, and what superseded it?
    const cands = (r.value === undefined ? [...idx.ackedWrites.ops, ...idx.uncWrites.ops] : (idx.byValue.get(r.value) ?? [])).filter((c) => c.start < r.end);
    if (cands.length === 0) {
      const why = r.value === undefined ? 'no write could have made the key present' : 'this value was never written to this key before the read ended';
      report({ kind: 'unexplained-read', key: r.key, read: r }, `unexplained read ${what}: ${why}`);
      continue;
    }
    const source = cands.reduce((a, b) => (threshold(b) > threshold(a) ? b : a));
    const by = idx.latestSuperseder(r.start, threshold(source));
    const kind: ViolationKind = by?.kind === 'delete' ? 'resurrected-delete' : 'stale-read';
    const label = kind === 'stale-read' ? 'stale read' : 'resurrected delete';
    report(
      { kind, key: r.key, read: r, source, by },
      `${label} ${what}; written by ${describeOp(source)}; superseded by ${by ? describeOp(by) : '?'} which finished before the read began`,
    );
  }
  return out;
}

// ------------------------------------------------------------------------------------ commands

/** One request of the load, with what it needs to be interpreted. */
export type Command =
  | { cmd: 'get' | 'gets' | 'touch' | 'delete'; key: string }
  | { cmd: 'set'; key: string; value: string }
  | { cmd: 'incr'; key: string; delta: number }
  /** `seen` is the value the preceding gets returned with `token`. */
  | { cmd: 'cas'; key: string; value: string; token: string; seen: string };

/** The request bytes (TTL and flags 0 everywhere; touch sets exptime 0, which changes nothing). */
export function requestText(c: Command): string {
  switch (c.cmd) {
    case 'get':
    case 'gets':
      return `${c.cmd} ${c.key}\r\n`;
    case 'touch':
      return `touch ${c.key} 0\r\n`;
    case 'delete':
      return `delete ${c.key}\r\n`;
    case 'set':
      return `set ${c.key} 0 0 ${Buffer.byteLength(c.value)}\r\n${c.value}\r\n`;
    case 'incr':
      return `incr ${c.key} ${c.delta}\r\n`;
    case 'cas':
      return `cas ${c.key} 0 0 ${Buffer.byteLength(c.value)} ${c.token}\r\n${c.value}\r\n`;
  }
}

export interface ReplyOutcome {
  /** What the reply tells the model (several ops for one reply: e.g. incr = a read of the old value and a write of the new one). */
  ops: Op[];
  /** Error kind when the reply was an error, unexpected or missing: SERVER_ERROR, CLIENT_ERROR, ERROR, unexpected, or the given no-reply kind. */
  error?: string;
  /** The connection can no longer be trusted to be in step (no reply, unexpected reply): reconnect. */
  desync: boolean;
  /** get/gets hit: the value, and gets' cas token. */
  hit?: { value: string; token?: string };
}

const VALUE_RE = /^VALUE (\S+) (\d+) (\d+)(?: (\d+))?\r\n/;

function errorKind(reply: string): string | undefined {
  if (reply.startsWith('SERVER_ERROR')) return 'SERVER_ERROR';
  if (reply.startsWith('CLIENT_ERROR')) return 'CLIENT_ERROR';
  if (reply === 'ERROR\r\n' || reply.startsWith('ERROR ')) return 'ERROR';
  return undefined;
}

/**
 * Interprets one reply. `reply` null = none arrived (`noReply` names why, default `timeout`).
 * Beyond each command's own effect it records what the reply implies about the state:
 *  - delete: DELETED and NOT_FOUND both are acknowledged deletes, and also a read of "present" /
 *    a miss over the same interval;
 *  - incr N: a write of N and a read of N - delta; NOT_FOUND: a miss (no effect);
 *  - cas STORED: a write of the new value and a read of the value gets saw (same token);
 *    EXISTS: a read of "present"; NOT_FOUND: a miss;
 *  - touch TOUCHED / NOT_FOUND: a read of "present" / a miss.
 * An error or missing reply to set/delete/incr/cas makes that write uncertain (end = Infinity,
 * replied = `end`; an incr's value is then unknown). Failed reads and touches record nothing.
 */
export function replyOps(c: Command, reply: string | null, start: number, end: number, client?: number, noReply = 'timeout'): ReplyOutcome {
  const base = { key: c.key, start, end, cmd: c.cmd, ...(client === undefined ? {} : { client }) };
  const read = (value: string | null | undefined): Op => ({ ...base, kind: 'read', value });
  const unknown = { end: Infinity, replied: end };
  const uncertain = (): Op[] => {
    if (c.cmd === 'set' || c.cmd === 'cas') return [{ ...base, kind: 'write', value: c.value, ...unknown }];
    if (c.cmd === 'incr') return [{ ...base, kind: 'write', value: undefined, ...unknown }];
    if (c.cmd === 'delete') return [{ ...base, kind: 'delete', ...unknown }];
    return [];
  };
  if (reply === null) return { ops: uncertain(), error: noReply, desync: true };
  const err = errorKind(reply);
  if (err !== undefined) return { ops: uncertain(), error: err, desync: false };
  const unexpected: ReplyOutcome = { ops: uncertain(), error: 'unexpected', desync: true };

  switch (c.cmd) {
    case 'get':
    case 'gets': {
      if (reply === 'END\r\n') return { ops: [read(null)], desync: false };
      const m = VALUE_RE.exec(reply);
      if (!m || m[1] !== c.key) return unexpected;
      const head = m[0].length;
      const bytes = Number(m[3]);
      const data = Buffer.from(reply.slice(head), 'utf8');
      if (data.length !== bytes + 7 || data.subarray(bytes).toString('latin1') !== '\r\nEND\r\n') return unexpected;
      const value = data.subarray(0, bytes).toString('utf8');
      return { ops: [read(value)], desync: false, hit: { value, ...(m[4] === undefined ? {} : { token: m[4] }) } };
    }
    case 'touch':
      if (reply === 'TOUCHED\r\n') return { ops: [read(undefined)], desync: false };
      if (reply === 'NOT_FOUND\r\n') return { ops: [read(null)], desync: false };
      return unexpected;
    case 'delete':
      if (reply === 'DELETED\r\n') return { ops: [{ ...base, kind: 'delete' }, read(undefined)], desync: false };
      if (reply === 'NOT_FOUND\r\n') return { ops: [{ ...base, kind: 'delete' }, read(null)], desync: false };
      return unexpected;
    case 'set':
      if (reply === 'STORED\r\n') return { ops: [{ ...base, kind: 'write', value: c.value }], desync: false };
      return unexpected;
    case 'incr': {
      if (reply === 'NOT_FOUND\r\n') return { ops: [read(null)], desync: false };
      const m = /^(\d+)\r\n$/.exec(reply);
      if (!m) return unexpected;
      const after = BigInt(m[1]!);
      const before = after - BigInt(c.delta);
      const ops: Op[] = [];
      if (before >= 0n) ops.push(read(before.toString()));
      ops.push({ ...base, kind: 'write', value: after.toString() });
      return { ops, desync: false };
    }
    case 'cas':
      if (reply === 'STORED\r\n') return { ops: [read(c.seen), { ...base, kind: 'write', value: c.value }], desync: false };
      if (reply === 'EXISTS\r\n') return { ops: [read(undefined)], desync: false };
      if (reply === 'NOT_FOUND\r\n') return { ops: [read(null)], desync: false };
      return unexpected;
  }
}

// ------------------------------------------------------------------------------------ load

export interface Mix {
  get: number;
  gets: number;
  set: number;
  delete: number;
  incr: number;
  cas: number;
  touch: number;
}

export const DEFAULT_MIX: Readonly<Mix> = { get: 40, gets: 10, set: 25, delete: 8, incr: 7, cas: 7, touch: 3 };

export interface ModelLoadOptions {
  /** Proxy (or memcached) ports; clients are spread over them round-robin. */
  ports: number[];
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 6. */
  clients?: number;
  /** Size of the data key space: `${prefix}0` .. `${prefix}${keys - 1}`. */
  keys: number;
  /** Default `m:`. */
  prefix?: string;
  /** Size of the counter key space (numeric values, the only target of incr), default ceil(keys / 4). */
  counterKeys?: number;
  /** Default `c:`. */
  counterPrefix?: string;
  /** Share of the non-incr ops that go to counter keys, default 0.2. */
  counterShare?: number;
  /** Load duration; default 3000 ms unless `stop` is given. With both, whichever ends first. */
  durationMs?: number;
  /** Polled before every op: true ends the load. */
  stop?: () => boolean;
  /** Relative weights, merged over DEFAULT_MIX (set a weight to 0 to leave a command out). */
  mix?: Partial<Mix>;
  /**
   * Per-request timeout; default 5000 ms. A timeout counts as an error, the write as uncertain,
   * landed if at all before the client gave up: a test that stops a server process for longer lets
   * a request land later (it waits in the socket), so it must wait longer than the stop.
   */
  timeoutMs?: number;
  /** Pad data values to at least this many bytes (default: no padding, ~15 bytes). */
  valueBytes?: number;
  /** Pause between one client's ops (default 0: back to back). */
  thinkMs?: number;
  /** PRNG seed for op and key choice (default random; reported). */
  seed?: number;
  /**
   * 'clear' (default): delete every key through the proxy before the load (recorded in the
   * history); 'absent': assume the servers hold none of the keys; 'unknown': assume nothing
   * (any value or a miss is fine until the first acknowledged write/delete of a key finishes).
   */
  initial?: 'clear' | InitialState;
  /** Continue the model of an earlier run (same keys): its history is kept, nothing is cleared. */
  previous?: ModelReport;
  /**
   * Keys partitioned between the clients (client i uses the keys whose index is i modulo
   * `clients`), so that every read has exactly one right answer. Default: shared.
   */
  partition?: boolean;
  /** Each op goes through a randomly chosen port (a connection per port and client). Default: client i uses port i modulo the ports. */
  portPerOp?: boolean;
  /** With portPerOp: only ports this allows are chosen (a load balancer's view: a proxy being restarted is left out). */
  portUp?: (port: number) => boolean;
  /** Before the load, set every key (data and counter) once, recorded, instead of `initial`'s clearing. */
  preset?: boolean;
  /** Called when the load itself begins (after the clearing or preset). */
  onStart?: () => void;
}

export interface ErrorSummary {
  total: number;
  /** SERVER_ERROR, CLIENT_ERROR, ERROR, unexpected, timeout, closed, connect. */
  byKind: Record<string, number>;
  /** The first few, with the request and the reply. */
  samples: string[];
  /** Every error (the first 1000), with its time (performance.now() when the reply or the give-up came). */
  events: { at: number; kind: string; sample: string }[];
}

export interface ModelReport {
  /** Requests that got a non-error reply. */
  ops: number;
  /** Read observations checked (get/gets, and those implied by touch, delete, incr and cas replies). */
  reads: number;
  /** Acknowledged writes (set STORED, incr N, cas STORED). */
  writes: number;
  /** Acknowledged deletes (DELETED or NOT_FOUND). */
  deletes: number;
  /** Writes/deletes whose outcome is unknown (error or no reply). */
  uncertain: number;
  /** Requests sent, per command (including the gets before each cas, the clearing deletes and final reads). */
  byCommand: Record<string, number>;
  errors: ErrorSummary;
  staleReads: number;
  resurrectedDeletes: number;
  lostWrites: number;
  /** Values never written to the key that returned them. */
  unexplainedReads: number;
  /** The first ~10 violations: key, read interval, value, the write read and what superseded it. */
  samples: string[];
  /** How long the load ran. */
  durationMs: number;
  /** How long checkHistory took. */
  checkMs: number;
  seed: number;
  /** Set by finalCheck. */
  final?: { reads: number; hits: number; misses: number; errors: number };
  /** Not enumerable (kept out of console.log and test diffs): every recorded op. */
  readonly history: Op[];
  /** Not enumerable: every key of the model (data and counter keys). */
  readonly keys: string[];
  /** Not enumerable: the checker's initial state. */
  readonly initial: InitialState;
  /** Not enumerable: the first ~10 violations in full (formatReport prints their keys' histories). */
  readonly violations: Violation[];
}



/** Shared by the clients of one run: the history and the counters. */
class Recorder {
  readonly history: Op[];
  readonly byCommand: Record<string, number> = {};
  readonly errors: ErrorSummary = { total: 0, byKind: {}, samples: [], events: [] };
  ops = 0;

  constructor(previous?: ModelReport) {
    this.history = previous ? [...previous.history] : [];
    if (previous) {
      for (const [k, n] of Object.entries(previous.byCommand)) this.byCommand[k] = n;
      for (const [k, n] of Object.entries(previous.errors.byKind)) this.errors.byKind[k] = n;
      this.errors.total = previous.errors.total;
      this.errors.samples.push(...previous.errors.samples);
      this.errors.events.push(...previous.errors.events);
      this.ops = previous.ops;
    }
  }

  error(kind: string, sample: string): void {
    this.errors.total++;
    this.errors.byKind[kind] = (this.errors.byKind[kind] ?? 0) + 1;
    if (this.errors.samples.length < 5) this.errors.samples.push(`${kind}: ${sample}`);
    if (this.errors.events.length < 1000) this.errors.events.push({ at: performance.now(), kind, sample });
  }

  record(c: Command, out: ReplyOutcome, reply: string | null, detail: string): void {
    this.byCommand[c.cmd] = (this.byCommand[c.cmd] ?? 0) + 1;
    for (const op of out.ops) this.history.push(op);
    if (out.error === undefined) this.ops++;
    else this.error(out.error, `${JSON.stringify(requestText(c).slice(0, 120))} -> ${reply === null ? detail : JSON.stringify(reply.slice(0, 200))}`);
  }
}

/** One connection per port, one request at a time, reconnecting after a timeout or an unexpected reply. */
class LoadClient {
  readonly #conns: (TextClient | undefined)[];

  constructor(
    readonly id: number,
    readonly ports: readonly number[],
    readonly host: string,
    readonly timeoutMs: number,
    readonly rec: Recorder,
  ) {
    this.#conns = ports.map(() => undefined);
  }

  /** Sends one command through `ports[p]` and records its outcome; undefined when no connection could be made. */
  async exchange(c: Command, p = 0): Promise<ReplyOutcome | undefined> {
    const port = this.ports[p]!;
    let conn = this.#conns[p];
    if (conn === undefined || conn.isClosed()) {
      try {
        conn = this.#conns[p] = await TextClient.connect(port, this.host, this.timeoutMs);
      } catch (e) {
        this.#conns[p] = undefined;
        this.rec.error('connect', `${this.host}:${port}: ${(e as Error).message}`);
        await sleep(50);
        return undefined;
      }
    }
    let reply: string | null = null;
    let detail = '';
    const start = performance.now();
    try {
      reply = await conn.request(requestText(c), this.timeoutMs);
    } catch (e) {
      detail = (e as Error).message;
    }
    const end = performance.now();
    const noReply = /timed out/.test(detail) ? 'timeout' : 'closed';
    const out = replyOps(c, reply, start, end, this.id, noReply);
    this.rec.record(c, out, reply, `${detail.slice(0, 200)} (port ${port})`);
    if (out.desync) {
      this.#conns[p] = undefined;
      void conn.close();
    }
    return out;
  }

  async close(): Promise<void> {
    const conns = this.#conns.splice(0, this.#conns.length, ...this.ports.map(() => undefined));
    await Promise.all(conns.map((c) => c?.close()));
  }
}

function keyList(prefix: string, n: number): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

function summarize(rec: Recorder, keys: string[], initial: InitialState, seed: number, durationMs: number, final?: ModelReport['final']): ModelReport {
  const t0 = performance.now();
  const v = checkHistory(rec.history, { initial });
  const checkMs = performance.now() - t0;
  let writes = 0;
  let deletes = 0;
  let uncertain = 0;
  for (const op of rec.history) {
    if (op.kind === 'read') continue;
    if (op.end === Infinity) uncertain++;
    else if (op.kind === 'write') writes++;
    else deletes++;
  }
  const report = {
    ops: rec.ops,
    reads: v.reads,
    writes,
    deletes,
    uncertain,
    byCommand: { ...rec.byCommand },
    errors: { total: rec.errors.total, byKind: { ...rec.errors.byKind }, samples: [...rec.errors.samples], events: [...rec.errors.events] },
    staleReads: v.staleReads,
    resurrectedDeletes: v.resurrectedDeletes,
    lostWrites: v.lostWrites,
    unexplainedReads: v.unexplainedReads,
    samples: v.samples,
    durationMs,
    checkMs,
    seed,
    ...(final === undefined ? {} : { final }),
  };
  Object.defineProperties(report, {
    history: { value: rec.history, enumerable: false },
    keys: { value: keys, enumerable: false },
    initial: { value: initial, enumerable: false },
    violations: { value: v.details, enumerable: false },
  });
  return report as ModelReport;
}

/**
 * Runs the load and checks it: `clients` connections (spread round-robin over `ports`), each
 * sending one request at a time, picked by `mix` over the data keys and the counter keys.
 * Resolves once every client stopped, with the model's verdict.
 */
export async function runModelLoad(opts: ModelLoadOptions): Promise<ModelReport> {
  if (opts.ports.length === 0) throw new Error('runModelLoad: no ports');
  if (!(opts.keys >= 1)) throw new Error('runModelLoad: keys must be >= 1');
  const host = opts.host ?? '127.0.0.1';
  const nClients = opts.clients ?? 6;
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const seed = opts.seed ?? Math.floor(Math.random() * 2 ** 31);
  const random = mulberry32(seed);
  const mix: Mix = { ...DEFAULT_MIX, ...opts.mix };
  const mixEntries = (Object.entries(mix) as [keyof Mix, number][]).filter(([, w]) => w > 0);
  const mixTotal = mixEntries.reduce((a, [, w]) => a + w, 0);
  if (mixTotal <= 0) throw new Error('runModelLoad: the mix has no positive weight');
  const dataKeys = keyList(opts.prefix ?? 'm:', opts.keys);
  const counterKeys = keyList(opts.counterPrefix ?? 'c:', opts.counterKeys ?? Math.max(1, Math.ceil(opts.keys / 4)));
  const counterShare = opts.counterShare ?? 0.2;
  const previous = opts.previous;
  const keys = previous ? [...new Set([...previous.keys, ...dataKeys, ...counterKeys])] : [...dataKeys, ...counterKeys];
  const initialOpt = previous ? previous.initial : (opts.initial ?? 'clear');
  const initial: InitialState = initialOpt === 'clear' ? 'absent' : initialOpt;
  const rec = new Recorder(previous);
  // A run tag keeps values unique across runs that share keys (previous, unknown initial state).
  const tag = 1 + Math.floor(random() * 999);
  const pad = opts.valueBytes ?? 0;

  const clients = Array.from({ length: nClients }, (_, i) => new LoadClient(i, opts.portPerOp === true ? opts.ports : [opts.ports[i % opts.ports.length]!], host, timeoutMs, rec));
  const counterSet = new Set(counterKeys);
  const presetValue = (key: string, id: number): string => (counterSet.has(key) ? String(BigInt(tag) * 10n ** 16n + BigInt(id % 1000) * 10n ** 13n) : `v${tag}.${id}.0`);

  if (!previous && (initialOpt === 'clear' || opts.preset === true)) {
    await Promise.all(
      clients.map(async (cl) => {
        for (let i = cl.id; i < keys.length; i += nClients) {
          const key = keys[i]!;
          // Retry until acknowledged (or given up after a few failures: the model knows either way).
          for (let attempt = 0; attempt < 5; attempt++) {
            const out = await cl.exchange(opts.preset === true ? { cmd: 'set', key, value: presetValue(key, cl.id) } : { cmd: 'delete', key });
            if (out !== undefined && out.error === undefined) break;
          }
        }
      }),
    );
  }

  const loadStart = performance.now();
  opts.onStart?.();
  const deadline = opts.durationMs !== undefined ? loadStart + opts.durationMs : opts.stop ? Infinity : loadStart + 3_000;
  const stopped = (): boolean => performance.now() >= deadline || (opts.stop?.() ?? false);

  const pickOp = (): keyof Mix => {
    let x = random() * mixTotal;
    for (const [op, w] of mixEntries) {
      x -= w;
      if (x < 0) return op;
    }
    return mixEntries[mixEntries.length - 1]![0];
  };
  const pick = (list: string[]): string => list[Math.floor(random() * list.length)]!;
  const own = (list: string[], id: number): string[] => (opts.partition === true ? list.filter((_, i) => i % nClients === id) : list);

  const runClient = async (cl: LoadClient): Promise<void> => {
    let seq = 0;
    let counterSeq = 1;
    const myData = own(dataKeys, cl.id);
    const myCounters = own(counterKeys, cl.id);
    const via = (): number => {
      const p = Math.floor(random() * cl.ports.length);
      if (opts.portUp === undefined || opts.portUp(cl.ports[p]!)) return p;
      const up = cl.ports.findIndex((port) => opts.portUp!(port));
      return up < 0 ? p : up;
    };
    const dataValue = (): string => {
      const v = `v${tag}.${cl.id}.${seq}`;
      return v.length >= pad ? v : `${v}-${'x'.repeat(pad - v.length - 1)}`;
    };
    // tag * 1e16 + client * 1e13 + n * 1e6: unique bases with room for 1e6 of increments each, below 2^64.
    const counterValue = (): string => (BigInt(tag) * 10n ** 16n + BigInt(cl.id % 1000) * 10n ** 13n + BigInt(counterSeq++ % 10_000_000) * 10n ** 6n).toString();
    while (!stopped()) {
      seq++;
      const op = pickOp();
      const counter = op === 'incr' || random() < counterShare;
      const key = pick(counter ? myCounters : myData);
      const p = via();
      const newValue = (): string => (counter ? counterValue() : dataValue());
      switch (op) {
        case 'get':
        case 'gets':
        case 'touch':
        case 'delete':
          await cl.exchange({ cmd: op, key }, p);
          break;
        case 'set':
          await cl.exchange({ cmd: 'set', key, value: newValue() }, p);
          break;
        case 'incr':
          await cl.exchange({ cmd: 'incr', key, delta: 1 + Math.floor(random() * 9) }, p);
          break;
        case 'cas': {
          const seen = await cl.exchange({ cmd: 'gets', key }, p);
          const hit = seen?.hit;
          if (hit?.token !== undefined && !stopped()) await cl.exchange({ cmd: 'cas', key, value: newValue(), token: hit.token, seen: hit.value }, via());
          break;
        }
      }
      if (opts.thinkMs) await sleep(opts.thinkMs);
    }
  };
  await Promise.all(clients.map(runClient));
  const durationMs = performance.now() - loadStart;
  await Promise.all(clients.map((c) => c.close()));
  return summarize(rec, keys, initial, seed, (previous?.durationMs ?? 0) + durationMs);
}

export interface FinalCheckOptions {
  host?: string;
  /** Connections reading the keys, spread round-robin over the ports; default 4. */
  clients?: number;
  timeoutMs?: number;
}

/**
 * After the load stopped: reads every key of the model once through `ports` (any proxy port) and
 * checks the whole history again with those reads at the end, which catches lost writes and
 * resurrected deletes the load's own reads did not run into. Returns a new report (the given one
 * is left as it is) with `final` set.
 */
export async function finalCheck(ports: number[], report: ModelReport, opts: FinalCheckOptions = {}): Promise<ModelReport> {
  if (ports.length === 0) throw new Error('finalCheck: no ports');
  const host = opts.host ?? '127.0.0.1';
  const n = opts.clients ?? 4;
  const rec = new Recorder(report);
  const final = { reads: 0, hits: 0, misses: 0, errors: 0 };
  const keys = report.keys;
  await Promise.all(
    Array.from({ length: n }, async (_, id) => {
      const cl = new LoadClient(id, [ports[id % ports.length]!], host, opts.timeoutMs ?? 5_000, rec);
      for (let i = id; i < keys.length; i += n) {
        for (let attempt = 0; attempt < 3; attempt++) {
          const out = await cl.exchange({ cmd: 'get', key: keys[i]! });
          if (out === undefined || out.error !== undefined) {
            final.errors++;
            continue;
          }
          for (const op of out.ops) op.cmd = 'final';
          final.reads++;
          if (out.hit) final.hits++;
          else final.misses++;
          break;
        }
      }
      await cl.close();
    }),
  );
  return summarize(rec, keys, report.initial, report.seed, report.durationMs, final);
}

/** One line of counts, then the error and violation samples. */
export function formatReport(r: ModelReport): string {
  const errs = Object.entries(r.errors.byKind)
    .map(([k, n]) => `${k}=${n}`)
    .join(' ');
  const lines = [
    `ops=${r.ops} reads=${r.reads} writes=${r.writes} deletes=${r.deletes} uncertain=${r.uncertain} errors=${r.errors.total}${errs ? ` (${errs})` : ''}` +
      ` stale=${r.staleReads} resurrected=${r.resurrectedDeletes} lost=${r.lostWrites} unexplained=${r.unexplainedReads}` +
      ` in ${Math.round(r.durationMs)} ms, checked in ${Math.round(r.checkMs)} ms` +
      (r.final ? `; final: ${r.final.reads} keys read (${r.final.hits} hits, ${r.final.misses} misses, ${r.final.errors} errors)` : ''),
    ...r.errors.samples.map((s) => `  error ${s}`),
    ...r.samples.map((s) => `  ${s}`),
    ...(r.violations ?? []).slice(0, 3).flatMap((v) => keyHistory(r.history, v.read)),
  ];
  return lines.join('\n');
}

/** Wall-clock time of a history time (performance.now()), to set beside the sidecars' logs. */
const wallClock = (t: number): string => (Number.isFinite(t) ? new Date(performance.timeOrigin + t).toISOString().slice(11, 23) : String(t));

/** What happened to the key of a violating read, in the 5 s before it (at most 40 ops), with wall-clock times. */
export function keyHistory(history: readonly Op[], read: Op): string[] {
  const ops = history.filter((o) => o.key === read.key && o.start >= read.start - 5_000 && o.start <= read.end).sort((a, b) => a.start - b.start);
  return [`  history of ${read.key} before the read at ${wallClock(read.start)} (UTC):`, ...ops.slice(-40).map((o) => `    ${wallClock(o.start)} ${o === read ? '>> ' : ''}${o.kind} ${describeOp(o)}`)];
}
