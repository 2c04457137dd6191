/**
 * A coarse clock and one shared ticker for request deadlines: no timer per
 * request. Each registered checker is called every TICK_MS with the time.
 *
 * After the process stood still (a long synchronous stretch, CPU throttling, SIGSTOP), the first
 * tick is skipped: the replies that arrived meanwhile are still unread in the sockets, and judging
 * deadlines before reading them would time out (and reset) every connection with requests in
 * flight, though the servers answered in time.
 */

export const TICK_MS = 25;

/** A gap between ticks longer than this means the process stood still. */
export const STALL_MS = 250;

/** Decides whether a tick judges deadlines: not the first one after a stall (at most one in a row is skipped). */
export class TickGate {
  #last: number;
  #skipped = false;

  constructor(start: number) {
    this.#last = start;
  }

  admit(now: number): boolean {
    const gap = now - this.#last;
    this.#last = now;
    if (gap > STALL_MS && !this.#skipped) {
      this.#skipped = true;
      return false;
    }
    this.#skipped = false;
    return true;
  }
}

export interface Ticking {
  tick(now: number): void;
}

const members = new Set<Ticking>();
let timer: NodeJS.Timeout | null = null;

export function now(): number {
  return performance.now();
}

export function addTicking(t: Ticking): void {
  members.add(t);
  if (timer === null) {
    const gate = new TickGate(performance.now());
    timer = setInterval(() => {
      const t0 = performance.now();
      if (!gate.admit(t0)) return;
      for (const m of members) m.tick(t0);
    }, TICK_MS);
    timer.unref();
  }
}

export function removeTicking(t: Ticking): void {
  members.delete(t);
  if (members.size === 0 && timer !== null) {
    clearInterval(timer);
    timer = null;
  }
}

/** Resolves after `ms`; the timer does not keep the process alive (background loops use it). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
