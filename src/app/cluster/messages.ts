/**
 * What the admin process (the cluster primary) and its workers say to each other over node:cluster's
 * IPC channel, which carries structured clones (`serialization: 'advanced'`: a Config's Map and a
 * Buffer arrive as such). Every message has a `t` under `memshift:`, so other users of the channel
 * (prom-client's cluster module, say) are told apart; `isClusterMessage` checks the shape of what
 * arrives before it is used.
 *
 *   worker ─ hello ► primary ─ start ► worker      worker ─ listening, ready ─► primary
 *   primary ─ call (id, op) ──────► worker        worker ─ reply (id) ───────► primary
 *   follower ─ writes ─► primary ─ writes ─► worker 0           (failed writes, forwarded-writes.ts)
 *   follower ─ ask ───► primary ─ ask (from) ─► worker 0        (is a backend readable yet?)
 *   worker 0 ─ readiness (answer?) ─► primary ─► the followers  (recovery-follower.ts)
 *
 * A call is answered once: `reply` with the value, or with an error (and the HTTP status it maps to).
 */
import type { Config } from '../../config/types.js';
import { FrozenMap, deepFreeze } from '../../config/freeze.js';
import type { BackendRef, LostWrites, Readiness } from '../../replication/index.js';
import type { AdminRequest, AdminResponse } from '../../admin/index.js';
import type { ReloadOptions, ReloadResult } from '../reload.js';
import { isLogFormat, isLogLevel, type LogFormat, type LogLevel } from '../../observability/logger.js';

/** What a worker is asked to do (a `call`), and what its reply's value is. */
export interface Calls {
  /** An admin request forwarded by the primary (token and body already checked there). */
  admin: { args: { method: string; path: string; query: string; body: unknown }; value: AdminResponse };
  /** The worker's metrics, as prom-client's getMetricsAsJSON gives them. */
  metrics: { args: Record<string, never>; value: unknown[] };
  /**
   * A reload with this config. Not a dry run: the worker builds the next generation and answers
   * `prepared` (with the changes), then waits for `reload_end`; a reload that stops before that
   * (refused, unchanged, failed) answers `done` with its result.
   */
  reload: { args: { config: Config; opts: Pick<ReloadOptions, 'force' | 'dryRun' | 'trigger'> }; value: { done: ReloadResult } | { prepared: readonly string[] } };
  /** The end of a prepared reload: commit (serve the built generation) or not (undo it). */
  reload_end: { args: { commit: boolean }; value: ReloadResult };
  /** Drain: stop accepting, finish what is in flight, close; the worker then exits. */
  drain: { args: Record<string, never>; value: null };
}

export type CallOp = keyof Calls;

/** A worker listens for messages now (one sent before would be lost): the primary sends `start`. */
export interface HelloMessage {
  t: 'memshift:hello';
}
export interface StartMessage {
  t: 'memshift:start';
  index: number;
  workers: number;
  config: Config;
  log: { level: LogLevel; format: LogFormat };
}
export interface CallMessage<K extends CallOp = CallOp> {
  t: 'memshift:call';
  id: number;
  op: K;
  args: Calls[K]['args'];
}
export interface ReplyMessage {
  t: 'memshift:reply';
  id: number;
  value?: unknown;
  /** Set when the call failed; `status` is the HTTP status for the admin API (default 500). */
  error?: string;
  status?: number;
}
export interface ListeningMessage {
  t: 'memshift:listening';
  addresses: string[];
}
export interface ReadyMessage {
  t: 'memshift:ready';
}
/** A worker that cannot start says why before it exits (`code`: a MemshiftError's, which gives the exit status). */
export interface FailedMessage {
  t: 'memshift:failed';
  code?: string;
  message: string;
}
export interface WritesMessage {
  t: 'memshift:writes';
  /** encodeFailedWrites's bytes, or null when only `lost` has news. */
  batch: Buffer | null;
  lost: readonly LostWrites[];
}
export interface AskMessage {
  t: 'memshift:ask';
  id: number;
  /** Backends that came up in the asking worker since its last ask: worker 0 recovers them first. */
  ups: readonly BackendRef[];
  /** Set by the primary: the worker that asks. */
  from?: number;
}
export interface ReadinessMessage {
  t: 'memshift:readiness';
  readiness: Readiness;
  /** The ask this report answers (sent to that worker only). */
  answer?: { to: number; id: number };
}

export type ClusterMessage = HelloMessage | StartMessage | CallMessage | ReplyMessage | ListeningMessage | ReadyMessage | FailedMessage | WritesMessage | AskMessage | ReadinessMessage;

const CALL_OPS: ReadonlySet<string> = new Set<CallOp>(['admin', 'metrics', 'reload', 'reload_end', 'drain']);

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;
const isInt = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

function isBackendRefs(x: unknown): x is BackendRef[] {
  return Array.isArray(x) && x.every((l) => isObject(l) && typeof l.pool === 'string' && typeof l.backend === 'string');
}

function isReadiness(x: unknown): x is Readiness {
  return isObject(x) && Object.values(x).every(isStrings);
}

/** Whether `m` is one of memshift's messages, whole (anything else on the channel is left alone). */
export function isClusterMessage(m: unknown): m is ClusterMessage {
  if (!isObject(m) || typeof m.t !== 'string') return false;
  switch (m.t) {
    case 'memshift:start':
      return isInt(m.index) && isInt(m.workers) && isObject(m.config) && m.config.pools instanceof Map && isObject(m.log) && isLogLevel(m.log.level) && isLogFormat(m.log.format);
    case 'memshift:call':
      return isInt(m.id) && typeof m.op === 'string' && CALL_OPS.has(m.op) && isObject(m.args);
    case 'memshift:reply':
      return isInt(m.id) && (m.error === undefined || typeof m.error === 'string') && (m.status === undefined || isInt(m.status));
    case 'memshift:listening':
      return isStrings(m.addresses);
    case 'memshift:ready':
    case 'memshift:hello':
      return true;
    case 'memshift:failed':
      return typeof m.message === 'string' && (m.code === undefined || typeof m.code === 'string');
    case 'memshift:writes':
      return (m.batch === null || Buffer.isBuffer(m.batch)) && isBackendRefs(m.lost);
    case 'memshift:ask':
      return isInt(m.id) && isBackendRefs(m.ups) && (m.from === undefined || isInt(m.from));
    case 'memshift:readiness':
      return isReadiness(m.readiness) && (m.answer === undefined || (isObject(m.answer) && isInt(m.answer.to) && isInt(m.answer.id)));
    default:
      return false;
  }
}

/** A Config as it arrives (a structured clone: its pools a plain Map, nothing frozen), frozen again as load.ts leaves it. */
export function reviveConfig(c: Config): Config {
  return deepFreeze({ ...c, pools: new FrozenMap(c.pools) });
}

/** An admin request to forward (the query as its string). */
export function forwardedRequest(req: AdminRequest): Calls['admin']['args'] {
  return { method: req.method, path: req.path, query: req.query.toString(), body: req.body };
}
