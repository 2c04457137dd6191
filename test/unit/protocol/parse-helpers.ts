import { RequestParser, CMD_NAMES, type Request, type ParserSink } from '../../../src/protocol/index.js';

export const LIMITS = { maxItemSize: 1024 * 1024, maxGetLineBytes: 1024 * 1024 };

/** A readable summary of one request, independent of buffer identity. */
export function describe(req: Request): string {
  const parts = [CMD_NAMES[req.cmd]!];
  if (req.keys.length) parts.push(`keys=${req.keys.map((k) => JSON.stringify(k.toString('latin1'))).join(',')}`);
  if (req.flags) parts.push(`flags=${req.flags}`);
  if (req.exptime) parts.push(`exptime=${req.exptime}`);
  if (req.value) parts.push(`value=${JSON.stringify(req.value.toString('latin1'))}`);
  if (req.number) parts.push(`number=${req.number.toString('latin1')}`);
  if (req.line) parts.push(`line=${JSON.stringify(req.line.toString('latin1'))}`);
  if (req.noreply) parts.push('noreply');
  if (req.tooLarge) parts.push('tooLarge');
  if (req.hasArg) parts.push('hasArg');
  if (req.sub) parts.push(`sub=${req.sub}`);
  if (req.hashKey && req.keys[0] && !req.hashKey.equals(req.keys[0])) parts.push(`hash=${JSON.stringify(req.hashKey.toString('latin1'))}`);
  return parts.join(' ');
}

/** Feeds `chunks` and returns the events the parser produced, in order. */
export function run(chunks: Buffer[], limits = LIMITS): string[] {
  const events: string[] = [];
  const sink: ParserSink = {
    onRequest: (r) => events.push(describe(r)),
    onReply: (b) => events.push(`reply ${JSON.stringify(b.toString('latin1'))}`),
    onClose: (reason) => events.push(`close (${reason})`),
    onQuit: () => events.push('quit'),
    wantsMore: () => true,
  };
  const p = new RequestParser(sink, limits);
  for (const c of chunks) p.feed(c);
  return events;
}

/** The same input whole, byte by byte, and split at every offset must give the same events. */
export function everySplit(input: Buffer, limits = LIMITS): string[] {
  const whole = run([input], limits);
  const bytes = run([...input].map((b) => Buffer.from([b])), limits);
  if (JSON.stringify(bytes) !== JSON.stringify(whole)) {
    throw new Error(`byte-by-byte differs:\n${bytes.join('\n')}\nvs whole:\n${whole.join('\n')}`);
  }
  for (let i = 1; i < input.length; i++) {
    const split = run([input.subarray(0, i), input.subarray(i)], limits);
    if (JSON.stringify(split) !== JSON.stringify(whole)) {
      throw new Error(`split at ${i} differs:\n${split.join('\n')}\nvs whole:\n${whole.join('\n')}`);
    }
  }
  return whole;
}
