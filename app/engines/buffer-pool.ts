/**
 * Reused, aligned read buffers for large bodies (issue 7, lever 1).
 *
 * Aligned: the kernel copies a read into its destination with `rep movsb`, and
 * on this machine's AMD CPUs that copy runs at a quarter of its speed when the
 * destination is not 64-byte aligned (measured: 1 GiB of page cache read in
 * 1 MiB preads took 440 ms into a buffer at offset 16, 100 ms at offset 0 or
 * 64; docs/performance.md "Aligned read buffers"). Node's Buffers come from
 * malloc, 16-byte aligned: every read into one paid that. The pool's buffers
 * are slots of one WebAssembly.Memory, whose memory the engine maps
 * page-aligned, so every slot starts on a page.
 *
 * Bounded: `maxFree` slots, allocated once (address space only: a slot's pages
 * count in RSS once a read has touched them). When every slot is lent, take()
 * hands out an ordinary Buffer (unaligned, garbage-collected), as the pool
 * did before slots. A slot goes back from the body pump's write callback, i.e.
 * once the socket no longer references its bytes, so bytes still queued are
 * never overwritten. A slot lent and never given back (a response cut at an
 * unlucky moment) returns when the Buffer lent for it is garbage-collected:
 * readers must not keep views of a lent Buffer beyond the Buffer itself
 * (readChunk copies out a short read rather than trimming it).
 *
 * Without WebAssembly (node --jitless), or if its memory cannot be had, the
 * pool keeps up to `maxFree` ordinary Buffers, as it did before slots.
 */
export interface BufferPoolStats {
  readonly size: number;
  readonly free: number;
  readonly maxFree: number;
  /** Buffers allocated because the pool was empty (a slot's first use counts once). */
  readonly allocated: number;
  /** Takes served by a buffer given back earlier. */
  readonly reused: number;
  /** Whether the pool's buffers are aligned slots (false: ordinary Buffers). */
  readonly aligned: boolean;
  /** Slots that came back because the Buffer lent for them was garbage-collected. */
  readonly reclaimed: number;
}

/** Slot starts are page-aligned: a read's destination never straddles a cache line it shares with another slot. */
const SLOT_ALIGN = 4096;
/** WebAssembly memories grow in 64 KiB pages. */
const WASM_PAGE = 65536;
/** Past this, the pool's slots stay ordinary Buffers (a 32-bit WebAssembly memory stops at 4 GiB). */
const SLAB_MAX_BYTES = 1024 * 1024 * 1024;

/** The part of the WebAssembly global this module uses (the project's TypeScript libs do not declare it). */
interface WasmMemoryCtor {
  new (descriptor: { initial: number; maximum: number }): { readonly buffer: ArrayBuffer };
}

function wasmMemory(): WasmMemoryCtor | undefined {
  const wasm = (globalThis as { WebAssembly?: { Memory?: unknown } }).WebAssembly;
  return typeof wasm?.Memory === 'function' ? (wasm.Memory as WasmMemoryCtor) : undefined;
}

/** A page-aligned ArrayBuffer of at least `bytes`, or undefined when WebAssembly cannot provide one. */
function alignedSlab(bytes: number): ArrayBuffer | undefined {
  const Memory = wasmMemory();
  if (bytes <= 0 || bytes > SLAB_MAX_BYTES || Memory === undefined) return undefined;
  try {
    const pages = Math.ceil(bytes / WASM_PAGE);
    // A fixed size: growing would detach the ArrayBuffer under every Buffer lent from it.
    return new Memory({ initial: pages, maximum: pages }).buffer;
  } catch {
    return undefined;
  }
}

interface Lent {
  readonly slot: number;
  readonly id: number;
}

export class BufferPool {
  readonly #slab: ArrayBuffer | undefined;
  readonly #stride: number;
  readonly #slots: number;
  readonly #freeSlots: number[] = [];
  readonly #isFree: Uint8Array;
  readonly #used: Uint8Array;
  /** Which lending each slot is out on (0: free), so a late finalization of an earlier lending is ignored. */
  readonly #lentId: number[];
  #nextId = 1;
  readonly #registry: FinalizationRegistry<Lent>;
  /** Without a slab: up to maxFree ordinary Buffers, and which Buffers are ours. */
  readonly #free: Buffer[] = [];
  readonly #mine = new WeakMap<ArrayBufferLike, Buffer>();
  #allocated = 0;
  #reused = 0;
  #reclaimed = 0;

  constructor(
    /** Bytes per buffer: reads of up to this length can use the pool. */
    readonly size: number,
    readonly maxFree: number,
  ) {
    this.#stride = Math.ceil(size / SLOT_ALIGN) * SLOT_ALIGN;
    this.#slab = alignedSlab(this.#stride * maxFree);
    this.#slots = this.#slab ? maxFree : 0;
    this.#isFree = new Uint8Array(this.#slots);
    this.#used = new Uint8Array(this.#slots);
    this.#lentId = new Array<number>(this.#slots).fill(0);
    // LIFO: the slot given back last is taken first (its lines are the likeliest still cached).
    for (let i = this.#slots - 1; i >= 0; i--) {
      this.#freeSlots.push(i);
      this.#isFree[i] = 1;
    }
    this.#registry = new FinalizationRegistry<Lent>((lent) => this.#lost(lent));
  }

  /**
   * A buffer of `length` bytes (at most `size`; contents undefined). A slot is lent as a
   * Buffer of exactly `length` bytes: the Buffer returned is the lending, and no view of it
   * may outlive it (see above).
   */
  take(length = this.size): Buffer {
    if (this.#slab) {
      const slot = length <= this.size ? this.#freeSlots.pop() : undefined;
      if (slot === undefined) {
        this.#allocated++;
        return Buffer.allocUnsafeSlow(length);
      }
      this.#isFree[slot] = 0;
      if (this.#used[slot] === 1) this.#reused++;
      else {
        this.#used[slot] = 1;
        this.#allocated++;
      }
      const view = Buffer.from(this.#slab, slot * this.#stride, length);
      const id = this.#nextId++;
      this.#lentId[slot] = id;
      this.#registry.register(view, { slot, id }, view);
      return view;
    }
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
    if (this.#slab) {
      if (chunk.buffer !== this.#slab) return;
      const slot = Math.floor(chunk.byteOffset / this.#stride);
      if (slot < 0 || slot >= this.#slots || this.#isFree[slot] === 1) return;
      this.#registry.unregister(chunk);
      this.#release(slot);
      return;
    }
    const b = this.#mine.get(chunk.buffer);
    if (b === undefined || this.#free.length >= this.maxFree || this.#free.includes(b)) return;
    this.#free.push(b);
  }

  /** Whether `chunk` is (a view of) one of the pool's aligned slots. */
  owns(chunk: Buffer): boolean {
    return this.#slab !== undefined && chunk.buffer === this.#slab;
  }

  stats(): BufferPoolStats {
    return {
      size: this.size,
      free: this.#slab ? this.#freeSlots.length : this.#free.length,
      maxFree: this.maxFree,
      allocated: this.#allocated,
      reused: this.#reused,
      aligned: this.#slab !== undefined,
      reclaimed: this.#reclaimed,
    };
  }

  #release(slot: number): void {
    this.#lentId[slot] = 0;
    this.#isFree[slot] = 1;
    this.#freeSlots.push(slot);
  }

  /** A lent Buffer was collected without being given back: nobody can reach its slot any more. */
  #lost(lent: Lent): void {
    if (this.#lentId[lent.slot] !== lent.id) return; // given back, and maybe lent again since
    this.#reclaimed++;
    this.#release(lent.slot);
  }
}
