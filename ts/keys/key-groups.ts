/**
 * Key groups, as in Flink and identical to crates/sluice-core/src/partition.rs:
 * keyGroup = murmur3(canonical key bytes) % maxParallelism, subtask = keyGroup * p / maxParallelism.
 * The unit of state redistribution: the exchange routes by it and snapshots move keys by it, so
 * both engines and the runtime compute it here.
 */

import { batchFromRecords } from '../batch/builder.js';
import { i32View } from '../batch/i64.js';
import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import { hashI64Words, murmur3_32 } from './hash.js';
import { encodeKey, keyViews, KeyScratch } from './key-bytes.js';
import { keyString } from './map-key.js';


/**
 * `hash % maxParallelism` for an unsigned 32-bit hash. Written with a float division because
 * V8 computes `%` of a value at or above 2^31 (half of all hashes, held as doubles) as a float
 * remainder through a C call: 19 ns a row against 10 for the whole key group this way. Exact:
 * the quotient of integers below 2^32 and 2^15 is never rounded up to the next integer.
 */
export function keyGroupOf(hash: number, maxParallelism: number): number {
  return hash - Math.floor(hash / maxParallelism) * maxParallelism;
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
    for (let i = 0; i < n; i++) out[i] = keyGroupOf(hashI64Words(v[2 * i]!, v[2 * i + 1]!), maxParallelism);
    return out;
  }
  const views = keyViews(cols);
  const sc = new KeyScratch();
  for (let i = 0; i < n; i++) {
    sc.len = 0;
    encodeKey(cols, views, i, sc);
    out[i] = keyGroupOf(murmur3_32(sc.buf, 0, sc.len), maxParallelism);
  }
  return out;
}

/** The subtask of a key group at parallelism `n` (Flink's `keyGroup * n / maxParallelism`). */
export function subtaskOf(keyGroup: number, n: number, maxParallelism: number): number {
  return Math.floor((keyGroup * n) / maxParallelism);
}

/**
 * The subtask of every row at parallelism `n` into `out` (the hash exchange's routing). One
 * non-null integer key with a power-of-two maxParallelism, the common case, goes as natively:
 * the key group is the hash's low bits and the subtask a shift, with no key-group array in
 * between (a third of the TS partitioner's time on 3 columns).
 */
export function subtasks(batch: RecordBatch, keyFields: readonly number[], maxParallelism: number, n: number, out: Uint32Array): void {
  const key = keyFields.length === 1 ? batch.columns[keyFields[0]!] : undefined;
  if (key !== undefined && key.validity === null && (key.type === 'i64' || key.type === 'timestamp') && (maxParallelism & (maxParallelism - 1)) === 0) {
    const v = i32View(key.values);
    const mask = maxParallelism - 1;
    const shift = 31 - Math.clz32(maxParallelism);
    for (let i = 0; i < batch.length; i++) out[i] = ((hashI64Words(v[2 * i]!, v[2 * i + 1]!) & mask) * n) >>> shift;
    return;
  }
  const groups = keyGroups(batch, keyFields, maxParallelism);
  for (let i = 0; i < batch.length; i++) out[i] = subtaskOf(groups[i]!, n, maxParallelism);
}

/**
 * The key group of each key as the hash exchange computes it from the key fields (`keySchema`;
 * a key of several fields is the array of their values), so that snapshots can move keys to
 * other subtasks on rescaling. Whole-number keys of one i64 field are hashed directly; other
 * keys go through one batch.
 */
export function keyGroupsOf(keys: readonly unknown[], keySchema: Schema, maxParallelism: number): Int32Array {
  const out = new Int32Array(keys.length);
  const f = keySchema.fields;
  if (f.length === 1 && !f[0]!.nullable && (f[0]!.type === 'i64' || f[0]!.type === 'timestamp') && keys.every((k) => typeof k === 'number' && Number.isSafeInteger(k))) {
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as number;
      const hi = Math.floor(k / 4294967296);
      out[i] = keyGroupOf(hashI64Words((k - hi * 4294967296) | 0, hi | 0), maxParallelism);
    }
    return out;
  }
  if (keys.length === 0) return out;
  const names = keySchema.names();
  const rows = keys.map((k) => (names.length === 1 ? { [names[0]!]: k } : Object.fromEntries(names.map((n, i) => [n, (k as unknown[])[i]]))));
  out.set(keyGroups(batchFromRecords(rows, keySchema, 'state keys'), names.map((_, i) => i), maxParallelism));
  return out;
}

const utf8 = new TextEncoder();
/** Reused for the keys' UTF-8 bytes (no allocation per row). */
let scratch = new Uint8Array(64);

/** The key group of a key selector's result (keyBy with a function): murmur3 of its type-tagged string. */
export function keyFnGroup(key: unknown, maxParallelism: number): number {
  const k = keyString(key);
  if (scratch.length < k.length * 3) scratch = new Uint8Array(k.length * 6);
  return keyGroupOf(murmur3_32(scratch, 0, utf8.encodeInto(k, scratch).written), maxParallelism);
}

