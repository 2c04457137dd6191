/**
 * The help texts name config keys as the YAML spells them (issue 14: `migrate` help said `start_at`
 * where the key is `start:`). Every snake_case word and every dotted path in a command's help must be
 * a key of the config schema (a dotted path: one key inside the other), a value the config takes, or
 * one of the few other names listed here with what they are.
 */
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { COMMANDS } from '../../../src/cli.js';
import { HASH_NAMES, rootShape } from '../../../src/config/schema.js';

/** Names in the help texts that are not config keys, each with what it is. */
const OTHER_NAMES = new Map<string, string>([
  ['curr_items', "memcached's stats"],
  ['get_hits', "memcached's stats (top)"],
  ['get_misses', "memcached's stats (top)"],
  ['T_copy', 'a migration timing'],
  ['T_sync', 'a migration timing'],
  ['T_verify', 'a migration timing'],
  ['T_total', 'a migration timing'],
  ['T_cleanup', 'a migration timing'],
  ['KEYS_PER_S', 'a placeholder'],
  ['auto_eject_hosts', "twemproxy's key (import-twemproxy)"],
  ['server_failure_limit', "twemproxy's key (import-twemproxy)"],
  ['server_retry_timeout', "twemproxy's key (import-twemproxy)"],
  ['nutcracker.yml', 'a file name'],
  ['memshift.yml', 'a file name'],
  ['e.g', 'English'],
]);

type Node = z.core.$ZodType;
interface Def {
  type: string;
  shape?: Record<string, Node>;
  innerType?: Node;
  element?: Node;
  options?: readonly Node[];
  valueType?: Node;
  in?: Node;
  out?: Node;
}

/** Every object below `node` (through optional, default, arrays, unions, records and pipes). */
function objects(node: Node | undefined, out: Record<string, Node>[] = []): Record<string, Node>[] {
  if (node === undefined) return out;
  const def = node._zod.def as unknown as Def;
  if (def.shape !== undefined) out.push(def.shape);
  for (const child of [def.innerType, def.element, def.valueType, def.in, def.out, ...(def.options ?? [])]) objects(child, out);
  return out;
}

/** Key -> the keys of the objects its value holds (for dotted paths); every key at any depth. */
function keysOf(shape: Record<string, Node>, into = new Map<string, Set<string>>()): Map<string, Set<string>> {
  for (const [key, value] of Object.entries(shape)) {
    const children = into.get(key) ?? new Set<string>();
    into.set(key, children);
    for (const inner of objects(value)) {
      for (const k of Object.keys(inner)) children.add(k);
      keysOf(inner, into);
    }
  }
  return into;
}

const KEYS = keysOf(rootShape as unknown as Record<string, Node>);
const VALUES = new Set<string>([...HASH_NAMES, 'errors_and_misses']);

function known(name: string): boolean {
  if (OTHER_NAMES.has(name) || VALUES.has(name) || KEYS.has(name)) return true;
  const parts = name.split('.');
  return parts.length > 1 && parts.every((p, i) => (i === 0 ? KEYS.has(p) : KEYS.get(parts[i - 1]!)?.has(p) === true));
}

describe('help texts', () => {
  it('the schema walk finds nested keys', () => {
    expect(KEYS.get('migration')).toEqual(expect.any(Set));
    expect([...KEYS.get('migration')!]).toEqual(expect.arrayContaining(['id', 'from', 'start', 'settle']));
    expect(known('admin.token_file')).toBe(true);
    expect(known('start_at')).toBe(false);
    expect(known('migration.start_at')).toBe(false);
  });

  it.each(COMMANDS.map((c) => [c.name, c.help] as const))('%s names only real config keys', (_, help) => {
    const names = [...help.matchAll(/(?<![$\w-])[A-Za-z][A-Za-z0-9]*(?:[._][A-Za-z0-9]+)+/g)].map((m) => m[0]).filter((n) => !/^MEMSHIFT_/.test(n));
    expect(names.filter((n) => !known(n))).toEqual([]);
  });
});
