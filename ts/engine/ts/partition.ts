/**
 * Hash partitioning by key groups in TypeScript, identical to crates/sluice-core/src/partition.rs:
 * keyGroup = murmur3(canonical key bytes) % maxParallelism, subtask = keyGroup * p / maxParallelism,
 * rows kept in their original order within each target.
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import { fmix32, mixH, mixK, murmur3_32 } from './hash.js';
import { encodeKey, keyViews, KeyScratch } from './key.js';
import { i32View } from '../../batch/i64.js';

export function checkParallelism(parallelism: number, maxParallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) {
    throw new RangeError(`maxParallelism must be between 1 and 32768, got ${maxParallelism}`);
  }
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new RangeError(`parallelism must be between 1 and maxParallelism (${maxParallelism}), got ${parallelism}`);
  }
}

/** murmur3 (seed 0) of the 9 canonical bytes [1, v as 8 LE bytes] of a non-null i64 key (lo/hi words). */
export function hashI64Key(lo: number, hi: number): number {
  const k1 = 1 | (lo << 8);
  const k2 = (lo >>> 24) | (hi << 8);
  const tail = hi >>> 24;
  const h = mixH(mixH(0, k1), k2);
  return fmix32(h ^ mixK(tail) ^ 9);
}

/** The key group of every row. */
export function keyGroups(batch: RecordBatch, keyFields: readonly number[], maxParallelism: number): Int32Array {
  if (keyFields.length === 0) throw new Error('hash partitioning needs at least one key field');
  const n = batch.length;
  const out = new Int32Array(n);
  const cols = keyFields.map((k) => {
    const c = batch.columns[k];
    if (c === undefined) throw new RangeError(`key field index ${k} is out of range for a batch of ${batch.columns.length} columns`);
    return c;
  });
  const c0 = cols[0]!;
  if (cols.length === 1 && c0.validity === null && (c0.type === 'i64' || c0.type === 'timestamp')) {
    const v = i32View(c0.values);
    for (let i = 0; i < n; i++) out[i] = hashI64Key(v[2 * i]!, v[2 * i + 1]!) % maxParallelism;
    return out;
  }
  const views = keyViews(cols);
  const sc = new KeyScratch();
  for (let i = 0; i < n; i++) {
    sc.len = 0;
    encodeKey(cols, views, i, sc);
    out[i] = murmur3_32(sc.buf, 0, sc.len) % maxParallelism;
  }
  return out;
}

/** Splits a batch into `parallelism` batches by key group (empty targets get empty batches). */
export function hashPartition(batch: RecordBatch, keyFields: readonly number[], parallelism: number, maxParallelism: number): RecordBatch[] {
  checkParallelism(parallelism, maxParallelism);
  const groups = keyGroups(batch, keyFields, maxParallelism);
  const target = new Uint32Array(batch.length);
  for (let i = 0; i < target.length; i++) target[i] = Math.floor((groups[i]! * parallelism) / maxParallelism);
  return partitionByTargets(batch, target, parallelism);
}

/** Splits a batch into `n` batches: row i into batch `targets[i]`, rows kept in order. */
export function partitionByTargets(batch: RecordBatch, targets: Uint32Array, n: number): RecordBatch[] {
  if (targets.length !== batch.length) throw new Error(`${targets.length} targets for a batch of ${batch.length} rows`);
  const counts = new Int32Array(n);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t >= n) throw new Error(`row ${i} is sent to partition ${t}, but there are only ${n} (0 to ${n - 1})`);
    counts[t]!++;
  }
  const idx = Array.from({ length: n }, (_, t) => new Int32Array(counts[t]!));
  const fill = new Int32Array(n);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    idx[t]![fill[t]!++] = i;
  }
  return idx.map((rows) => batch.take(rows, rows.length));
}
