/**
 * A coarse clock and one shared ticker for request deadlines: no timer per
 * request. Each registered checker is called every TICK_MS with the time.
 */

export const TICK_MS = 25;

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
    timer = setInterval(() => {
      const t0 = performance.now();
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
