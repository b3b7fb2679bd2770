/**
 * Reused read buffers for large bodies (issue 7, lever 1). A 1 MiB read into a
 * fresh Buffer costs an allocation the GC must track and, for large sizes,
 * fresh pages the kernel has to fault in and zero; a buffer whose bytes have
 * reached the kernel can take the next chunk instead.
 *
 * Bounded: at most `maxFree` buffers wait in the pool (their memory counts in
 * RSS while idle). A taken buffer that is never given back (a response cut
 * mid-write) is simply garbage-collected, so a leak cannot grow the pool.
 * A buffer goes back only from the body pump's write callback, i.e. once the
 * socket no longer references it, so bytes still queued are never overwritten.
 */
export interface BufferPoolStats {
  readonly size: number;
  readonly free: number;
  readonly maxFree: number;
  /** Buffers allocated because the pool was empty. */
  readonly allocated: number;
  /** Takes served by a buffer given back earlier. */
  readonly reused: number;
}

export class BufferPool {
  readonly #free: Buffer[] = [];
  /** The pool's own buffers, by their memory, so a trimmed view of one can be given back. */
  readonly #mine = new WeakMap<ArrayBufferLike, Buffer>();
  #allocated = 0;
  #reused = 0;

  constructor(
    /** Bytes per buffer: reads of exactly this length use the pool. */
    readonly size: number,
    readonly maxFree: number,
  ) {}

  /** A buffer of `size` bytes (contents undefined). */
  take(): Buffer {
    const b = this.#free.pop();
    if (b !== undefined) {
      this.#reused++;
      return b;
    }
    this.#allocated++;
    const fresh = Buffer.allocUnsafeSlow(this.size); // its own ArrayBuffer: never shared with other Buffers
    this.#mine.set(fresh.buffer, fresh);
    return fresh;
  }

  /** Returns a buffer (or a view of one) that came from take(); anything else is ignored. */
  give(chunk: Buffer): void {
    const b = this.#mine.get(chunk.buffer);
    if (b === undefined || this.#free.length >= this.maxFree || this.#free.includes(b)) return;
    this.#free.push(b);
  }

  stats(): BufferPoolStats {
    return { size: this.size, free: this.#free.length, maxFree: this.maxFree, allocated: this.#allocated, reused: this.#reused };
  }
}
