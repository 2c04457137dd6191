/**
 * A worker of `workers: N` (forked by primary.ts; worker-main.ts is its entry). It runs the proxy as
 * one process does (server.ts): the client listeners (node:cluster shares them between the workers:
 * the primary accepts and hands each connection to one worker, in turn), the backends, the
 * dispatcher, replication and the migration followers. What differs:
 *
 *   - no admin listener: its endpoints go to an AdminRoutes the primary asks (a `call`);
 *   - worker 0 alone leads migrations and failovers, owns the failed-write logs (it takes the other
 *     workers' missed writes) and runs replay and rebuilds; it reports which backends are not
 *     readable yet, on a change and when a worker asks;
 *   - the others follow: the migration records, and worker 0's readiness reports;
 *   - a reload comes from the primary with the config (all workers apply it or none: `confirm`);
 *   - SIGTERM/SIGINT drain it as the primary's `drain` does; SIGHUP is the primary's to handle.
 */
import { AdminRoutes } from '../../admin/index.js';
import { isMemshiftError } from '../../errors.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { decodeFailedWrites, FailedWriteSender, ReadinessFollower } from '../../replication/index.js';
import type { ReloadResult } from '../reload.js';
import { startProxy, type ProxyServer } from '../server.js';
import type { WorkerRole } from '../worker-role.js';
import { isClusterMessage, reviveConfig, type CallMessage, type Calls, type ClusterMessage, type StartMessage } from './messages.js';
import { CallError } from './calls.js';

/** How often worker 0 looks whether its readiness report changed (a backend going down tells no one). */
const REPORT_CHECK_MS = 250;

/** Sends `m` to the primary; `sent` once the channel took it. False when the channel is gone. */
function send(m: ClusterMessage, sent?: () => void): boolean {
  if (process.send === undefined || !process.connected) return false;
  process.send(m, undefined, {}, sent === undefined ? undefined : () => sent());
  return true;
}

/** Waits for the primary's start message, then runs the worker until it is drained. */
export async function runWorker(): Promise<void> {
  const start = await new Promise<StartMessage>((resolve) => {
    const on = (m: unknown): void => {
      if (!isClusterMessage(m) || m.t !== 'memshift:start') return;
      process.off('message', on);
      resolve(m);
    };
    process.on('message', on);
    send({ t: 'memshift:hello' });
  });
  const logger = createLogger(start.log).child({ worker: start.index });
  const worker = new Worker(start, logger);
  process.on('message', (m) => {
    if (isClusterMessage(m)) worker.onMessage(m);
  });
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => void worker.drain().then(() => process.exit(0)));
  process.on('SIGHUP', () => logger.warn('SIGHUP to a worker is not a reload: send it to the memshift process that forked the workers'));
  await worker.start();
}

class Worker {
  readonly #owner: boolean;
  readonly #role: WorkerRole;
  readonly #endpoints: AdminRoutes;
  readonly #readiness: ReadinessFollower | undefined;
  #proxy: ProxyServer | undefined;
  readonly #started: Promise<ProxyServer>;
  #begin!: () => void;
  #closing: Promise<void> | undefined;
  /** The reload waiting for `reload_end` (the primary runs one at a time). */
  #reload: { end: (commit: boolean) => void; result: Promise<ReloadResult> } | undefined;
  #lastReport = '';
  #reportQueued = false;

  constructor(
    readonly given: StartMessage,
    readonly logger: Logger,
  ) {
    this.#owner = given.index === 0;
    this.#endpoints = new AdminRoutes(logger);
    this.#readiness = this.#owner ? undefined : new ReadinessFollower((id, ups) => send({ t: 'memshift:ask', id, ups }));
    this.#role = {
      index: given.index,
      workers: given.workers,
      leads: this.#owner,
      replication: this.#readiness === undefined
        ? { owner: true, changed: () => this.#reportSoon() }
        : { owner: false, readiness: this.#readiness, sender: new FailedWriteSender((batch, lost, sent) => (send({ t: 'memshift:writes', batch, lost }, sent) ? undefined : sent())) },
    };
    const begun = new Promise<void>((resolve) => (this.#begin = resolve));
    this.#started = begun.then(() => this.#run());
  }

  /** Starts the proxy; a start that fails tells the primary why and ends the process. */
  async start(): Promise<void> {
    this.#begin();
    try {
      await this.#started;
    } catch (err) {
      const code = isMemshiftError(err) ? err.code : undefined;
      const message = err instanceof Error ? err.message : String(err);
      this.logger.fatal({ code, err: message }, 'worker cannot start; exiting');
      await new Promise<void>((resolve) => (send({ t: 'memshift:failed', message, ...(code === undefined ? {} : { code }) }, resolve) ? undefined : resolve()));
      process.exit(1);
    }
  }

  async #run(): Promise<ProxyServer> {
    const config = reviveConfig(this.given.config);
    const proxy = await startProxy(config, {
      logger: this.logger,
      worker: { role: this.#role, endpoints: this.#endpoints, onListening: (addresses) => send({ t: 'memshift:listening', addresses: [...addresses] }) },
    });
    this.#proxy = proxy;
    if (this.#owner) {
      this.#report();
      setInterval(() => this.#report(), REPORT_CHECK_MS).unref();
    }
    send({ t: 'memshift:ready' });
    return proxy;
  }

  onMessage(m: ClusterMessage): void {
    switch (m.t) {
      case 'memshift:call':
        void this.#answer(m);
        return;
      case 'memshift:writes': {
        const replication = this.#proxy?.replication;
        if (!this.#owner || replication === undefined) return;
        if (m.batch !== null) {
          try {
            replication.appendForwarded(decodeFailedWrites(m.batch));
          } catch (err) {
            this.logger.error({ err: (err as Error).message }, 'failed-write batch from another worker unreadable; dropped');
          }
        }
        replication.markLost(m.lost);
        return;
      }
      case 'memshift:ask':
        if (!this.#owner || m.from === undefined) return;
        // Recovery holds each backend it starts on at once: the answer says so.
        this.#proxy?.replication.recoverUps(m.ups);
        this.#report({ to: m.from, id: m.id });
        return;
      case 'memshift:readiness':
        this.#readiness?.report(m.readiness, m.answer?.id);
        return;
      default:
        return;
    }
  }

  /** Stops accepting, finishes what is in flight, closes (once; a start under way is let finish first). */
  drain(): Promise<void> {
    this.#closing ??= (async () => {
      this.#reload?.end(false);
      const proxy = await this.#started.catch(() => undefined);
      await proxy?.close();
    })();
    return this.#closing;
  }

  async #answer(m: CallMessage): Promise<void> {
    let reply: ClusterMessage;
    try {
      reply = { t: 'memshift:reply', id: m.id, value: await this.#call(m) };
    } catch (err) {
      reply = { t: 'memshift:reply', id: m.id, error: err instanceof Error ? err.message : String(err), status: err instanceof CallError ? err.status : 500 };
    }
    send(reply, m.op === 'drain' ? () => process.exit(0) : undefined);
  }

  async #call(m: CallMessage): Promise<unknown> {
    if (m.op === 'drain') return this.drain().then(() => null);
    if (this.#closing !== undefined) throw new CallError('memshift is stopping', 503);
    const proxy = await this.#started;
    switch (m.op) {
      case 'admin': {
        const a = m.args as Calls['admin']['args'];
        return this.#endpoints.answer({ method: a.method, path: a.path, query: new URLSearchParams(a.query), body: a.body });
      }
      case 'metrics':
        if (proxy.metrics === undefined) throw new CallError('no metrics: the config has no admin API', 404);
        return proxy.metrics.registry.getMetricsAsJSON();
      case 'reload':
        return this.#reloadStep(proxy, m.args as Calls['reload']['args']);
      case 'reload_end': {
        const r = this.#reload;
        if (r === undefined) throw new CallError('no reload is waiting', 409);
        this.#reload = undefined;
        r.end((m.args as Calls['reload_end']['args']).commit);
        return r.result;
      }
      default:
        throw new CallError(`unknown call ${String(m.op)}`, 400);
    }
  }

  /** A reload: a dry run answers at once; a real one answers `prepared` once built, and waits for reload_end. */
  #reloadStep(proxy: ProxyServer, args: Calls['reload']['args']): Promise<Calls['reload']['value']> {
    const config = reviveConfig(args.config);
    if (args.opts.dryRun === true) return proxy.reload(config, args.opts).then((done) => ({ done }));
    return new Promise((resolve) => {
      let prepared = false;
      const result = proxy.reload(config, {
        ...args.opts,
        confirm: (changes) =>
          new Promise<boolean>((end) => {
            prepared = true;
            this.#reload = { end, result };
            resolve({ prepared: changes });
          }),
      });
      void result.then((done) => {
        if (!prepared) resolve({ done });
      });
    });
  }

  /** Worker 0: a report soon (coalesced: the held set may change several times in a turn). */
  #reportSoon(): void {
    if (this.#reportQueued) return;
    this.#reportQueued = true;
    setImmediate(() => {
      this.#reportQueued = false;
      this.#report();
    });
  }

  /** Worker 0: sends its readiness when it changed, or to the worker whose ask it answers. */
  #report(answer?: { to: number; id: number }): void {
    const replication = this.#proxy?.replication;
    if (replication === undefined) return;
    const readiness = replication.readiness();
    const text = JSON.stringify(readiness);
    if (answer === undefined && text === this.#lastReport) return;
    if (answer === undefined) this.#lastReport = text;
    send({ t: 'memshift:readiness', readiness, ...(answer === undefined ? {} : { answer }) });
  }
}
