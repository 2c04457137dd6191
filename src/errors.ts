/**
 * Every error memshift raises on purpose carries a stable `code`; callers branch on the code, never on
 * the message text. The table below is the one list of codes: docs/operations.md documents each of them (a unit
 * test checks that), and `src/cli.ts` maps them to exit statuses.
 *
 * A client's bad input is not an exception: the protocol layer answers it with memcached's exact reply.
 */

export const ERROR_CODES = {
  MS_ERR_CONFIG: 'The configuration is invalid; `details.issues` lists every problem with its file, line, column and field.',
  MS_ERR_CONFIG_READ: 'The configuration file could not be read (missing, unreadable or not a file).',
  MS_ERR_USAGE: 'The command line is wrong: unknown command or flag, missing or malformed argument.',
  MS_ERR_LISTEN: 'A listener could not be opened (address in use, permission denied, bad socket path).',
  MS_ERR_DISCOVERY: "A pool's DNS name gave no usable servers at start, after retrying; memshift does not serve an empty ring.",
  MS_ERR_BACKEND_TIMEOUT: "A backend did not answer within its pool's timeout; the connection is reset and its requests in flight fail.",
  MS_ERR_BACKEND_CLOSED: 'A backend connection closed or failed while requests were queued or in flight on it.',
  MS_ERR_BACKEND_DOWN: 'A backend is unreachable (connecting or waiting to reconnect); the request failed without being sent.',
  MS_ERR_BACKEND_OUT_OF_STEP: 'A backend sent a reply that does not fit the request it should answer; the connection is closed.',
  MS_ERR_BACKEND_QUEUE_FULL: "A backend connection's queue is at max_pending_per_backend or max_queued_bytes_per_backend; the request was refused.",
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface MemshiftErrorOptions<D> {
  readonly details?: D;
  readonly cause?: unknown;
}

export class MemshiftError<D = unknown> extends Error {
  override readonly name: string = 'MemshiftError';
  readonly code: ErrorCode;
  readonly details: D | undefined;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], options: MemshiftErrorOptions<D> = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
  }
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ERROR_CODES, value);
}

/** True when `err` is a MemshiftError, and, when `code` is given, one with that code. */
export function isMemshiftError(err: unknown, code?: ErrorCode): err is MemshiftError {
  return err instanceof MemshiftError && (code === undefined || err.code === code);
}
