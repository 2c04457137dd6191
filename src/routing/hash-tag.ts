/**
 * twemproxy's hash_tag (src/nc_server.c, server_pool_idx): with a two-byte tag such as "{}", find
 * the first byte equal to tag[0]; then the first byte equal to tag[1] after it. If both are found
 * and at least one byte lies between them, only those bytes are hashed; otherwise (no opening byte,
 * no closing byte after it, or an empty tag "{}") the whole key is hashed. Only the first opening
 * byte counts: in "a{}b{c}" the tag is empty, so the whole key is hashed. The tag may be two equal
 * bytes ("$$"). nc_conf.c requires exactly two bytes.
 */

export class HashTag {
  readonly open: number;
  readonly close: number;
  /** Set by `locate`: the hashed bytes are `key[start, end)`. */
  start = 0;
  end = 0;

  constructor(tag: string) {
    const bytes = Buffer.from(tag, 'utf8');
    if (bytes.length !== 2) throw new RangeError(`hash_tag "${tag}" is not two bytes`);
    this.open = bytes[0]!;
    this.close = bytes[1]!;
  }

  /** Sets `start` and `end` to the part of `key` to hash. No allocation. */
  locate(key: Uint8Array): void {
    const length = key.length;
    this.start = 0;
    this.end = length;
    let open = 0;
    while (open < length && key[open] !== this.open) open++;
    if (open === length) return;
    let close = open + 1;
    while (close < length && key[close] !== this.close) close++;
    if (close === length || close - open <= 1) return;
    this.start = open + 1;
    this.end = close;
  }

  /** The bytes that are hashed for `key`, as a view (allocates; for tools and tests). */
  hashed(key: Buffer): Buffer {
    this.locate(key);
    return key.subarray(this.start, this.end);
  }
}
