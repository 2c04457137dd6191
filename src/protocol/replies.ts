/** memcached's reply lines, as bytes, so the hot path never builds them. */

const line = (s: string): Buffer => Buffer.from(`${s}\r\n`, 'latin1');

export const R = {
  ERROR: line('ERROR'),
  END: line('END'),
  STORED: line('STORED'),
  NOT_STORED: line('NOT_STORED'),
  EXISTS: line('EXISTS'),
  NOT_FOUND: line('NOT_FOUND'),
  DELETED: line('DELETED'),
  TOUCHED: line('TOUCHED'),
  OK: line('OK'),
  RESET: line('RESET'),
  MN: line('MN'),
  EN: line('EN'),
  BAD_FORMAT: line('CLIENT_ERROR bad command line format'),
  BAD_DATA_CHUNK: line('CLIENT_ERROR bad data chunk'),
  BAD_DELETE: line('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]'),
  INVALID_EXPTIME: line('CLIENT_ERROR invalid exptime argument'),
  INVALID_DELTA: line('CLIENT_ERROR invalid numeric delta argument'),
  TOO_LARGE: line('SERVER_ERROR object too large for cache'),
  OPTIONS_TOO_LONG_MG: line('CLIENT_ERROR options flags are too long'),
  OPTIONS_TOO_LONG: line('CLIENT_ERROR options flags too long'),
  INVALID_OR_DUPLICATE_FLAG: line('CLIENT_ERROR invalid or duplicate flag'),
  SHUTDOWN_DISABLED: line('ERROR: shutdown not enabled'),
  FLUSH_ALL_DISABLED: line('SERVER_ERROR flush_all disabled'),
  /** flush_all would erase a running migration's record and copied data. */
  FLUSH_ALL_MIGRATING: line('SERVER_ERROR flush_all refused while a migration runs'),
  /** Too many read-modify-writes waiting for a migration's phase switch. */
  MIGRATION_BUSY: line('SERVER_ERROR migration busy, retry'),
  /** Keys under __memshift__ are memshift's own. */
  RESERVED_KEY: line('CLIENT_ERROR keys under __memshift__ are reserved'),
  NOT_SUPPORTED: line('SERVER_ERROR command not supported by memshift'),
  STATS_DETAIL_USAGE: line('CLIENT_ERROR usage: stats detail on|off|dump'),
  BACKEND_TIMEOUT: line('SERVER_ERROR backend timeout'),
  BACKEND_DOWN: line('SERVER_ERROR backend unavailable'),
  BACKEND_CLOSED: line('SERVER_ERROR backend connection closed'),
  BACKEND_OUT_OF_STEP: line('SERVER_ERROR backend out of step'),
  BACKEND_QUEUE_FULL: line('SERVER_ERROR backend queue full'),
  /** A read-modify-write applied on a server that failed before the other groups could follow it. */
  OUTCOME_UNKNOWN: line('SERVER_ERROR backend failed, outcome unknown'),
  CLIENT_QUEUE_FULL: line('SERVER_ERROR too many requests in flight'),
} as const;

export function clientError(msg: string): Buffer {
  return line(`CLIENT_ERROR ${msg}`);
}
