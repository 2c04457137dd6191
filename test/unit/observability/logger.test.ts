/**
 * The two log formats: json (one object a line, the default off a terminal) and pretty (pino-pretty,
 * one line an event, for a person).
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, defaultLogFormat } from '../../../src/observability/logger.js';

function sink(): { stream: Writable; text: () => string } {
  let text = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

describe('createLogger', () => {
  it('json: one JSON object a line with the level as a word and an ISO time', () => {
    const out = sink();
    const logger = createLogger({ destination: out.stream, level: 'info' });
    logger.info({ listen: ['127.0.0.1:11211'] }, 'memshift listening');
    logger.debug('muted');
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toMatchObject({ level: 'info', msg: 'memshift listening', listen: ['127.0.0.1:11211'], time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) });
  });

  it('pretty: time, level, message and the fields on one line, no JSON object, no pid', () => {
    const out = sink();
    const logger = createLogger({ destination: out.stream, format: 'pretty', level: 'info' });
    logger.warn({ backend: '10.0.0.1:11211', to: 'tko' }, 'backend 10.0.0.1:11211 tko');
    logger.fatal({ code: 'MS_ERR_LISTEN' }, 'memshift cannot start; exiting');
    logger.debug('muted');
    const lines = out.text().trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\] WARN: backend 10\.0\.0\.1:11211 tko \{"backend":"10\.0\.0\.1:11211","to":"tko"\}$/);
    expect(lines[1]).toMatch(/\] FATAL: memshift cannot start; exiting \{"code":"MS_ERR_LISTEN"\}$/);
    expect(out.text()).not.toContain('pid');
  });

  it('defaults to pretty on a terminal and json elsewhere', () => {
    expect(defaultLogFormat(true)).toBe('pretty');
    expect(defaultLogFormat(false)).toBe('json');
    expect(defaultLogFormat(undefined)).toBe('json');
  });
});
