/**
 * The admin server's HTTP plumbing: reading a capped JSON request body, and writing a response.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TextDecoder } from 'node:util';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/**
 * Thrown by a handler to answer with `status` and `{ error: message }` instead of a 500, e.g.
 * `throw new AdminHttpError(400, 'unknown pool "x"')`. Any other exception is a 500.
 */
export class AdminHttpError extends Error {
  override readonly name = 'AdminHttpError';

  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export type BodyResult =
  | { readonly ok: true; readonly body: unknown }
  | { readonly ok: false; readonly status: 400 | 413; readonly error: string };

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The request body parsed as JSON, or undefined when it is empty. Larger than `limit` bytes: 413,
 * decided from Content-Length when the client sent one, before reading anything; otherwise as soon as
 * the count passes the limit (the rest is read and dropped, never buffered). Not UTF-8 or not JSON: 400.
 */
export function readJsonBody(req: IncomingMessage, limit: number): Promise<BodyResult> {
  const tooLarge: BodyResult = { ok: false, status: 413, error: `request body larger than ${limit} bytes` };
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) return Promise.resolve(tooLarge);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const settle = (result: BodyResult): void => {
      if (settled) return;
      settled = true;
      chunks.length = 0;
      resolve(result);
    };
    req.on('data', (chunk: Buffer) => {
      if (settled) return;
      size += chunk.length;
      if (size > limit) settle(tooLarge);
      else chunks.push(chunk);
    });
    req.on('end', () => settle(parseJson(Buffer.concat(chunks))));
    req.on('error', () => settle({ ok: false, status: 400, error: 'request body aborted' }));
    req.on('close', () => settle({ ok: false, status: 400, error: 'request body aborted' }));
  });
}

function parseJson(bytes: Buffer): BodyResult {
  if (bytes.length === 0) return { ok: true, body: undefined };
  let text: string;
  try {
    text = strictUtf8.decode(bytes);
  } catch {
    return { ok: false, status: 400, error: 'request body is not valid UTF-8' };
  }
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch (err) {
    return { ok: false, status: 400, error: `request body is not valid JSON: ${(err as Error).message}` };
  }
}

export interface Payload {
  readonly bytes: Buffer;
  readonly contentType: string | undefined;
}

/**
 * What a response body becomes on the wire. With `contentType`, a string or Buffer is sent as is (the
 * /metrics text format); anything else is JSON. undefined means no body. Throws if JSON cannot encode
 * the value (a cycle, a BigInt), which the caller turns into a 500.
 */
export function encodeBody(body: unknown, contentType: string | undefined): Payload {
  if (body === undefined) return { bytes: Buffer.alloc(0), contentType: undefined };
  if (contentType !== undefined && typeof body === 'string') return { bytes: Buffer.from(body, 'utf8'), contentType };
  if (contentType !== undefined && Buffer.isBuffer(body)) return { bytes: body, contentType };
  const json = JSON.stringify(body) as string | undefined;
  if (json === undefined) throw new TypeError(`response body of type ${typeof body} cannot be encoded as JSON`);
  return { bytes: Buffer.from(json, 'utf8'), contentType: contentType ?? JSON_CONTENT_TYPE };
}

/** Writes one complete response; a no-op when one was already sent or the client is gone. */
export function writeResponse(
  res: ServerResponse,
  status: number,
  payload: Payload,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  res.statusCode = status;
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('X-Content-Type-Options', 'nosniff');
  if (payload.contentType !== undefined) res.setHeader('Content-Type', payload.contentType);
  res.setHeader('Content-Length', payload.bytes.length);
  for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
  res.end(payload.bytes);
}

export function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string>> = {},
): void {
  writeResponse(res, status, encodeBody(body, undefined), headers);
}
