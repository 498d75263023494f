/**
 * A run's pool of exchange segments (Flink's network buffer pool): `count` blocks of
 * `segmentBytes` in one SharedArrayBuffer that every thread of the run maps, taken and given
 * back by index. The free list is a bitmap changed with atomic compare-and-swap (no lock, no
 * ABA problem); a taker that finds it empty waits with `Atomics.waitAsync` (the event loop goes
 * on) until a segment is given back. The memory is the run's exchange share of the managed
 * budget, allocated once; nothing per batch is allocated or collected.
 *
 * Both engines write into and read the same memory: the native partitioner through a view of
 * the whole buffer (napi reads a view over shared memory in place), the TypeScript one through
 * typed arrays.
 */

/** What another thread needs to map the pool. */
export interface SegmentPoolSetup {
  readonly memory: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly segmentBytes: number;
  readonly count: number;
}

// Control words: a generation bumped by every release (what waiters wait on), waiters, segments
// taken, their peak; then the free bitmap (bit set: free).
const GEN = 0;
const WAITERS = 1;
const USED = 2;
const PEAK = 3;
const BITMAP = 4;

type WaitAsync = (a: Int32Array, index: number, value: number) => { async: false; value: 'not-equal' | 'timed-out' } | { async: true; value: Promise<'ok' | 'timed-out'> };
/** Atomics.waitAsync (ES2024; Node has it, the project's lib is ES2022). A pending wait does not keep a thread alive. */
export const rawWaitAsync: WaitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

/** Waits pending on this thread, and the one timer that keeps the thread alive while there are any. */
let pending = 0;
let keepAlive: ReturnType<typeof setInterval> | null = null;

function waitEnded(): void {
  if (--pending === 0 && keepAlive !== null) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

/**
 * Atomics.waitAsync that keeps the thread alive while it waits (a pending wait alone does not:
 * a worker whose only work is waiting for a credit would exit). One timer serves every pending
 * wait of the thread: with a timer made and cleared per wait, this function took 43-65 ms of a
 * worker's 2 s in the exchange microbenchmark (about 0.4 ns of its 18 per row).
 */
export const waitAsync: WaitAsync = (a, index, value) => {
  const r = rawWaitAsync(a, index, value);
  if (!r.async) return r;
  if (pending++ === 0) keepAlive = setInterval(() => undefined, 1 << 30);
  return { async: true, value: r.value.finally(waitEnded) };
};

/**
 * Waits until word `index` of `words` is no longer `seen` (read before), or a stop calls the
 * wake-up it adds to `wakeups`; counted in word `waiters` meanwhile, so that the side changing
 * the word calls Atomics.notify (which takes a lock V8 shares among all threads) only while
 * someone waits. A change after `seen` was read and before the count either is seen by the wait
 * ('not-equal': it returns at once) or sees the count.
 */
export async function waitCounted(words: Int32Array, index: number, seen: number, waiters: number, wakeups: Set<() => void>): Promise<void> {
  Atomics.add(words, waiters, 1);
  try {
    const w = waitAsync(words, index, seen);
    if (!w.async) return;
    let wake!: () => void;
    const stopped = new Promise<void>((r) => (wake = r));
    wakeups.add(wake);
    try {
      await Promise.race([w.value, stopped]);
    } finally {
      wakeups.delete(wake);
    }
  } finally {
    Atomics.sub(words, waiters, 1);
  }
}

/**
 * SLUICE_POISON_SEGMENTS=1 overwrites every segment given back (tests): an operator that still
 * reads a batch it was handed from an exchange after its call then reads garbage at once,
 * instead of only when the segment happens to be reused.
 */
const POISON = typeof process !== 'undefined' && process.env.SLUICE_POISON_SEGMENTS === '1';

/** Stops a wait for a segment (the job is stopping). */
export class PoolAborted extends Error {}

export class SegmentPool {
  readonly memory: SharedArrayBuffer;
  readonly control: SharedArrayBuffer;
  readonly segmentBytes: number;
  readonly count: number;
  /** The whole pool, for the engines' partitioners and for views. */
  readonly bytes: Uint8Array;
  private readonly c: Int32Array;
  private readonly words: number;
  /** Where this thread's next search starts (threads spread over the bitmap). */
  private hint = 0;
  private aborted = false;
  private readonly wakeups = new Set<() => void>();

  private constructor(s: SegmentPoolSetup) {
    this.memory = s.memory;
    this.control = s.control;
    this.segmentBytes = s.segmentBytes;
    this.count = s.count;
    this.bytes = new Uint8Array(s.memory);
    this.c = new Int32Array(s.control);
    this.words = (s.count + 31) >>> 5;
  }

  /** A new pool of `count` segments of `segmentBytes` (a multiple of 8), all free. */
  static create(count: number, segmentBytes: number): SegmentPool {
    if (!Number.isSafeInteger(count) || count < 1) throw new RangeError(`a segment pool needs at least one segment, got ${count}`);
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < 64 || segmentBytes % 8 !== 0) {
      throw new RangeError(`a segment size must be a multiple of 8 bytes and at least 64, got ${segmentBytes}`);
    }
    const words = (count + 31) >>> 5;
    const control = new SharedArrayBuffer((BITMAP + words) * 4);
    const c = new Int32Array(control);
    for (let w = 0; w < words; w++) {
      const bits = Math.min(32, count - w * 32);
      c[BITMAP + w] = bits === 32 ? -1 : (1 << bits) - 1;
    }
    return new SegmentPool({ memory: new SharedArrayBuffer(count * segmentBytes), control, segmentBytes, count });
  }

  static attach(s: SegmentPoolSetup): SegmentPool {
    return new SegmentPool(s);
  }

  get setup(): SegmentPoolSetup {
    return { memory: this.memory, control: this.control, segmentBytes: this.segmentBytes, count: this.count };
  }

  get totalBytes(): number {
    return this.count * this.segmentBytes;
  }

  /** Segments taken now, and at most so far. */
  get used(): number {
    return Atomics.load(this.c, USED);
  }
  get peak(): number {
    return Atomics.load(this.c, PEAK);
  }

  /** Byte offset of segment `i` in the pool's memory. */
  base(i: number): number {
    return i * this.segmentBytes;
  }

  /** A free segment's index, or -1 when none is free. */
  tryAcquire(): number {
    const c = this.c;
    for (let k = 0; k < this.words; k++) {
      const w = (this.hint + k) % this.words;
      let v = Atomics.load(c, BITMAP + w);
      while (v !== 0) {
        const bit = 31 - Math.clz32(v & -v);
        const seen = Atomics.compareExchange(c, BITMAP + w, v, v & ~(1 << bit));
        if (seen === v) {
          this.hint = w;
          const used = Atomics.add(c, USED, 1) + 1;
          let p = Atomics.load(c, PEAK);
          while (used > p) {
            const s = Atomics.compareExchange(c, PEAK, p, used);
            if (s === p) break;
            p = s;
          }
          return w * 32 + bit;
        }
        v = seen;
      }
    }
    return -1;
  }

  /** A free segment, waiting (without blocking the event loop) while none is. */
  async acquire(): Promise<number> {
    for (;;) {
      if (this.aborted) throw new PoolAborted('the job is stopping');
      const gen = Atomics.load(this.c, GEN);
      const i = this.tryAcquire();
      if (i >= 0) return i;
      // Released since `gen` was read: the wait returns at once.
      await waitCounted(this.c, GEN, gen, WAITERS, this.wakeups);
    }
  }

  /** Gives segment `i` back; a thread waiting for one wakes. */
  release(i: number): void {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`segment ${i} is not in this pool of ${this.count}`);
    if (POISON) this.bytes.fill(0xa5, i * this.segmentBytes, (i + 1) * this.segmentBytes);
    const bit = 1 << (i & 31);
    const before = Atomics.or(this.c, BITMAP + (i >>> 5), bit);
    if ((before & bit) !== 0) throw new Error(`internal error: exchange segment ${i} was released twice`);
    Atomics.sub(this.c, USED, 1);
    Atomics.add(this.c, GEN, 1);
    if (Atomics.load(this.c, WAITERS) > 0) Atomics.notify(this.c, GEN);
  }

  /** Stops this thread's waits for a segment: they reject with PoolAborted. */
  abort(): void {
    this.aborted = true;
    for (const w of this.wakeups) w();
    // Ends the pending waits themselves (they hold the thread alive); other waiters look again.
    Atomics.notify(this.c, GEN);
  }
}
