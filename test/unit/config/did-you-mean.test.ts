import { describe, expect, it } from 'vitest';
import { closestName, editDistance } from '../../../src/config/did-you-mean.js';

describe('did you mean', () => {
  it('counts a swap of neighbouring letters as one edit', () => {
    expect(editDistance('chekc', 'check')).toBe(1);
    expect(editDistance('check', 'check')).toBe(0);
    expect(editDistance('serv', 'serve')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
    expect(editDistance('', 'abc')).toBe(3);
  });

  it('gives the closest name within a third of its length, or none', () => {
    const commands = ['serve', 'check', 'route', 'sync', 'plan', 'migrate', 'version'];
    expect(closestName('chekc', commands)).toBe('check');
    expect(closestName('rout', commands)).toBe('route');
    expect(closestName('frobnicate', commands)).toBeUndefined();
    // The nearest wins over the first within reach.
    expect(closestName('max_conections', ['max_connections_x', 'max_connections'])).toBe('max_connections');
  });
});
