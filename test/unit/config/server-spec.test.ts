import { describe, expect, it } from 'vitest';
import { parseServerSpec } from '../../../src/config/server-spec.js';
import type { ServerSpec } from '../../../src/config/types.js';

function good(raw: string): ServerSpec {
  const r = parseServerSpec(raw);
  if (!r.ok) throw new Error(`expected "${raw}" to parse, got: ${r.error}`);
  return r.value;
}

function bad(raw: string): string {
  const r = parseServerSpec(raw);
  if (r.ok) throw new Error(`expected "${raw}" to be refused, got ${JSON.stringify(r.value)}`);
  return r.error;
}

describe('parseServerSpec: twemproxy "host:port[:weight] [name]"', () => {
  it('parses host:port:weight', () => {
    expect(good('10.0.0.1:11211:3')).toEqual({ host: '10.0.0.1', port: 11211, weight: 3, address: '10.0.0.1:11211', raw: '10.0.0.1:11211:3' });
  });

  it('defaults the weight to 1 and leaves the name unset', () => {
    const s = good('cache-1.internal:11212');
    expect(s).toEqual({ host: 'cache-1.internal', port: 11212, weight: 1, address: 'cache-1.internal:11212', raw: 'cache-1.internal:11212' });
    expect('name' in s).toBe(false);
  });

  it('takes a name after whitespace, with or without a weight', () => {
    expect(good('10.0.0.2:11211:1 node-b')).toMatchObject({ host: '10.0.0.2', port: 11211, weight: 1, name: 'node-b', address: '10.0.0.2:11211' });
    expect(good('10.0.0.2:11211 node-b')).toMatchObject({ weight: 1, name: 'node-b' });
    expect(good('10.0.0.2:11211:2\tserver1')).toMatchObject({ weight: 2, name: 'server1' });
  });

  it('keeps the raw string as written', () => {
    expect(good('  10.0.0.1:11211:1  ').raw).toBe('  10.0.0.1:11211:1  ');
  });

  it('accepts a bracketed IPv6 host; the address keeps the brackets, the host does not', () => {
    expect(good('[::1]:11211:2 v6')).toMatchObject({ host: '::1', port: 11211, weight: 2, name: 'v6', address: '[::1]:11211' });
    expect(good('[fd00::1:2]:11212')).toMatchObject({ host: 'fd00::1:2', port: 11212, weight: 1, address: '[fd00::1:2]:11212' });
  });

  it('accepts the largest port and weights above 1', () => {
    expect(good('h:65535:100')).toMatchObject({ port: 65535, weight: 100 });
  });

  it.each([
    ['10.0.0.1:11211:x', 'weight must be a positive integer, got "x"'],
    ['10.0.0.1:11211:0', 'weight must be a positive integer, got "0"'],
    ['10.0.0.1:11211:-1', 'weight must be a positive integer, got "-1"'],
    ['10.0.0.1:11211:1.5', 'weight must be a positive integer, got "1.5"'],
    ['10.0.0.1:11211:', 'weight must be a positive integer, got ""'],
    ['10.0.0.1', 'missing port'],
    ['10.0.0.1:', 'missing port'],
    ['10.0.0.1:0', 'port must be an integer from 1 to 65535, got "0"'],
    ['10.0.0.1:65536', 'port must be an integer from 1 to 65535, got "65536"'],
    ['10.0.0.1:http', 'port must be an integer from 1 to 65535, got "http"'],
    [':11211', 'missing host'],
    ['', 'empty server'],
    ['   ', 'empty server'],
    ['10.0.0.1:11211:1:9', 'expected "host:port[:weight] [name]"'],
    ['10.0.0.1:11211:1 a b', 'no whitespace in the name'],
    ['bad host!:11211', 'missing port'],
    ['fd00:0:0:0:0:0:0:1:11211', 'an IPv6 address must be in brackets'],
    ['bad!host:11211', '"bad!host" is not a valid hostname or IP address'],
    ['::1:11211:1', 'an IPv6 address must be in brackets'],
    ['[::1:11211', 'missing "]"'],
    ['[nothost]:11211', '"nothost" is not an IPv6 address'],
    ['[::1]11211', 'expected ":" after "]"'],
    ['[::1]', 'missing port'],
    ['/var/run/memcached.sock:1', 'unix-socket backends are not supported'],
    ['unix:/var/run/memcached.sock', 'unix-socket backends are not supported'],
  ])('refuses %j', (raw, message) => {
    expect(bad(raw)).toContain(message);
  });
});
