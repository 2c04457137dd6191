/**
 * Calls from the admin process to one worker over the IPC channel (messages.ts): each gets an id,
 * and is settled by the worker's reply with that id, by its deadline, or by the worker's exit.
 */
import type { CallMessage, CallOp, Calls, ReplyMessage } from './messages.js';

/** A call that did not answer: the worker said why (with the HTTP status), timed out, or is gone. */
export class CallError extends Error {
  constructor(
    message: string,
    readonly status = 500,
  ) {
    super(message);
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: CallError): void;
  timer: NodeJS.Timeout;
}

export class Caller {
  #next = 1;
  readonly #pending = new Map<number, Pending>();

  constructor(
    /** Sends a message to the worker; false when it cannot (the worker is gone). */
    private readonly send: (m: CallMessage) => boolean,
    /** For messages: "worker 1". */
    private readonly name: string,
  ) {}

  call<K extends CallOp>(op: K, args: Calls[K]['args'], timeoutMs: number): Promise<Calls[K]['value']> {
    const id = this.#next++;
    return new Promise<Calls[K]['value']>((resolve, reject) => {
      const timer = setTimeout(() => this.#settle(id, undefined, new CallError(`${this.name} did not answer ${op} within ${timeoutMs} ms`, 503)), timeoutMs);
      timer.unref();
      this.#pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      if (!this.send({ t: 'memshift:call', id, op, args })) this.#settle(id, undefined, new CallError(`${this.name} is not running`, 503));
    });
  }

  /** The worker's reply to a call. */
  reply(m: ReplyMessage): void {
    this.#settle(m.id, m.value, m.error === undefined ? undefined : new CallError(m.error, m.status ?? 500));
  }

  /** Every call still waiting fails (the worker exited). */
  failAll(why: string): void {
    for (const id of [...this.#pending.keys()]) this.#settle(id, undefined, new CallError(`${this.name} ${why}`, 503));
  }

  #settle(id: number, value: unknown, err: CallError | undefined): void {
    const p = this.#pending.get(id);
    if (p === undefined) return;
    this.#pending.delete(id);
    clearTimeout(p.timer);
    if (err === undefined) p.resolve(value);
    else p.reject(err);
  }
}
