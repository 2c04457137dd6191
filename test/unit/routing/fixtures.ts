/**
 * Loads the golden vectors in test/fixtures/ring/ (written by scripts/gen-ring-fixtures.ts from live
 * nutcracker, the npm memcached client and twemproxy's C hashes) and compares a ring against them.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DistributionName, ServerSpec } from '../../../src/config/types.js';
import { createRing } from '../../../src/routing/index.js';
import type { TwemproxyHashName } from '../../../src/routing/hash.js';

export const FIXTURE_DIR = join(dirname(fileURLToPath(import.meta.url)), '../../fixtures/ring');

export interface RingFixture {
  readonly case: string;
  readonly description: string;
  readonly source: string;
  readonly pool: {
    readonly hash: TwemproxyHashName;
    readonly distribution: DistributionName;
    readonly hashTag?: string;
    readonly servers: readonly { host: string; port: number; weight: number; name?: string }[];
  };
  /** [key, server index]; a key is printable ASCII as is, else "hex:<hex>". */
  readonly keys: readonly (readonly [string, number])[];
}

export interface HashVectors {
  readonly source: string;
  readonly keys: readonly string[];
  readonly hashes: Readonly<Record<TwemproxyHashName, readonly number[]>>;
}

export function decodeKey(key: string): Buffer {
  return key.startsWith('hex:') ? Buffer.from(key.slice(4), 'hex') : Buffer.from(key, 'latin1');
}

export function loadFixture(name: string): RingFixture {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, `${name}.json`), 'utf8')) as RingFixture;
}

export function fixtureNames(prefix: string): string[] {
  return readdirSync(FIXTURE_DIR)
    .filter((f) => f.startsWith(prefix) && f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
}

export function loadHashVectors(): HashVectors {
  return JSON.parse(readFileSync(join(FIXTURE_DIR, 'hash-vectors.json'), 'utf8')) as HashVectors;
}

export function serverSpecs(fixture: RingFixture): ServerSpec[] {
  return fixture.pool.servers.map((s) => {
    const address = `${s.host}:${s.port}`;
    const raw = `${address}:${s.weight}${s.name === undefined ? '' : ` ${s.name}`}`;
    return s.name === undefined ? { ...s, address, raw } : { ...s, name: s.name, address, raw };
  });
}

export interface Mismatch {
  readonly key: string;
  readonly expected: number;
  readonly actual: number;
}

/** Routes every fixture key with memshift's ring; returns the keys that land elsewhere. */
export function mismatches(fixture: RingFixture, ownerOf?: (key: Buffer) => number): Mismatch[] {
  const route =
    ownerOf ??
    ((): ((key: Buffer) => number) => {
      const ring = createRing({
        name: fixture.case,
        servers: serverSpecs(fixture),
        hash: fixture.pool.hash,
        distribution: fixture.pool.distribution,
        hashTag: fixture.pool.hashTag,
      });
      return (key) => ring.ownerOf(key);
    })();
  const out: Mismatch[] = [];
  for (const [key, expected] of fixture.keys) {
    const actual = route(decodeKey(key));
    if (actual !== expected) out.push({ key, expected, actual });
  }
  return out;
}
