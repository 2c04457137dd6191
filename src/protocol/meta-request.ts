/**
 * The meta requests memshift itself sends (`mg`, `ms`, `md` of the copy engine, replay and
 * backfill): how a key of any bytes goes on the command line, and the request's bytes.
 */

/** memcached's KEY_MAX_LENGTH; with the `b` flag it applies to the base64 text. */
export const MAX_KEY_BYTES = 250;
/** The longest binary key whose base64 text fits in 250 bytes (4 * ceil(186 / 3) = 248). */
export const MAX_BASE64_KEY_BYTES = 186;

/** A key no meta command can address. */
export class MetaKeyError extends RangeError {}

/**
 * How a key goes on a meta command line. Plain printable ASCII goes as is. Anything else goes
 * base64 with the `b` flag when it fits (memcached checks the length of the encoded token);
 * a longer key goes raw when it holds no byte that ends a token (space, `\r`, `\n`, NUL), as
 * memcached's text protocol accepts other control and high bytes. Otherwise MetaKeyError.
 */
export function keyToken(key: Buffer): { token: Buffer; base64: boolean } {
  if (key.length === 0 || key.length > MAX_KEY_BYTES) throw new MetaKeyError(`key of ${key.length} bytes`);
  let plain = true;
  let rawSafe = true;
  for (const b of key) {
    if (b <= 0x20 || b >= 0x7f) plain = false;
    if (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x00) rawSafe = false;
  }
  if (plain) return { token: key, base64: false };
  if (key.length <= MAX_BASE64_KEY_BYTES) return { token: Buffer.from(key.toString('base64'), 'latin1'), base64: true };
  if (rawSafe) return { token: key, base64: false };
  throw new MetaKeyError(`a ${key.length}-byte key with a space, CR, LF or NUL cannot be addressed`);
}

const CRLF = Buffer.from('\r\n');
const SPACE = Buffer.from(' ');

/**
 * The bytes of one meta request (`mg`, `ms`, `md`): the key as `keyToken` writes it (base64 with the
 * `b` flag when it must be), the value length and the value for `ms`. Throws MetaKeyError for a key
 * no meta command can address.
 */
export function metaRequest(cmd: string, key: Buffer, flags: string, value: Buffer | null): Buffer[] {
  const token = keyToken(key);
  const parts = [Buffer.from(`${cmd} `), token.token];
  if (value !== null) parts.push(Buffer.from(` ${value.length}`));
  const f = token.base64 ? (flags.length > 0 ? `${flags} b` : 'b') : flags;
  if (f.length > 0) parts.push(SPACE, Buffer.from(f, 'latin1'));
  parts.push(CRLF);
  if (value !== null) parts.push(value, CRLF);
  return parts;
}
