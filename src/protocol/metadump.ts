/**
 * The lines of a `lru_crawler metadump` reply: `key=<url-encoded> exp=<abs unix s | -1> la=<s>
 * cas=<n> fetch=<yes|no> cls=<n> size=<n>` ending in a bare `\n`, then `END\r\n`. memcached
 * url-encodes every byte outside [A-Za-z0-9-._~] once, so `a%20b` arrives as `a%2520b`: decode
 * exactly once, to bytes. (The dump's connection and its flow are the copy engine's, copy/scanner.ts.)
 */

export interface DumpEntry {
  /** The raw key bytes. */
  readonly key: Buffer;
  /** Absolute unix expiry in seconds, or -1 for none. */
  readonly exp: number;
  /** Last access, unix seconds. */
  readonly la: number;
  /** The item's CAS (a per-server counter; far below 2^53 in practice). */
  readonly cas: number;
  readonly fetched: boolean;
  readonly cls: number;
  /** Item size in memory (header, key and value). */
  readonly size: number;
}

/** Percent-decodes `text` once, to bytes. Null when a `%` is not followed by two hex digits. */
export function decodeDumpKey(text: string): Buffer | null {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x25) {
      const hex = text.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out[n++] = parseInt(hex, 16);
      i += 2;
    } else if (c > 0xff) {
      return null;
    } else {
      out[n++] = c;
    }
  }
  return Buffer.from(out.subarray(0, n));
}

const INT = /^-?\d+$/;

/** One metadump line (without its newline) as an entry; null when it is not a well-formed item line. */
export function parseMetadumpLine(line: string): DumpEntry | null {
  if (!line.startsWith('key=')) return null;
  let key: Buffer | null = null;
  let exp: number | null = null;
  let cas: number | null = null;
  let la = 0;
  let fetched = false;
  let cls = 0;
  let size = 0;
  for (const field of line.split(' ')) {
    const eq = field.indexOf('=');
    if (eq <= 0) continue;
    const name = field.slice(0, eq);
    const value = field.slice(eq + 1);
    if (name === 'key') key = decodeDumpKey(value);
    else if (name === 'fetch') fetched = value === 'yes';
    else if (INT.test(value)) {
      const n = Number(value);
      if (name === 'exp') exp = n;
      else if (name === 'cas') cas = n;
      else if (name === 'la') la = n;
      else if (name === 'cls') cls = n;
      else if (name === 'size') size = n;
    }
  }
  if (key === null || key.length === 0 || exp === null || cas === null) return null;
  return { key, exp, la, cas, fetched, cls, size };
}
