/**
 * Errors the copy engine raises, each with a stable `code` (callers branch on the code, never on the
 * text). They stay inside `src/copy` for now: a copy failure is counted and reported by the driver,
 * it never reaches a proxy client. When the CLI surfaces them they can join `src/errors.ts` as
 * `MS_ERR_COPY_*` codes.
 */

export const COPY_ERROR_CODES = {
  COPY_CONNECT: 'Could not connect to a server within the connect timeout.',
  COPY_CLOSED: 'The connection closed while requests were in flight.',
  COPY_TIMEOUT: 'A server did not answer within the request timeout; the connection was reset.',
  COPY_OUT_OF_STEP: 'A server answered ERROR/CLIENT_ERROR or a reply that fits no request; the connection was reset.',
  COPY_SERVER_ERROR: 'A server answered SERVER_ERROR (e.g. out of memory); the connection stays usable.',
  COPY_BUSY: 'The LRU crawler stayed busy (another metadump) for longer than the scanner was willing to wait.',
  COPY_DUMP_REFUSED: 'lru_crawler metadump was refused (crawler disabled, dumps not allowed, or an unknown error).',
  COPY_DUMP_TRUNCATED: 'A metadump ended without END (connection closed or reset mid-dump).',
  COPY_KEY: 'A key cannot be addressed in the meta protocol (too long once base64-encoded and not plain text).',
  COPY_ABORTED: 'The operation was aborted by its AbortSignal.',
} as const;

export type CopyErrorCode = keyof typeof COPY_ERROR_CODES;

export class CopyError extends Error {
  override readonly name = 'CopyError';
  readonly code: CopyErrorCode;

  constructor(code: CopyErrorCode, message: string = COPY_ERROR_CODES[code], options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

export function isCopyError(err: unknown, code?: CopyErrorCode): err is CopyError {
  return err instanceof CopyError && (code === undefined || err.code === code);
}

/** Rejects with COPY_ABORTED when `signal` is aborted. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw new CopyError('COPY_ABORTED');
}
