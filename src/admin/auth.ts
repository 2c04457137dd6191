/**
 * The admin API's bearer-token check, and the budget that keeps refused attempts from flooding the log.
 *
 * Both sides are hashed (SHA-256) before `timingSafeEqual`, so the comparison always runs on two
 * 32-byte buffers: its time depends neither on where the tokens first differ nor on their lengths.
 * The supplied token is never logged.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

export type AuthRefusal = 'disabled' | 'missing' | 'malformed' | 'wrong';
export type AuthResult = { readonly ok: true } | { readonly ok: false; readonly reason: AuthRefusal };

/** The 403 message when no token is configured: mutating endpoints stay off until one is. */
export const MUTATING_DISABLED_MESSAGE =
  'mutating admin endpoints are disabled: set admin.token, admin.token_file or MEMSHIFT_ADMIN_TOKEN to enable them';

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

export class TokenCheck {
  #token: string | undefined;
  #expected: Buffer | undefined;

  /**
   * An undefined or empty token means "not configured": every mutating request is refused (403).
   * A function is asked at each check (a token file re-read when it changes).
   */
  constructor(private readonly source: string | undefined | (() => string | undefined)) {
    this.#refresh();
  }

  #refresh(): void {
    const token = typeof this.source === 'function' ? this.source() : this.source;
    if (token === this.#token) return;
    this.#token = token;
    this.#expected = token === undefined || token === '' ? undefined : digest(token);
  }

  get configured(): boolean {
    this.#refresh();
    return this.#expected !== undefined;
  }

  /** `authorization` is the raw `Authorization` header: `Bearer <token>` (scheme case-insensitive). */
  check(authorization: string | undefined): AuthResult {
    this.#refresh();
    const expected = this.#expected;
    if (expected === undefined) return { ok: false, reason: 'disabled' };
    const header = authorization?.trim() ?? '';
    if (header === '') return { ok: false, reason: 'missing' };
    const space = header.search(/\s/);
    const scheme = space < 0 ? header : header.slice(0, space);
    const supplied = space < 0 ? '' : header.slice(space + 1).trim();
    if (scheme.toLowerCase() !== 'bearer' || supplied === '') return { ok: false, reason: 'malformed' };
    return timingSafeEqual(digest(supplied), expected) ? { ok: true } : { ok: false, reason: 'wrong' };
  }
}

/**
 * At most `perMinute` log lines per fixed one-minute window. `take()` answers undefined when the line
 * must be dropped, otherwise how many were dropped since the last one let through (to log with it).
 */
export class LogBudget {
  private windowStart = Number.NEGATIVE_INFINITY;
  private used = 0;
  private dropped = 0;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number = Date.now,
  ) {}

  take(): number | undefined {
    const t = this.now();
    if (t - this.windowStart >= 60_000) {
      this.windowStart = t;
      this.used = 0;
    }
    if (this.used >= this.perMinute) {
      this.dropped++;
      return undefined;
    }
    this.used++;
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }
}
