/**
 * One side of an interval join: its buffered records in arrival order, with each key's records
 * chained newest to oldest. A record is a slot in typed arrays (time, previous record of its
 * key, which batch, which row), not an object; expiry moves a head past the oldest records and
 * touches no key, and a key whose records are all gone leaves the key map in a sweep that runs
 * when the map has grown to twice the records. Per record: two key-map operations to add it,
 * one to look its key up from the other side. (It replaced a Map of per-key arrays of objects
 * plus an arrival list: on Nexmark q7 those allocations and the per-record key work of expiry
 * took 3.1 of 4.6 s.)
 *
 * Number keys are indexed lazily. A side that the other probes rarely (q7's bids: about 140 k
 * buffered, one probe per window) would pay a random access into a table of several MB for
 * every record it adds (27% of q7's time at p=1) to serve a handful of lookups; its records
 * wait in an unindexed tail instead, which a probe scans in order. The tail is indexed once
 * probes are frequent: at least PROBES_TO_INDEX per lifetime of the buffer's records, the point
 * where scanning the tail again and again would cost more than indexing it once.
 */

import { grown } from '../../batch/column.js';
import type { RecordBatch, Row } from '../../batch/record-batch.js';

const NONE = -1;

/**
 * Probes per lifetime of the buffered records above which the unindexed tail is indexed: a
 * record's insert into a table larger than the caches costs about as much as scanning a few
 * dozen records in order.
 */
const PROBES_TO_INDEX = 32;

/**
 * Pairs found by `IntervalBuffer.matchRows`: the probing row, the buffered row (its batch and
 * row) and the pair's event time (the later of the two).
 */
export class Matches {
  n = 0;
  probe = new Int32Array(1024);
  rows = new Int32Array(1024);
  times = new Float64Array(1024);
  readonly batches: RecordBatch[] = [];

  add(probe: number, batch: RecordBatch, row: number, t: number): void {
    const n = this.n;
    if (n === this.probe.length) {
      this.probe = grown(this.probe, 2 * n);
      this.rows = grown(this.rows, 2 * n);
      this.times = grown(this.times, 2 * n);
    }
    this.probe[n] = probe;
    this.rows[n] = row;
    this.times[n] = t;
    this.batches[n] = batch;
    this.n = n + 1;
  }

  /** Reverses the matches from `first` on (a probe's matches, found newest first). */
  reverseFrom(first: number): void {
    for (let a = first, b = this.n - 1; a < b; a++, b--) {
      let x: number = this.rows[a]!;
      this.rows[a] = this.rows[b]!;
      this.rows[b] = x;
      x = this.times[a]!;
      this.times[a] = this.times[b]!;
      this.times[b] = x;
      const y = this.batches[a]!;
      this.batches[a] = this.batches[b]!;
      this.batches[b] = y;
      // The probing row is the same for all of them.
    }
  }
}

export class IntervalBuffer {
  /** Record sequence numbers in the arrays start at `base`; records before `head` have expired. */
  private base = 0;
  private head = 0;
  private end = 0;
  private time = new Float64Array(1024);
  /**
   * The previous record of the same key (sequence number), or NONE; for a record of the
   * unindexed tail with a number key (`numberKey`), the key itself.
   */
  private prev = new Float64Array(1024);
  /** 1 where the record's key is a number (indexed in `numbers`, or waiting in the tail). */
  private numberKey = new Uint8Array(1024);
  /** Records with number keys from here on are not in `numbers` yet (the unindexed tail). */
  private indexedTo = 0;
  /** Probes since record `probedSince` was added (counted again once it expires): how often this side is looked up. */
  private probes = 0;
  private probedSince = 0;
  private source = new Int32Array(1024);
  private row = new Int32Array(1024);
  /** Row readers (a batch's rows, made on demand), numbered from `readerBase`; each with its first record. */
  private readers: ((i: number) => Row)[] = [];
  /** Per reader, its batch when the operator gathers columns (matchRows), else null. */
  private batches: (RecordBatch | null)[] = [];
  private readerFirst: number[] = [];
  private readerBase = 0;
  /** key -> its newest record: numbers in a typed-array table, other keys in a Map. */
  private readonly numbers = new NumberIndex();
  private readonly others = new Map<unknown, number>();
  private sweepAt = 4096;

  get size(): number {
    return this.end - this.head;
  }

  /** Starts a batch's records: its row reader (and the batch, for matchRows). */
  addReader(read: (i: number) => Row, batch: RecordBatch | null = null): void {
    this.readers.push(read);
    this.batches.push(batch);
    this.readerFirst.push(this.end);
  }

  /** Adds row `i` of the last reader, with its time and key. */
  add(key: unknown, t: number, i: number): void {
    if (this.end - this.base === this.time.length) this.makeRoom();
    const at = this.end - this.base;
    this.time[at] = t;
    if (typeof key === 'number') {
      // Indexed when the tail is (see the class comment); until then the key waits in `prev`.
      this.prev[at] = key;
      this.numberKey[at] = 1;
    } else {
      this.prev[at] = this.others.get(key) ?? NONE;
      this.others.set(key, this.end);
      this.numberKey[at] = 0;
    }
    this.source[at] = this.readers.length - 1 + this.readerBase;
    this.row[at] = i;
    this.end++;
    if (this.numbers.size + this.others.size >= this.sweepAt) this.sweep();
  }

  /**
   * The buffered records of `key` whose time is in [lo, hi], oldest first (their numbers for
   * `timeAt` and `recordAt`), or null when there are none: a probe that finds nothing, as most
   * do, allocates nothing.
   */
  matching(key: unknown, lo: number, hi: number): number[] | null {
    let s = this.newestIndexed(key);
    let found: number[] | null = null;
    for (; s >= this.head; s = this.prev[s - this.base]!) {
      const t = this.time[s - this.base]!;
      if (t >= lo && t <= hi) (found ??= []).push(s);
    }
    // Found along the key's chain, newest to oldest; the tail's are newer, in order.
    found?.reverse();
    if (typeof key !== 'number') return found;
    for (let s = this.inTail(key, this.tailStart); s < this.end; s = this.inTail(key, s + 1)) {
      const t = this.time[s - this.base]!;
      if (t >= lo && t <= hi) (found ??= []).push(s);
    }
    return found;
  }

  /** Where the unindexed tail's live records begin. */
  private get tailStart(): number {
    return Math.max(this.indexedTo, this.head);
  }

  /** The first record from `s` on in the unindexed tail whose key is `key` (as a Map compares numbers), or `end`. */
  private inTail(key: number, s: number): number {
    for (; s < this.end; s++) {
      const at = s - this.base;
      const k = this.prev[at]!;
      if (this.numberKey[at] === 1 && (k === key || (k !== k && key !== key))) return s;
    }
    return this.end;
  }

  /**
   * The newest indexed record of `key` (NONE: none), after indexing the tail if this side is
   * probed often enough for that to pay (a number key's records may also be in the tail).
   */
  private newestIndexed(key: unknown): number {
    if (typeof key !== 'number') return this.others.get(key) ?? NONE;
    if (this.probedSince < this.head) {
      // The records added since counting began have expired (a lifetime has passed): count
      // again from here, this probe not included (with no record added since, it says nothing
      // of the rate).
      this.probes = 0;
      this.probedSince = this.end;
    } else this.probes++;
    // Probes per lifetime of the records: probes per record added since counting began, times
    // the records buffered.
    if (this.indexedTo < this.end && this.probes > 0 && this.probes * this.size >= PROBES_TO_INDEX * (this.end - this.probedSince)) this.indexTail();
    return this.numbers.get(key);
  }

  /** Puts the tail's number keys into `numbers`, chaining each record to its key's newest. */
  private indexTail(): void {
    for (let s = this.tailStart; s < this.end; s++) {
      const at = s - this.base;
      if (this.numberKey[at] === 1) this.prev[at] = this.numbers.swap(this.prev[at]!, s);
    }
    this.indexedTo = this.end;
    if (this.numbers.size + this.others.size >= this.sweepAt) this.sweep();
  }

  /** The time of buffered record `s` (a number from `matching`). */
  timeAt(s: number): number {
    return this.time[s - this.base]!;
  }


  /**
   * As `matching`, for gathering columns without making records: adds each match to `out` as
   * the probing row `probe` (at time `t`), the buffered record's batch and row (the batches
   * given to addReader), and the later of the two times.
   */
  matchRows(key: unknown, lo: number, hi: number, probe: number, t: number, out: Matches): void {
    let s = this.newestIndexed(key);
    const first = out.n;
    // Newest to oldest along the key's chain, then reversed: oldest first, as `matching`.
    for (; s >= this.head; s = this.prev[s - this.base]!) {
      const at = s - this.base;
      const bt = this.time[at]!;
      if (bt >= lo && bt <= hi) out.add(probe, this.batches[this.source[at]! - this.readerBase]!, this.row[at]!, bt > t ? bt : t);
    }
    out.reverseFrom(first);
    if (typeof key !== 'number') return;
    for (let s = this.inTail(key, this.tailStart); s < this.end; s = this.inTail(key, s + 1)) {
      const at = s - this.base;
      const bt = this.time[at]!;
      if (bt >= lo && bt <= hi) out.add(probe, this.batches[this.source[at]! - this.readerBase]!, this.row[at]!, bt > t ? bt : t);
    }
  }

  /** Buffered record `s` (a number from `matching`) as a record. */
  recordAt(s: number): Row {
    const at = s - this.base;
    return this.readers[this.source[at]! - this.readerBase]!(this.row[at]!);
  }

  /**
   * Expires records from the oldest while `gone(time)`; with out-of-order input an expired
   * record can wait behind a younger one (matching checks times, so that only delays it).
   */
  expire(gone: (t: number) => boolean): void {
    while (this.head < this.end && gone(this.time[this.head - this.base]!)) this.head++;
    // Readers whose records have all expired.
    let r = 0;
    while (r + 1 < this.readers.length && this.readerFirst[r + 1]! <= this.head) r++;
    if (this.head === this.end) r = this.readers.length;
    if (r > 0) {
      this.readers.splice(0, r);
      this.batches.splice(0, r);
      this.readerFirst.splice(0, r);
      this.readerBase += r;
    }
  }

  /** Drops keys whose records have all expired. */
  private sweep(): void {
    this.numbers.keepFrom(this.head);
    for (const [k, s] of this.others) if (s < this.head) this.others.delete(k);
    this.sweepAt = Math.max(4096, 2 * (this.numbers.size + this.others.size));
  }

  /** Room for one more record: drops the expired ones from the arrays, or grows them. */
  private makeRoom(): void {
    const live = this.end - this.head;
    const from = this.head - this.base;
    const cap = live * 2 > this.time.length ? this.time.length * 2 : this.time.length;
    const move = <A extends Float64Array | Int32Array | Uint8Array>(a: A, make: (n: number) => A): A => {
      if (cap === a.length) {
        a.copyWithin(0, from, from + live);
        return a;
      }
      const next = make(cap);
      next.set(a.subarray(from, from + live));
      return next;
    };
    this.time = move(this.time, (n) => new Float64Array(n));
    this.prev = move(this.prev, (n) => new Float64Array(n));
    this.numberKey = move(this.numberKey, (n) => new Uint8Array(n));
    this.source = move(this.source, (n) => new Int32Array(n));
    this.row = move(this.row, (n) => new Int32Array(n));
    this.base = this.head;
  }

  /** For a snapshot: the live records in arrival order, as [key, time, record]. */
  snapshot(): [unknown, number, Row][] {
    // Each record's key, from the chains of the keys' newest records.
    const keyOf = new Map<number, unknown>();
    const chain = (k: unknown, newest: number): void => {
      for (let s = newest; s >= this.head; s = this.prev[s - this.base]!) keyOf.set(s, k);
    };
    this.numbers.forEach(chain);
    this.others.forEach((newest, k) => chain(k, newest));
    const out: [unknown, number, Row][] = [];
    for (let s = this.head; s < this.end; s++) {
      const at = s - this.base;
      const key = s >= this.indexedTo && this.numberKey[at] === 1 ? this.prev[at]! : keyOf.get(s);
      out.push([key, this.time[at]!, this.recordAt(s)]);
    }
    return out;
  }
}

/**
 * Number keys -> a record's sequence number, by open addressing over one typed array of (key,
 * record) pairs: a Map's get and set took 130 ns per record on Nexmark q7's prices, and with
 * keys and records in two arrays a probe of a table larger than the caches missed twice (the
 * probe was 14% of q7's time at p=1). Keys compare as a Map's do (0 and -0 alike, NaN equal to
 * itself).
 */
class NumberIndex {
  /** Slot s: key at 2s, record at 2s + 1 (NONE: free). */
  private slots = NumberIndex.empty(4096);
  size = 0;

  private static empty(cap: number): Float64Array {
    const a = new Float64Array(2 * cap);
    for (let s = 1; s < a.length; s += 2) a[s] = NONE;
    return a;
  }

  /** The pair index (2s) of `k`'s slot, or of the free one where it would go. */
  private slot(k: number): number {
    const a = this.slots;
    const mask = a.length - 2;
    let h = Math.imul((k | 0) ^ ((k / 4294967296) | 0), 0x9e3779b1);
    h ^= h >>> 15;
    let s = (2 * h) & mask;
    while (a[s + 1] !== NONE && a[s] !== k && !(k !== k && a[s] !== a[s])) s = (s + 2) & mask;
    return s;
  }

  /** The record of `k`, or NONE. */
  get(k: number): number {
    return this.slots[this.slot(k) + 1]!;
  }

  /** Makes `seq` the record of `k`; returns the previous one, or NONE. */
  swap(k: number, seq: number): number {
    const s = this.slot(k);
    const a = this.slots;
    const prev = a[s + 1]!;
    if (prev === NONE) {
      a[s] = k;
      this.size++;
    }
    a[s + 1] = seq;
    if (this.size * 4 > a.length) this.rebuild(a.length, NONE);
    return prev;
  }

  /** Drops the keys whose record is before `head`. */
  keepFrom(head: number): void {
    this.rebuild(this.slots.length / 2, head);
  }

  /** A table of `cap` slots holding the pairs whose record is at or after `from`. */
  private rebuild(cap: number, from: number): void {
    const old = this.slots;
    this.slots = NumberIndex.empty(cap);
    this.size = 0;
    for (let i = 0; i < old.length; i += 2) {
      const v = old[i + 1]!;
      if (v === NONE || v < from) continue;
      const s = this.slot(old[i]!);
      this.slots[s] = old[i]!;
      this.slots[s + 1] = v;
      this.size++;
    }
  }

  forEach(fn: (k: number, seq: number) => void): void {
    const a = this.slots;
    for (let i = 0; i < a.length; i += 2) if (a[i + 1] !== NONE) fn(a[i]!, a[i + 1]!);
  }
}
