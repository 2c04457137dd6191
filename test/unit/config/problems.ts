/** The formatted issues of a config that must be refused (the test fails if it is accepted). */
import { expect } from 'vitest';
import { ConfigError, formatIssue, parseConfig } from '../../../src/config/index.js';

export function problems(text: string, source = 'm.yml'): string[] {
  try {
    parseConfig(text, source);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map(formatIssue);
  }
  throw new Error('expected the config to be refused');
}
