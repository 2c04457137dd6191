/**
 * `workers: N` (N > 1): the process `memshift serve` runs is the node:cluster primary. It serves no
 * client; it holds the admin listener (primary-admin.ts), forks the N workers (worker.ts), and is
 * how memshift stays one process to the outside:
 *
 *   start      bind the admin listener, fork worker 0 and wait until its client listeners are
 *              bound (node:cluster binds them here and hands each accepted connection to a worker,
 *              in turn), fork the others, wait until every one serves. A worker that cannot start
 *              ends the start with its error (a listener that cannot bind: exit 69), the others killed.
 *   serving    a worker that ends unasked is forked again with its index, after a backoff (0.5 s
 *              doubling to 30 s; none after it served a minute), and logged. Worker 0 leads the
 *              migrations and owns the failed-write logs: the others' missed writes go to it
 *              through here, dropped and marked lost (the backend is rebuilt) while it is away.
 *   reload     the config is read here and sent to every worker; all apply it or none does (each
 *              builds its generation, then all serve it, or all undo it). One at a time; a worker
 *              forked again meanwhile starts with the config the reload leaves.
 *   shutdown   every worker drains (stops accepting, finishes what is in flight); the admin
 *              listener closes last. A worker that did not drain cleanly makes the shutdown fail.
 */
import cluster, { type Worker as ClusterWorker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import type { AdminServer } from '../../admin/index.js';
import type { Config } from '../../config/types.js';
import { isErrorCode, MemshiftError } from '../../errors.js';
import type { LogFormat, Logger, LogLevel } from '../../observability/logger.js';
import { decodeFailedWrites, type LostWrites } from '../../replication/index.js';
import { ReloadCounters, reloadOutcome, STOPPING, stoppingOutcome, type ConfigSource, type ReloadOptions, type ReloadResult } from '../reload.js';
import { CallError, Caller } from './calls.js';
import { isClusterMessage, type ClusterMessage, type FailedMessage, type WritesMessage } from './messages.js';
import { startPrimaryAdmin } from './primary-admin.js';
import { reloadWorkers } from './reload-workers.js';

export interface ClusterDeps {
  logger: Logger;
  /** The workers log as the primary does. */
  log: { level: LogLevel; format: LogFormat };
  /** Re-reads the config from its source (POST /reload); absent: POST /reload answers 409. */
  reloadFromSource?: (opts?: { peek?: boolean }) => Config | Promise<Config>;
}

export interface RunningCluster {
  close(): Promise<void>;
  readonly addresses: string[];
  reload(next: ConfigSource, opts?: ReloadOptions): Promise<ReloadResult>;
}

/** The worker's entry: worker-main.js next to this file (worker-main.ts when run from the sources by tsx). */
const WORKER_MAIN = fileURLToPath(new URL(import.meta.url.endsWith('.ts') ? './worker-main.ts' : './worker-main.js', import.meta.url));
const DRAIN_CALL_MS = 30_000;
/** Bytes of forwarded failed writes on their way to worker 0; past it they are dropped and their backends marked. */
const MAX_FORWARD_BYTES = 16 * 1024 * 1024;
const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that served this long before it ended is forked again at once. */
const RESTART_RESET_MS = 60_000;

interface Slot {
  readonly index: number;
  proc: ClusterWorker | null;
  caller: Caller;
  state: 'starting' | 'serving' | 'gone';
  startedAt: number;
  /** Ends in a row, each before it served RESTART_RESET_MS. */
  failures: number;
  failure: FailedMessage | undefined;
  /** Resolves when the process ends, with its exit code (null: a signal). */
  exited: Promise<number | null>;
  listening: Deferred;
  serving: Deferred;
  timer: NodeJS.Timeout | undefined;
}

interface Deferred {
  promise: Promise<void>;
  resolve(): void;
  reject(err: Error): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (err: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

export async function startCluster(config: Config, deps: ClusterDeps): Promise<RunningCluster> {
  const primary = new Primary(config, deps);
  await primary.start();
  return primary;
}

class Primary implements RunningCluster {
  readonly #slots: Slot[] = [];
  readonly #reloads = new ReloadCounters();
  #admin: AdminServer | undefined;
  /** Every worker served once: from then on a worker that ends is forked again. */
  #served = false;
  #closing: Promise<void> | null = null;
  #queue: Promise<unknown> = Promise.resolve();
  #restarts = 0;
  #addresses: string[] = [];
  /** Backends whose forwarded failed writes were dropped while worker 0 was away: marked once it serves. */
  readonly #lost = new Map<string, LostWrites>();
  #forwarding = 0;

  constructor(
    /** The config the workers run (a reload replaces it). */
    private config: Config,
    readonly deps: ClusterDeps,
  ) {}

  get addresses(): string[] {
    return [...this.#addresses];
  }

  async start(): Promise<void> {
    const { logger } = this.deps;
    cluster.setupPrimary({ exec: WORKER_MAIN, serialization: 'advanced' });
    if (this.config.admin !== undefined) {
      this.#admin = await startPrimaryAdmin(this.config, {
        logger,
        reloads: this.#reloads,
        serving: () => this.#slots.filter((s) => s.state === 'serving'),
        ready: () => this.#closing === null && this.#slots.length === this.config.workers && this.#slots.every((s) => s.state === 'serving'),
        started: () => this.#served,
        counts: () => ({ workers: this.config.workers, serving: this.#slots.filter((s) => s.state === 'serving').length, restarts: this.#restarts }),
        reload: (next, opts) => this.reload(next, opts),
        source: this.deps.reloadFromSource,
      });
    }
    try {
      // Worker 0 binds first (it also removes a stale unix socket file), then the others share.
      const first = this.#fork(0);
      await first.listening.promise;
      for (let i = 1; i < this.config.workers; i++) this.#fork(i);
      await Promise.all(this.#slots.map((s) => s.serving.promise));
    } catch (err) {
      for (const s of this.#slots) s.proc?.process.kill('SIGKILL');
      await Promise.all(this.#slots.map((s) => s.exited));
      await this.#admin?.close();
      throw err;
    }
    this.#served = true;
    logger.info({ workers: this.config.workers, pids: this.#slots.map((s) => s.proc?.process.pid) }, 'every worker serves');
  }

  /** Forks the worker of `index` (again, when its slot exists) with the config that runs now. */
  #fork(index: number): Slot {
    const proc = cluster.fork();
    const send = (m: ClusterMessage): boolean => {
      if (!proc.isConnected()) return false;
      proc.send(m);
      return true;
    };
    const slot: Slot = Object.assign(this.#slots[index] ?? ({ index, failures: 0 } as Slot), {
      proc,
      caller: new Caller(send, `worker ${index}`),
      state: 'starting' as const,
      startedAt: Date.now(),
      failure: undefined,
      exited: new Promise<number | null>((resolve) => proc.once('exit', (code: number | null) => resolve(code))),
      listening: deferred(),
      serving: deferred(),
      timer: undefined,
    });
    this.#slots[index] = slot;
    proc.on('message', (m: unknown) => {
      if (isClusterMessage(m)) this.#onMessage(slot, m);
    });
    proc.once('exit', (code: number | null, signal: string | null) => this.#onExit(slot, proc, code, signal));
    return slot;
  }

  #onMessage(slot: Slot, m: ClusterMessage): void {
    switch (m.t) {
      case 'memshift:hello':
        // The config that runs now: a reload in flight finishes before a fork (#serial).
        this.#send(slot.index, { t: 'memshift:start', index: slot.index, workers: this.config.workers, config: this.config, log: this.deps.log });
        return;
      case 'memshift:listening':
        if (slot.index === 0) this.#addresses = m.addresses;
        slot.listening.resolve();
        return;
      case 'memshift:ready':
        slot.state = 'serving';
        slot.serving.resolve();
        if (this.#served) this.deps.logger.info({ worker: slot.index, worker_pid: slot.proc?.process.pid }, `worker ${slot.index} serves again`);
        if (slot.index === 0 && this.#lost.size > 0) {
          this.#send(0, { t: 'memshift:writes', batch: null, lost: [...this.#lost.values()] });
          this.#lost.clear();
        }
        return;
      case 'memshift:failed':
        slot.failure = m;
        return;
      case 'memshift:reply':
        slot.caller.reply(m);
        return;
      case 'memshift:writes':
        this.#forwardWrites(m);
        return;
      case 'memshift:ask':
        if (this.#slots[0]?.state === 'serving') this.#send(0, { ...m, from: slot.index });
        return;
      case 'memshift:readiness':
        if (slot.index !== 0) return;
        if (m.answer !== undefined) this.#send(m.answer.to, m);
        else for (const s of this.#slots) if (s.index !== 0) this.#send(s.index, m);
        return;
      default:
        return;
    }
  }

  #send(index: number, m: ClusterMessage, sent?: () => void): boolean {
    const proc = this.#slots[index]?.proc;
    if (proc === null || proc === undefined || !proc.isConnected()) return false;
    proc.send(m, undefined, {}, sent === undefined ? undefined : () => sent());
    return true;
  }

  /** A follower's failed writes, to worker 0; while it cannot take them, their backends are marked lost. */
  #forwardWrites(m: WritesMessage): void {
    const size = m.batch?.length ?? 0;
    if (this.#slots[0]?.state === 'serving' && this.#forwarding + size <= MAX_FORWARD_BYTES) {
      this.#forwarding += size;
      if (this.#send(0, m, () => (this.#forwarding -= size))) return;
      this.#forwarding -= size;
    }
    const lost = [...m.lost, ...(m.batch === null ? [] : decodeFailedWrites(m.batch))];
    if (this.#lost.size === 0) this.deps.logger.warn('failed writes of a worker could not reach worker 0: their backends will be rebuilt');
    for (const l of lost) this.#lost.set(`${l.pool}\0${l.backend}`, { pool: l.pool, backend: l.backend });
  }

  #onExit(slot: Slot, proc: ClusterWorker, code: number | null, signal: string | null): void {
    if (slot.proc !== proc) return;
    slot.proc = null;
    slot.state = 'gone';
    slot.caller.failAll('exited');
    const { logger } = this.deps;
    if (!this.#served) {
      const f = slot.failure;
      const err = f === undefined ? new Error(`worker ${slot.index} ended before it served (exit code ${code}, signal ${signal})`) : isErrorCode(f.code) ? new MemshiftError(f.code, f.message) : new Error(f.message);
      slot.listening.reject(err);
      slot.serving.reject(err);
      return;
    }
    if (this.#closing !== null) return;
    slot.failures = Date.now() - slot.startedAt >= RESTART_RESET_MS ? 0 : slot.failures + 1;
    const delay = slot.failures === 0 ? 0 : Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (slot.failures - 1));
    this.#restarts++;
    logger.error({ worker: slot.index, worker_pid: proc.process.pid, code, signal, restart_in_ms: delay }, `worker ${slot.index} ended; forking it again`);
    slot.timer = setTimeout(() => void this.#serial(async () => {
      if (this.#closing === null) this.#fork(slot.index);
    }), delay);
  }

  /** Runs `work` after what is queued (reloads, forks): one at a time. */
  #serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  reload(next: ConfigSource, opts: ReloadOptions = {}): Promise<ReloadResult> {
    const dry = opts.dryRun === true;
    if (this.#closing !== null) return Promise.resolve(stoppingOutcome(dry));
    return this.#serial(async () => {
      if (this.#closing !== null) return stoppingOutcome(dry);
      const { logger } = this.deps;
      const trigger = opts.trigger ?? 'request';
      let config: Config;
      try {
        config = typeof next === 'function' ? await next() : next;
      } catch (err) {
        const message = (err as Error).message;
        if (!dry) this.#reloads.failed++;
        logger.error({ trigger, err: message }, `config reload failed: the new config is invalid; the running config stays: ${message}`);
        return reloadOutcome('failed', dry, { errors: [message] });
      }
      const workers = this.#slots.filter((s) => s.proc !== null);
      const { outcome, refusedBy } = await reloadWorkers(workers, config, { ...opts, trigger });
      if (dry) {
        logger.info({ trigger, result: outcome.result, changes: outcome.changes, errors: outcome.errors }, 'config reload dry run: nothing changed');
        return outcome;
      }
      const counted = outcome.result === 'would_apply' ? 'applied' : outcome.result;
      this.#reloads[counted]++;
      if (outcome.result === 'applied') {
        this.config = config;
        this.#reloads.lastAppliedAt = Date.now() / 1000;
        logger.info({ trigger, changes: outcome.changes, source: config.source, workers: workers.length }, 'config reloaded');
      } else if (outcome.result === 'unchanged') logger.info({ trigger }, 'config reload: nothing changed');
      else logger.error({ trigger, worker: refusedBy, errors: outcome.errors }, `config reload ${outcome.result}; the running config stays: ${outcome.errors.join('; ')}`);
      return outcome;
    });
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      const { logger } = this.deps;
      this.#admin?.refuseMutations(STOPPING);
      for (const s of this.#slots) clearTimeout(s.timer);
      logger.info({ workers: this.#slots.filter((s) => s.proc !== null).length }, 'shutting down: every worker drains');
      const codes = await Promise.all(
        this.#slots.map(async (s) => {
          const proc = s.proc;
          if (proc === null) return 0;
          await s.caller.call('drain', {}, DRAIN_CALL_MS).catch((err: unknown) => {
            logger.error({ worker: s.index, err: (err as CallError).message }, `worker ${s.index} did not drain; killing it`);
            proc.process.kill('SIGKILL');
          });
          return s.exited;
        }),
      );
      await this.#admin?.close();
      const bad = codes.map((c, i) => [i, c] as const).filter(([, c]) => c !== 0);
      if (bad.length > 0) throw new Error(`worker ${bad.map(([i, c]) => `${i} (exit ${c})`).join(', ')} did not stop cleanly`);
      logger.info('shutdown complete');
    })();
    return this.#closing;
  }
}
