import { describe, expect, it } from 'vitest';
import { parseDuration, parseSize } from '../../../src/config/units.js';
import { parseListenString, parseSocketMode } from '../../../src/config/listen.js';

const value = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};
const error = (r: { ok: true; value: unknown } | { ok: false; error: string }): string => {
  if (r.ok) throw new Error(`expected an error, got ${JSON.stringify(r.value)}`);
  return r.error;
};

describe('parseSize', () => {
  it.each([
    [1048576, 1048576],
    ['1048576', 1048576],
    [0, 0],
    ['512b', 512],
    ['64k', 65536],
    ['64K', 65536],
    ['64kb', 65536],
    ['64KiB', 65536],
    ['1m', 1048576],
    ['1MiB', 1048576],
    ['1MB', 1048576],
    ['8m', 8 * 1048576],
    ['1.5m', 1572864],
    ['2 MiB', 2097152],
    ['1g', 1024 ** 3],
  ])('%j is %d bytes', (input, bytes) => {
    expect(value(parseSize(input))).toBe(bytes);
  });

  it.each([['1q'], ['m'], ['-1'], [-1], ['1.5'], [1.5], ['1.0000001k'], [true], [null], [[]], [{}], ['']])('refuses %j', (input) => {
    expect(error(parseSize(input))).toMatch(/size such as|whole number of bytes/);
  });

  it('quotes what it got', () => {
    expect(error(parseSize('1q'))).toBe('expected a byte count or a size such as "64k", "1m", "1MiB", got "1q"');
    expect(error(parseSize(true))).toContain('got true');
  });
});

describe('parseDuration', () => {
  it.each([
    [1000, 1000],
    ['1000', 1000],
    ['250ms', 250],
    ['1s', 1000],
    ['1.5s', 1500],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['10 s', 10_000],
    [0, 0],
  ])('%j is %d ms', (input, ms) => {
    expect(value(parseDuration(input))).toBe(ms);
  });

  it.each([['1z'], ['s'], [-5], ['1.5'], [0.5], ['1d'], [false], [null]])('refuses %j', (input) => {
    expect(error(parseDuration(input))).toMatch(/duration such as|whole number of ms/);
  });
});

describe('listen strings', () => {
  it('parses tcp and unix forms', () => {
    expect(value(parseListenString('127.0.0.1:11211'))).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 11211, raw: '127.0.0.1:11211' });
    expect(value(parseListenString('[::1]:0'))).toEqual({ kind: 'tcp', host: '::1', port: 0, raw: '[::1]:0' });
    expect(value(parseListenString('localhost:22122'))).toMatchObject({ kind: 'tcp', host: 'localhost', port: 22122 });
    expect(value(parseListenString('unix:/run/memshift.sock'))).toEqual({ kind: 'unix', path: '/run/memshift.sock', raw: 'unix:/run/memshift.sock' });
    expect(value(parseListenString('/run/memshift.sock'))).toEqual({ kind: 'unix', path: '/run/memshift.sock', raw: '/run/memshift.sock' });
  });

  it.each([
    ['', 'empty listen entry'],
    ['127.0.0.1', 'expected "host:port" or "unix:/path"'],
    ['127.0.0.1:11211:1', 'expected "host:port" or "unix:/path"'],
    ['127.0.0.1:70000', 'port must be an integer from 0 to 65535'],
    [':11211', 'missing host'],
    ['unix:', 'empty unix socket path'],
    [`unix:/${'x'.repeat(120)}`, 'longer than 107 bytes'],
  ])('refuses %j', (raw, message) => {
    expect(error(parseListenString(raw))).toContain(message);
  });

  it('socket modes are quoted octal strings', () => {
    expect(value(parseSocketMode('0660'))).toBe(0o660);
    expect(value(parseSocketMode('600'))).toBe(0o600);
    expect(value(parseSocketMode('0o644'))).toBe(0o644);
    expect(error(parseSocketMode(660))).toContain('quoted octal string');
    expect(error(parseSocketMode('0999'))).toContain('octal string');
    expect(error(parseSocketMode('1777'))).toContain('at most "0777"');
  });
});
