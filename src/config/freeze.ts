/**
 * The loaded Config is deep-frozen (as fastify does with its options): nothing may change it after
 * validation. `Object.freeze` does not stop `Map.prototype.set`, so pools live in a FrozenMap.
 */

export class FrozenMap<K, V> extends Map<K, V> {
  constructor(entries: Iterable<readonly [K, V]>) {
    super();
    for (const [k, v] of entries) super.set(k, v);
  }

  override set(_key: K, _value: V): this {
    throw new TypeError('the configuration is frozen');
  }

  override delete(_key: K): boolean {
    throw new TypeError('the configuration is frozen');
  }

  override clear(): void {
    throw new TypeError('the configuration is frozen');
  }
}

/** Freezes `value` and everything reachable from it (arrays, plain objects, Map keys and values). */
export function deepFreeze<T>(value: T): T {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return value;
  Object.freeze(value);
  if (value instanceof Map) {
    for (const [k, v] of value) {
      deepFreeze(k);
      deepFreeze(v);
    }
    return value;
  }
  for (const v of Object.values(value)) deepFreeze(v);
  return value;
}
