import { describe, expect, it } from 'vitest';
import { describeMove, routeMoves } from '../../../src/config/route-diff.js';

const r = (...pairs: [string, string][]) => pairs.map(([prefix, pool]) => ({ prefix, pool }));

describe('routeMoves', () => {
  it('finds nothing when only the order changes', () => {
    expect(routeMoves({ routes: r(['a:', 'x'], ['b:', 'y']), defaultPool: 'm' }, { routes: r(['b:', 'y'], ['a:', 'x']), defaultPool: 'm' })).toEqual([]);
  });

  it('finds nothing for a route to the pool its keys already go to', () => {
    expect(routeMoves({ routes: [], defaultPool: 'm' }, { routes: r(['a:', 'm']), defaultPool: 'm' })).toEqual([]);
    expect(routeMoves({ routes: r(['a:', 'x'], ['a:b', 'x']), defaultPool: 'm' }, { routes: r(['a:', 'x']), defaultPool: 'm' })).toEqual([]);
  });

  it('names each class of keys that changes pool', () => {
    expect(routeMoves({ routes: [], defaultPool: 'm' }, { routes: r(['t:', 'x']), defaultPool: 'm' })).toEqual([{ prefix: 't:', from: 'm', to: 'x' }]);
    // A new default moves every key no route matches, not those a route keeps.
    expect(routeMoves({ routes: r(['t:', 'x']), defaultPool: 'm' }, { routes: r(['t:', 'x']), defaultPool: 'y' })).toEqual([{ prefix: '', from: 'm', to: 'y' }]);
    // A longer prefix inside a route: only its keys move.
    expect(routeMoves({ routes: r(['t:', 'x']), defaultPool: 'm' }, { routes: r(['t:', 'x'], ['t:1', 'y']), defaultPool: 'm' })).toEqual([{ prefix: 't:1', from: 'x', to: 'y' }]);
    // A route removed: its keys go back to the default, those of a longer one stay.
    expect(routeMoves({ routes: r(['t:', 'x'], ['t:1', 'y']), defaultPool: 'm' }, { routes: r(['t:1', 'y']), defaultPool: 'm' })).toEqual([{ prefix: 't:', from: 'x', to: 'm' }]);
  });

  it('describes a move', () => {
    expect(describeMove({ prefix: 't:', from: 'm', to: 'x' })).toBe('keys under "t:" move from pool m to pool x');
    expect(describeMove({ prefix: '', from: 'm', to: 'x' })).toBe('keys no route matches (default_pool) move from pool m to pool x');
  });
});
