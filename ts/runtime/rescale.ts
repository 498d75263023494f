/**
 * Restoring at another parallelism (Flink's key-group ranges): the one place that decides which
 * keyed state of the old subtasks this subtask keeps. An operator with keyed state gets, from
 * its factory, how its keys map to key groups (the same way its input exchange routes them);
 * on a rescaled restore it hands its entries or input rows to the filter.
 */

import type { RecordBatch } from '../batch/record-batch.js';
import type { Schema } from '../batch/schema.js';
import { keyFnGroup, keyGroups, keyGroupsOf, subtaskOf } from '../keys/key-groups.js';

/** The key groups of keys as an operator holds them (its key functions' or key fields' values). */
export type KeyGrouper = (keys: readonly unknown[]) => Int32Array;

/** Keys that are the values of key fields (`keySchema`; several fields: the array of their values). */
export function fieldKeyGrouper(keySchema: Schema, maxParallelism: number): KeyGrouper {
  return (keys) => keyGroupsOf(keys, keySchema, maxParallelism);
}

/** Keys that are a key selector's results (keyBy with a function). */
export function selectorKeyGrouper(maxParallelism: number): KeyGrouper {
  return (keys) => Int32Array.from(keys, (k) => keyFnGroup(k, maxParallelism));
}

export class KeyGroupFilter {
  constructor(
    readonly subtask: number,
    readonly parallelism: number,
    readonly maxParallelism: number,
  ) {}

  /** Whether key group `kg` belongs to this subtask (subtask = kg * parallelism / maxParallelism). */
  owns(kg: number): boolean {
    return subtaskOf(kg, this.parallelism, this.maxParallelism) === this.subtask;
  }

  /** Whether the i-th of `keys` is in this subtask's key groups. */
  mask(keys: readonly unknown[], grouper: KeyGrouper): (i: number) => boolean {
    const groups = grouper(keys);
    return (i) => this.owns(groups[i]!);
  }

  /** The entries whose key (`keyOf`) is in this subtask's key groups, in their order. */
  entries<E>(entries: readonly E[], keyOf: (e: E) => unknown, grouper: KeyGrouper): E[] {
    const mine = this.mask(entries.map(keyOf), grouper);
    return entries.filter((_, i) => mine(i));
  }

  /** The rows of `batch` whose key fields hash into this subtask's key groups, in order; null when none. */
  rows(batch: RecordBatch, keyFields: readonly number[]): RecordBatch | null {
    const groups = keyGroups(batch, keyFields, this.maxParallelism);
    const rows = Int32Array.from({ length: batch.length }, (_, i) => i).filter((i) => this.owns(groups[i]!));
    return rows.length === 0 ? null : batch.take(rows, rows.length);
  }
}
