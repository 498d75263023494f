/**
 * What a user hands to a window: Flink's AggregateFunction, reduce and process functions, the
 * assigners and triggers they run under. Built by the DataStream API, run by the runtime.
 */

import type { Row } from '../batch/record-batch.js';

export type UserWindowAssigner =
  | { readonly kind: 'tumbling' | 'sliding'; readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number }
  | { readonly kind: 'session'; readonly gapMs: number | ((r: Row) => number) };

/** When a global window fires (Flink's triggers on GlobalWindows); `purge` clears it after firing. */
export type TriggerSpec =
  | { readonly kind: 'count'; readonly count: number; readonly purge: boolean }
  | { readonly kind: 'eventTime'; readonly purge: boolean }
  | { readonly kind: 'continuousEventTime'; readonly intervalMs: number; readonly purge: boolean };

/** A global window per key with a trigger, and optionally an evictor keeping the last `evictCount` records. */
export interface GlobalWindowSpec {
  readonly trigger: TriggerSpec;
  readonly evictCount: number | null;
}

/** Flink's AggregateFunction: accumulate incrementally, merge for sessions. */
export interface AggregateFunction<T, ACC, R> {
  createAccumulator(): ACC;
  add(value: T, accumulator: ACC): ACC;
  getResult(accumulator: ACC): R;
  merge(a: ACC, b: ACC): ACC;
}

export interface WindowInfo {
  readonly start: number;
  readonly end: number;
}

export type UserWindowFunction =
  | { readonly kind: 'reduce'; readonly fn: (a: Row, b: Row) => Row }
  | { readonly kind: 'aggregate'; readonly fn: AggregateFunction<Row, unknown, Row> }
  | { readonly kind: 'process'; readonly fn: (key: unknown, window: WindowInfo, records: Row[]) => Iterable<Row> };

