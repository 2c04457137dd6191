import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LogBudget, TokenCheck } from '../../../src/admin/auth.js';
import { secretFile as tokenFile } from '../../../src/config/index.js';

describe('TokenCheck', () => {
  it('accepts exactly the configured token after "Bearer"', () => {
    const check = new TokenCheck('abc');
    expect(check.configured).toBe(true);
    expect(check.check('Bearer abc')).toEqual({ ok: true });
    expect(check.check('BEARER   abc  ')).toEqual({ ok: true });
    expect(check.check('Bearer abcd')).toEqual({ ok: false, reason: 'wrong' });
    expect(check.check('Bearer ab')).toEqual({ ok: false, reason: 'wrong' });
    expect(check.check('Bearer ABC')).toEqual({ ok: false, reason: 'wrong' });
    expect(check.check(undefined)).toEqual({ ok: false, reason: 'missing' });
    expect(check.check('  ')).toEqual({ ok: false, reason: 'missing' });
    expect(check.check('abc')).toEqual({ ok: false, reason: 'malformed' });
    expect(check.check('Token abc')).toEqual({ ok: false, reason: 'malformed' });
    expect(check.check('Bearer')).toEqual({ ok: false, reason: 'malformed' });
  });

  it('keeps inner spaces of a token', () => {
    expect(new TokenCheck('a b').check('Bearer a b')).toEqual({ ok: true });
  });

  it('is disabled with no token or an empty one', () => {
    for (const token of [undefined, '']) {
      const check = new TokenCheck(token);
      expect(check.configured).toBe(false);
      expect(check.check('Bearer ')).toEqual({ ok: false, reason: 'disabled' });
      expect(check.check(undefined)).toEqual({ ok: false, reason: 'disabled' });
    }
  });
});

describe('LogBudget', () => {
  it('lets perMinute through per window and counts what it dropped', () => {
    let now = 0;
    const budget = new LogBudget(3, () => now);
    expect([budget.take(), budget.take(), budget.take(), budget.take(), budget.take()]).toEqual([0, 0, 0, undefined, undefined]);
    now = 59_999;
    expect(budget.take()).toBeUndefined();
    now = 60_000;
    expect(budget.take()).toBe(3);
    expect(budget.take()).toBe(0);
  });
});

describe('tokenFile', () => {
  it('re-reads the token when the file changes, and keeps the last one when it cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'memshift-token-'));
    const path = join(dir, 'token');
    writeFileSync(path, 'first-token\n');
    const errors: string[] = [];
    const check = new TokenCheck(tokenFile(path, (err) => errors.push(err.message)));
    expect(check.check('Bearer first-token')).toEqual({ ok: true });
    writeFileSync(path, 'the-second-token\n');
    expect(check.check('Bearer the-second-token')).toEqual({ ok: true });
    expect(check.check('Bearer first-token')).toEqual({ ok: false, reason: 'wrong' });
    rmSync(path);
    expect(check.check('Bearer the-second-token')).toEqual({ ok: true });
    expect(errors).toHaveLength(1);
    rmSync(dir, { recursive: true });
  });

  it('throws at start when the file cannot be read', () => {
    expect(() => tokenFile(join(tmpdir(), 'memshift-no-such-token-file'), () => undefined)).toThrow(/ENOENT/);
  });
});
