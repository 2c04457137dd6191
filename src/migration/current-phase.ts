/**
 * A route's side of PhaseView (phase-view.ts): until when this sidecar's phase is current, and the
 * requests that stopped halfway to wait until it is again. Shared by a plain pool's route
 * (route.ts) and a replica group's remap (group-remap.ts).
 */
export class CurrentPhase {
  /** performance.now() until which the phase is current; Infinity when nothing is guarded. */
  validUntil = Infinity;
  #waiting: { at: number; resolve: (current: boolean) => void }[] = [];

  current(): boolean {
    return performance.now() <= this.validUntil;
  }

  /** Resolves true once the phase is current again, or false when that takes longer than `expire` allows. */
  whenCurrent(): Promise<boolean> {
    if (this.current()) return Promise.resolve(true);
    return new Promise((resolve) => this.#waiting.push({ at: performance.now(), resolve }));
  }

  /** Sets `validUntil`; when the phase is current then, wakes whoever waits for it and returns true. */
  set(validUntil: number): boolean {
    this.validUntil = validUntil;
    if (!this.current()) return false;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const w of waiting) w.resolve(true);
    return true;
  }

  /** Waiters older than `ms` get false. */
  expire(ms: number): void {
    const cutoff = performance.now() - ms;
    while (this.#waiting.length > 0 && this.#waiting[0]!.at < cutoff) this.#waiting.shift()!.resolve(false);
  }
}
