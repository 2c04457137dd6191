import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, MemshiftError, isErrorCode, isMemshiftError, type ErrorCode } from '../../src/errors.js';

const README = new URL('../../docs/operations.md', import.meta.url);
const codes = Object.keys(ERROR_CODES) as ErrorCode[];

describe('error codes', () => {
  it('are MS_ERR_ names, each with a one-line description', () => {
    expect(codes.length).toBeGreaterThan(0);
    for (const code of codes) {
      expect(code).toMatch(/^MS_ERR_[A-Z_]+$/);
      expect(ERROR_CODES[code]).toMatch(/^[A-Z].*\.$/);
      expect(ERROR_CODES[code]).not.toContain('\n');
    }
  });

  it('are all documented in docs/operations.md (section "Error codes")', () => {
    expect(existsSync(README), 'docs/operations.md is missing').toBe(true);
    const readme = readFileSync(README, 'utf8');
    const missing = codes.filter((code) => !readme.includes(`\`${code}\``));
    expect(missing, 'codes missing from docs/operations.md (write them as `MS_ERR_…`)').toEqual([]);
  });
});

describe('MemshiftError', () => {
  it('carries a stable code, its description as the default message, details and cause', () => {
    const cause = new Error('ECONNRESET');
    const err = new MemshiftError('MS_ERR_BACKEND_CLOSED', undefined, { details: { backend: '10.0.0.1:11211' }, cause });
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe('MemshiftError');
    expect(err.code).toBe('MS_ERR_BACKEND_CLOSED');
    expect(err.message).toBe(ERROR_CODES.MS_ERR_BACKEND_CLOSED);
    expect(err.details).toEqual({ backend: '10.0.0.1:11211' });
    expect(err.cause).toBe(cause);
    expect(new MemshiftError('MS_ERR_USAGE', 'bad flag').details).toBeUndefined();
  });

  it('is recognised by code', () => {
    const err = new MemshiftError('MS_ERR_LISTEN', 'EADDRINUSE');
    expect(isMemshiftError(err)).toBe(true);
    expect(isMemshiftError(err, 'MS_ERR_LISTEN')).toBe(true);
    expect(isMemshiftError(err, 'MS_ERR_CONFIG')).toBe(false);
    expect(isMemshiftError(new Error('x'))).toBe(false);
    expect(isErrorCode('MS_ERR_CONFIG')).toBe(true);
    expect(isErrorCode('MS_ERR_NOPE')).toBe(false);
    expect(isErrorCode('toString')).toBe(false);
  });
});
