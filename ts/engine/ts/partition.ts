/**
 * Hash partitioning by key groups in TypeScript, identical to crates/sluice-core/src/partition.rs:
 * keyGroup = murmur3(canonical key bytes) % maxParallelism, subtask = keyGroup * p / maxParallelism,
 * rows kept in their original order within each target.
 */

import type { RecordBatch } from '../../batch/record-batch.js';
import { subtasks } from '../../keys/key-groups.js';
import { EngineError } from '../errors.js';

/** A parallelism the key groups can be split into (the native core checks the same, with the same words). */
export function checkParallelism(parallelism: number, maxParallelism: number): void {
  if (!Number.isInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > 32768) {
    throw new EngineError('config', `maxParallelism must be between 1 and 32768, got ${maxParallelism}`);
  }
  if (!Number.isInteger(parallelism) || parallelism < 1 || parallelism > maxParallelism) {
    throw new EngineError('config', `parallelism must be between 1 and maxParallelism (${maxParallelism}), got ${parallelism}`);
  }
}

/** Splits a batch into `parallelism` batches by key group (empty targets get empty batches). */
export function hashPartition(batch: RecordBatch, keyFields: readonly number[], parallelism: number, maxParallelism: number): RecordBatch[] {
  checkParallelism(parallelism, maxParallelism);
  const target = new Uint32Array(batch.length);
  subtasks(batch, keyFields, maxParallelism, parallelism, target);
  return partitionByTargets(batch, target, parallelism);
}

/** Splits a batch into `n` batches: row i into batch `targets[i]`, rows kept in order. */
export function partitionByTargets(batch: RecordBatch, targets: Uint32Array, n: number): RecordBatch[] {
  if (targets.length !== batch.length) throw new EngineError('config', `${targets.length} targets for a batch of ${batch.length} rows`);
  const counts = new Int32Array(n);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t >= n) throw new EngineError('config', `row ${i} is sent to partition ${t}, but there are only ${n} (0 to ${n - 1})`);
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
