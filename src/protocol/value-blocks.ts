/**
 * Splitting a retrieval reply (VALUE blocks, then END) back onto the keys that
 * were asked for. memcached answers the keys of a get in the order asked and
 * leaves misses out, so the blocks are a subsequence of the asked keys.
 */
import { isPrefix, tokenNumber } from './reply-parser.js';

/**
 * Places each VALUE block of `reply` at `blocks[i]` for the asked key index `i` it belongs to;
 * pushes the asked indexes without a block to `missing` when given. Returns the number of hits.
 */
export function placeValueBlocks(
  reply: Buffer,
  keys: readonly Buffer[],
  asked: readonly number[],
  blocks: (Buffer | undefined)[],
  missing?: number[],
): number {
  let k = 0;
  let pos = 0;
  let hits = 0;
  while (isPrefix(reply, pos, 'VALUE ')) {
    const nl = reply.indexOf(10, pos);
    const end = nl + 1 + tokenNumber(reply, pos, nl, 3) + 2;
    const key = reply.subarray(pos + 6, reply.indexOf(0x20, pos + 6));
    for (; k < asked.length && !keys[asked[k]!]!.equals(key); k++) missing?.push(asked[k]!);
    if (k === asked.length) break; // cannot happen with memcached; never misplace a value
    blocks[asked[k++]!] = reply.subarray(pos, end);
    hits++;
    pos = end;
  }
  if (missing) for (; k < asked.length; k++) missing.push(asked[k]!);
  return hits;
}
