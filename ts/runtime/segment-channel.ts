/**
 * A channel of segments: the sender hands full (or, at the end of a batch, flushed) segments
 * of the run's pool to the receiver by index through a single-producer single-consumer ring in
 * shared memory, with watermarks, idleness, barriers and the end of input in the same ring, in
 * order with the data. Credits are segments: at most `credits` of them are in flight on a
 * channel; the receiver gives a segment back to the pool (and the credit to the sender) once
 * the batch read from it is processed. Waiting on either side is `Atomics.waitAsync`: the event
 * loop goes on. Works between threads and within one.
 *
 * The receiver sees a batch as typed-array views over the segment (batch/segment.ts), valid
 * until its `credit()`: an operator keeping a batch longer takes `ownedBatch` of it.
 */

import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import { segmentBatch, segmentLayout, type SegmentLayout } from '../batch/segment.js';
import type { Engine, SegmentIo, SegmentRoute } from '../engine/engine.js';
import type { ChannelIn, ChannelOut, Message, PortLike } from './channel.js';
import { writerSpares, type ManagedMemory } from './memory.js';
import { rawWaitAsync, waitAsync, waitCounted, type SegmentPool } from './segment-pool.js';

// Ring words: entries read, entries written, data segments in flight, the sender's pending waits
// for a credit, a receiver waiting for entries, the sender's pending waits for room.
const HEAD = 0;
const TAIL = 1;
const IN_FLIGHT = 2;
const CREDIT_WAITS = 3;
const RECEIVER_WAITS = 4;
const ROOM_WAITS = 5;
const WORDS = 8;

/*
 * Each side calls Atomics.notify only while the other waits on that word: every notify takes a
 * lock V8 shares among all threads of the process (its futex emulation), and a notify that finds
 * a waiter wakes its thread's event loop. The sender's waits are counted per word (it may wait
 * for a credit and for ring room at once); the receiver's flag is taken by the first entry that
 * finds it set, so a segment and the watermark after it wake the receiver once. In the e2e job
 * at parallelism 2 this took a thread's notifies from 26 k (a sender's flag, left set after its
 * first wait, made every entry and credit notify) to 7 k.
 */

/** Entries the ring holds (data is bounded by credits; control messages by this, then queued by the sender). */
export const RING_ENTRIES = 256;

const KIND = { b: 1, w: 2, i: 3, k: 4, e: 5 } as const;

/** The shared memory of one channel's ring. */
export function createRing(): SharedArrayBuffer {
  return new SharedArrayBuffer(WORDS * 4 + RING_ENTRIES * 16);
}

export class SegmentChannel implements ChannelOut, ChannelIn {
  private readonly w: Int32Array;
  private readonly entries: Float64Array;
  readonly layout: SegmentLayout;
  /** Sender: entries not yet in the ring (it was full), in order. */
  private readonly backlog: [number, number][] = [];
  private draining = false;
  private aborted = false;
  private readonly wakeups = new Set<() => void>();
  /** Receiver: segments delivered and not yet given back, oldest first. */
  private readonly delivered: number[] = [];
  private closed = false;
  /** The single-target writer of `send` (whole batches: forward, rebalance, broadcast). */
  private writer: SegmentWriter | null = null;

  constructor(
    readonly ring: SharedArrayBuffer,
    readonly pool: SegmentPool,
    private readonly schema: Schema,
    readonly credits: number,
    private readonly engine: Engine,
    private readonly memory: ManagedMemory | null,
    /** Held open while the channel is (a pending waitAsync does not keep a thread alive). */
    private readonly keepAlive: PortLike | null = null,
  ) {
    this.w = new Int32Array(ring, 0, WORDS);
    this.entries = new Float64Array(ring, WORDS * 4, RING_ENTRIES * 2);
    this.layout = segmentLayout(schema, pool.segmentBytes);
  }

  // ---- sending side

  /** Waits until `f()` is true, re-checked whenever word `at` (HEAD or IN_FLIGHT) changes; false when aborted. */
  private async waitFor(at: number, f: () => boolean): Promise<boolean> {
    while (!f()) {
      if (this.aborted) return false;
      const seen = Atomics.load(this.w, at);
      // Checked again after `seen` is read; a change after that either makes the wait return at
      // once ('not-equal') or finds the wait counted and notifies.
      if (f()) break;
      await waitCounted(this.w, at, seen, at === HEAD ? ROOM_WAITS : CREDIT_WAITS, this.wakeups);
    }
    return !this.aborted;
  }

  private put(kind: number, value: number): boolean {
    const tail = Atomics.load(this.w, TAIL);
    if (tail - Atomics.load(this.w, HEAD) >= RING_ENTRIES) return false;
    const at = (tail % RING_ENTRIES) * 2;
    this.entries[at] = kind;
    this.entries[at + 1] = value;
    Atomics.store(this.w, TAIL, tail + 1);
    // Taken, not only read: the entries after this one find the receiver already woken.
    if (Atomics.load(this.w, RECEIVER_WAITS) !== 0 && Atomics.exchange(this.w, RECEIVER_WAITS, 0) !== 0) Atomics.notify(this.w, TAIL);
    return true;
  }

  private enqueue(kind: number, value: number): void {
    if (this.backlog.length === 0 && this.put(kind, value)) return;
    this.backlog.push([kind, value]);
    if (!this.draining) void this.drain();
  }

  /** Moves the backlog into the ring as room appears. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      while (this.backlog.length > 0) {
        const [k, v] = this.backlog[0]!;
        if (this.put(k, v)) this.backlog.shift();
        else if (!(await this.waitFor(HEAD, () => Atomics.load(this.w, TAIL) - Atomics.load(this.w, HEAD) < RING_ENTRIES))) return;
      }
    } finally {
      this.draining = false;
    }
  }

  /** Hands a filled segment over once a credit is free; resolves with the ms waited for it. */
  async push(segment: number): Promise<number> {
    if (this.aborted) {
      this.pool.release(segment);
      return 0;
    }
    let waited = 0;
    if (Atomics.load(this.w, IN_FLIGHT) >= this.credits) {
      const t0 = performance.now();
      const ok = await this.waitFor(IN_FLIGHT, () => Atomics.load(this.w, IN_FLIGHT) < this.credits);
      waited = performance.now() - t0;
      if (!ok) {
        this.pool.release(segment);
        return waited;
      }
    }
    Atomics.add(this.w, IN_FLIGHT, 1);
    this.memory?.inFlight(this.pool.segmentBytes);
    this.enqueue(KIND.b, segment);
    return waited;
  }

  /** A whole batch to this channel, written into segments here. */
  async send(batch: RecordBatch, _owned: boolean): Promise<number> {
    if (this.aborted) return 0;
    this.writer ??= new SegmentWriter(this.engine, this.pool, this.layout, [this]);
    return this.writer.write(batch, () => ({ kind: 'single' }));
  }

  control(m: Message): void {
    if (this.aborted) return;
    switch (m.t) {
      case 'w':
        return this.enqueue(KIND.w, m.wm);
      case 'i':
        return this.enqueue(KIND.i, m.idle ? 1 : 0);
      case 'k':
        return this.enqueue(KIND.k, m.id);
      case 'e':
        // Nothing more is sent: the writer's spare segments go back.
        this.writer?.close();
        return this.enqueue(KIND.e, 0);
      case 'b':
        throw new Error('internal error: a batch goes through send(), not control()');
    }
  }

  abort(): void {
    this.aborted = true;
    for (const w of this.wakeups) w();
    Atomics.notify(this.w, IN_FLIGHT);
    Atomics.notify(this.w, HEAD);
    this.writer?.close();
  }

  // ---- receiving side

  onMessage(f: (m: Message) => void): void {
    void this.pump(f);
  }

  private async pump(f: (m: Message) => void): Promise<void> {
    const w = this.w;
    while (!this.closed) {
      const tail = Atomics.load(w, TAIL);
      let head = Atomics.load(w, HEAD);
      if (head === tail) {
        Atomics.store(w, RECEIVER_WAITS, 1);
        // A channel with a port is kept alive by it until closed; then a receiver whose job
        // failed or stopped does not hold its thread (or the process) open. Without one (within a
        // thread), waiting for entries keeps the thread alive.
        const r = this.keepAlive === null ? waitAsync(w, TAIL, tail) : rawWaitAsync(w, TAIL, tail);
        if (r.async) await r.value;
        Atomics.store(w, RECEIVER_WAITS, 0);
        continue;
      }
      for (; head < tail && !this.closed; head++) {
        const at = (head % RING_ENTRIES) * 2;
        const kind = this.entries[at]!;
        const value = this.entries[at + 1]!;
        Atomics.store(w, HEAD, head + 1);
        if (Atomics.load(w, ROOM_WAITS) !== 0) Atomics.notify(w, HEAD);
        switch (kind) {
          case KIND.b:
            this.delivered.push(value);
            f({ t: 'b', batch: segmentBatch(this.pool.memory, this.pool.base(value), this.layout, this.schema) });
            break;
          case KIND.w:
            f({ t: 'w', wm: value });
            break;
          case KIND.i:
            f({ t: 'i', idle: value !== 0 });
            break;
          case KIND.k:
            f({ t: 'k', id: value });
            break;
          case KIND.e:
            f({ t: 'e' });
            return;
        }
      }
    }
  }

  /** The oldest delivered batch is processed: its segment goes back to the pool, its credit to the sender. */
  credit(): void {
    const s = this.delivered.shift();
    if (s === undefined) throw new Error('internal error: a credit returned for no batch in flight');
    this.pool.release(s);
    this.memory?.inFlight(-this.pool.segmentBytes);
    Atomics.sub(this.w, IN_FLIGHT, 1);
    if (Atomics.load(this.w, CREDIT_WAITS) !== 0) Atomics.notify(this.w, IN_FLIGHT);
  }

  /** The receiver is done (after the end, or the job stopped): segments still delivered go back. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Wake the pump if it waits (it then sees closed).
    Atomics.notify(this.w, TAIL);
    this.keepAlive?.close();
  }
}

/**
 * One sender's segments (Flink's RecordWriter): the current one per target and a few spares,
 * filled by the engine's partitioner in one call per batch; full ones are pushed to their
 * channels, and the partly filled ones at the end of every batch, or, where the writer holds
 * them (`holdPartials`), when its owner calls `flush` (see ExchangeSender).
 */
export class SegmentWriter {
  private readonly io: SegmentIo;
  private targets = new Uint32Array(0);
  private readonly spareCount: number;

  constructor(
    private readonly engine: Engine,
    private readonly pool: SegmentPool,
    private readonly layout: SegmentLayout,
    private readonly channels: readonly (SegmentChannel | undefined)[],
    private readonly holdPartials = false,
  ) {
    const n = channels.length;
    this.spareCount = writerSpares(n);
    this.io = { cur: new Int32Array(n).fill(-1), spares: new Int32Array(1 + this.spareCount), full: new Int32Array(1 + 2 * (this.spareCount + n)) };
  }

  /** A targets array of at least `n` rows (for the hash and per-row routes). */
  scratch(n: number): Uint32Array {
    if (this.targets.length < n) this.targets = new Uint32Array(Math.max(n, 1024));
    return this.targets;
  }

  /** The write in progress: writes run one after the other (two inputs of an operator may emit at once). */
  private last: Promise<unknown> = Promise.resolve();
  /** With `holdPartials`: rows written since the partly filled segments were last handed over. */
  heldRows = 0;

  /**
   * Writes the batch and hands every segment it filled over; resolves with the ms waited for
   * credits and segments, and behind an earlier hand-over still waiting for them. `route` is
   * asked for when the write starts (it may use `scratch`).
   */
  write(batch: RecordBatch, route: () => SegmentRoute): Promise<number> {
    return this.next(() => this.writeNow(batch, route()));
  }

  /**
   * After the writes so far, hands the partly filled segments over, then calls `after` (which
   * puts control messages in order after them) before any later write; resolves as `write`.
   */
  flush(after: () => void): Promise<number> {
    return this.next(async () => {
      const waited = await this.pushPartials();
      after();
      return waited;
    });
  }

  /** Runs `f` after the write or hand-over in progress; its ms waited plus the time queued behind it. */
  private next(f: () => Promise<number>): Promise<number> {
    const t0 = performance.now();
    const p = this.last.then(() => {
      const queued = performance.now() - t0;
      return f().then((waited) => waited + queued);
    });
    this.last = p.catch(() => undefined);
    return p;
  }

  private async writeNow(batch: RecordBatch, route: SegmentRoute): Promise<number> {
    const { cur, spares, full } = this.io;
    let waited = 0;
    let row = 0;
    while (row < batch.length) {
      while (spares[0]! < this.spareCount) {
        let s = this.pool.tryAcquire();
        if (s < 0) {
          const t0 = performance.now();
          s = await this.pool.acquire();
          waited += performance.now() - t0;
        }
        spares[++spares[0]!] = s;
      }
      full[0] = 0;
      row = this.engine.scatterToSegments(batch, route, this.pool.bytes, this.layout, this.io, row);
      const nFull = full[0]!;
      for (let f = 0; f < nFull; f++) waited += await this.channel(full[1 + 2 * f]!).push(full[2 + 2 * f]!);
      full[0] = 0;
    }
    if (this.holdPartials) this.heldRows += batch.length;
    else waited += await this.pushPartials();
    return waited;
  }

  private async pushPartials(): Promise<number> {
    const cur = this.io.cur;
    this.heldRows = 0;
    let waited = 0;
    for (let t = 0; t < cur.length; t++) {
      const s = cur[t]!;
      if (s < 0) continue;
      cur[t] = -1;
      if (new Uint32Array(this.pool.memory, this.pool.base(s), 1)[0] === 0) this.pool.release(s);
      else waited += await this.channel(t).push(s);
    }
    return waited;
  }

  private channel(t: number): SegmentChannel {
    const c = this.channels[t];
    if (c === undefined) throw new Error(`internal error: a row was routed to target ${t}, which this sender does not feed`);
    return c;
  }

  /** Gives the segments held back to the pool (the job ended or is stopping). */
  close(): void {
    const { cur, spares } = this.io;
    for (let t = 0; t < cur.length; t++) if (cur[t]! >= 0) this.pool.release(cur[t]!);
    cur.fill(-1);
    for (let i = 1; i <= spares[0]!; i++) this.pool.release(spares[i]!);
    spares[0] = 0;
  }
}
