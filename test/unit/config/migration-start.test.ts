/**
 * A migration block's `start:` (issue 14): without it the migration waits for `memshift migrate
 * start`; `now` and an ISO time start it by themselves.
 */
import { expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { waitingText } from '../../../src/migration/status.js';
import { problems } from './problems.js';

const config = (start: string): string =>
  `listen: ["127.0.0.1:0"]\npools:\n  main:\n    servers: ["10.0.0.1:11211:1", "10.0.0.2:11211:1"]\n    migration: {id: grow, from: ["10.0.0.1:11211:1"]${start}}\n`;
const startAt = (start: string): unknown => parseConfig(config(start)).pools.get('main')!.migration!.startAt;

it('a block without start waits for the operator; now and a time start by themselves', () => {
  expect(startAt('')).toBe('command');
  expect(startAt(', start: now')).toBe('now');
  expect(startAt(', start: "2026-11-28T10:00:00Z"')).toBe(Date.parse('2026-11-28T10:00:00Z'));
  expect(problems(config(', start: tomorrow')).join()).toContain('start is "now" or an ISO-8601 time');
});

it('says what a planned migration waits for', () => {
  const now = Date.parse('2026-11-28T10:00:00Z');
  expect(waitingText('command', now)).toBe('waiting for migrate start');
  expect(waitingText(now + 90_500, now)).toBe('starts at 2026-11-28T10:01:30.500Z (in 91 s)');
  expect(waitingText(now - 1, now)).toBe('starting (the lease holder starts it)');
  expect(waitingText('now', now)).toBe('starting (the lease holder starts it)');
});
