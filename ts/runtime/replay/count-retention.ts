/**
 * Checkpoints of the built-in count windows (countWindow(size, slide).aggregate({ ... })), in
 * both engines: the operator keeps its input batches, and a checkpoint keeps of them, per key,
 * only the records a restore must replay into a fresh aggregator to be where this one is.
 *
 * A key's windows fire when its record count reaches a multiple of `slide`, each over its last
 * `size` records. After c records, replaying its last r records, with r = c when c < size +
 * slide, else the r in [size, size + slide) with r ≡ c (mod slide), leaves the aggregator with
 * the same last `size` records and the same position in the slide, so it fires the same windows
 * over the same records from then on (what the replay fires was emitted before the checkpoint).
 * Unfired records (c mod slide) are preserved too. So per key at most size + slide records are
 * kept, and the counts need not be stored: the replay makes them.
 */

import { ownedBatch } from '../../batch/segment.js';
import type { RecordBatch } from '../../batch/record-batch.js';
import { encodeKey, keyViews, KeyScratch } from '../../keys/key-bytes.js';

/** How many of a key's last records a restore replays after `count` records. */
export function replayedRecords(count: number, size: number, slide: number): number {
  return count < size + slide ? count : size + ((count - size) % slide);
}

export class CountRetention {
  /** Records per key so far (since the start, or as replayed by a restore). */
  private readonly counts = new Map<string, number>();
  private retained: RecordBatch[] = [];
  private retainedRows = 0;
  /** Rows kept by the last pruning: the next one runs once four times as many are retained. */
  private keptRows = 0;

  constructor(
    private readonly keyFields: readonly number[],
    private readonly size: number,
    private readonly slide: number,
  ) {}

  /**
   * Each row's key as a Map key: its canonical key bytes (as the aggregators tell keys apart:
   * every i64 exactly, NaN and null apart) as a string of one char per byte.
   */
  private keysOf(batch: RecordBatch): (i: number) => string {
    const cols = this.keyFields.map((f) => batch.columns[f]!);
    const views = keyViews(cols);
    const sc = new KeyScratch();
    return (i) => {
      sc.len = 0;
      encodeKey(cols, views, i, sc);
      return String.fromCharCode.apply(null, sc.buf.subarray(0, sc.len) as unknown as number[]);
    };
  }

  /** A batch the aggregator received (or replayed). */
  add(batch: RecordBatch): void {
    if (batch.length === 0) return;
    const key = this.keysOf(batch);
    for (let i = 0; i < batch.length; i++) {
      const k = key(i);
      this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    }
    // Kept past this call: a batch read from an exchange segment is copied out of it.
    this.retained.push(ownedBatch(batch));
    this.retainedRows += batch.length;
    if (this.retainedRows > Math.max(1 << 20, 4 * this.keptRows)) this.prune();
  }

  /** The batches a restore replays (pruned to them). */
  keep(): readonly RecordBatch[] {
    this.prune();
    return this.retained;
  }

  /** Drops every retained record a restore would not replay. */
  private prune(): void {
    const taken = new Map<string, number>();
    const kept: RecordBatch[] = [];
    for (let b = this.retained.length - 1; b >= 0; b--) {
      const batch = this.retained[b]!;
      const key = this.keysOf(batch);
      const rows: number[] = [];
      for (let i = batch.length - 1; i >= 0; i--) {
        const k = key(i);
        const n = taken.get(k) ?? 0;
        if (n < replayedRecords(this.counts.get(k)!, this.size, this.slide)) {
          taken.set(k, n + 1);
          rows.push(i);
        }
      }
      if (rows.length === batch.length) kept.push(batch);
      else if (rows.length > 0) kept.push(batch.take(Int32Array.from(rows.reverse()), rows.length));
    }
    this.retained = kept.reverse();
    this.retainedRows = this.retained.reduce((n, b) => n + b.length, 0);
    this.keptRows = this.retainedRows;
  }
}
