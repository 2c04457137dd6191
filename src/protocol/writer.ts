/**
 * A batching byte writer: small pieces are copied into one block, large values
 * are kept by reference, so a burst of requests or replies becomes a few socket
 * writes with no per-piece syscall and no copy of large values.
 */

const BLOCK = 64 * 1024;
/**
 * Values at least this large are not copied. A copy costs a memcpy and, per 64 KiB, a new block,
 * whose external memory drives V8's major GCs: at 16 KiB, 10 KB values spent a fifth of memshift's
 * time in mark-compact. Below it, a separate chunk per value costs more than the copy.
 */
export const BY_REFERENCE = 4 * 1024;

export class Writer {
  #block: Buffer = Buffer.allocUnsafe(BLOCK);
  #used = 0;
  /** Start of the bytes in #block not yet moved to #out. */
  #mark = 0;
  #out: Buffer[] = [];
  #size = 0;

  /** Bytes written and not yet taken. */
  get size(): number {
    return this.#size;
  }

  bytes(b: Buffer): void {
    const n = b.length;
    if (n >= BY_REFERENCE) {
      this.#seal();
      this.#out.push(b);
      this.#size += n;
      return;
    }
    if (this.#used + n > this.#block.length) this.#newBlock();
    b.copy(this.#block, this.#used);
    this.#used += n;
    this.#size += n;
  }

  ascii(s: string): void {
    const n = s.length;
    if (this.#used + n > this.#block.length) this.#newBlock(n);
    this.#block.write(s, this.#used, "latin1");
    this.#used += n;
    this.#size += n;
  }

  /** A non-negative or negative integer in decimal. */
  int(n: number): void {
    this.ascii(String(n));
  }

  /** Everything written since the last take, as buffers to hand to socket.write(). */
  take(): Buffer[] {
    this.#seal();
    const out = this.#out;
    this.#out = [];
    this.#size = 0;
    return out;
  }

  #seal(): void {
    if (this.#used > this.#mark) {
      this.#out.push(this.#block.subarray(this.#mark, this.#used));
      this.#mark = this.#used;
    }
  }

  #newBlock(atLeast = 0): void {
    this.#seal();
    // The old block stays alive through the views already handed out.
    this.#block = Buffer.allocUnsafe(Math.max(BLOCK, atLeast));
    this.#used = 0;
    this.#mark = 0;
  }
}
