/**
 * Output buffers an operator lends downstream for one batch and takes back once downstream is
 * done with it (the emit of that batch settled), as Flink recycles network buffers into their
 * pool: the next batch is written into memory that is mapped and in cache, not into fresh
 * allocations the garbage collector frees later (for the native calc, writing into fresh
 * buffers was about a third of its time).
 *
 * The buffers are SharedArrayBuffers, so a lent batch is "borrowed" as an exchange segment's is
 * (`isBorrowed` in segment.ts): an operator keeping a batch past its `processBatch` takes
 * `ownedBatch` of it, which copies it.
 */

import { Buffer } from 'node:buffer';

/** Free buffers kept per size class: a chain of operators holds a few batches at a time. */
const FREE_PER_CLASS = 8;

/** Buffers are allocated in powers of two from 2^MIN_CLASS bytes. */
const MIN_CLASS = 6;

/**
 * The size class of `bytes`: the exponent of the power of two at least as large (at least
 * MIN_CLASS), by counting leading zeros (`Math.log2` and `**` were 2.5% of a native calc over
 * 1024-row batches).
 */
function sizeClass(bytes: number): number {
  if (bytes <= 2 ** MIN_CLASS) return MIN_CLASS;
  if (bytes > 2 ** 31) return Math.ceil(Math.log2(bytes));
  return 32 - Math.clz32(bytes - 1);
}

/** Buffers by size class, given back to be taken again: free ones by size class. */
class SizeClassedBuffers<B extends ArrayBufferLike> {
  /** Free buffers by size class (an array, not a Map: one lookup per buffer taken). */
  private readonly free: B[][] = [];

  constructor(
    private readonly make: (bytes: number) => B,
    private readonly freePerClass: number,
  ) {}

  /** A buffer of at least `bytes`; its contents are whatever its last user left there. */
  take(bytes: number): B {
    const c = sizeClass(bytes);
    return this.free[c]?.pop() ?? this.make(2 ** c);
  }

  give(b: B): void {
    const c = sizeClass(b.byteLength);
    const list = (this.free[c] ??= []);
    if (list.length < this.freePerClass) list.push(b);
  }
}

/** One operator's buffers to lend. */
export class BufferPool extends SizeClassedBuffers<SharedArrayBuffer> {
  constructor() {
    super((n) => new SharedArrayBuffer(n), FREE_PER_CLASS);
  }

  /** A lease for one batch's output. */
  lease(): Lease {
    return new Lease(this);
  }
}

/**
 * Heap buffers for copies an operator keeps and drops itself (a window's input kept for its
 * checkpoints): taken again instead of allocated, so that the copies do not grow V8's external
 * memory and with it the major collections that free it (the e2e window with a checkpoint every
 * second ran about 900 more samples of concurrent marking per 100 M events than without).
 */
export class HeapBuffers extends SizeClassedBuffers<ArrayBuffer> {
  constructor(freePerClass: number) {
    super((n) => new ArrayBuffer(n), freePerClass);
  }
}

/** The buffers taken for one batch, given back together by `release`. */
export class Lease {
  private readonly taken: SharedArrayBuffer[] = [];

  constructor(private readonly pool: BufferPool) {}

  /** `n` bytes, not zero-filled, at the start of a buffer of their own (8-aligned). */
  bytes(n: number): Uint8Array {
    const b = this.pool.take(n);
    this.taken.push(b);
    return new Uint8Array(b, 0, n);
  }

  /** Downstream is done with the batch: its buffers go back to the pool. */
  release(): void {
    for (const b of this.taken) this.pool.give(b);
    this.taken.length = 0;
  }
}

/**
 * `n` bytes for output every byte of which is written before it is read: from `lease` when
 * given, else not zero-filled in an ArrayBuffer of their own (not a slice of Node's shared pool,
 * which a small batch kept downstream would hold on to).
 */
export function outputBytes(n: number, lease: Lease | undefined): Uint8Array {
  return lease === undefined ? Buffer.allocUnsafeSlow(n) : lease.bytes(n);
}
