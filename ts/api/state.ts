/**
 * Keyed state and timers for user functions, as in Flink: state descriptors name a piece of
 * per-key state; a KeyedProcessFunction gets the state from its runtime context in `open` and
 * reads and writes it for the key of the record (or timer) being processed.
 */

import type { AggregateFunction } from './window-functions.js';

/** When a value's time to live restarts (Flink's StateTtlConfig.UpdateType). */
export type TtlUpdateType = 'onCreateAndWrite' | 'onReadAndWrite';

/** Time to live of a state's values (processing time, ms). Expired values are never returned. */
export interface StateTtlConfig {
  readonly ttlMs: number;
  /** Default 'onCreateAndWrite'. */
  readonly updateType?: TtlUpdateType;
}

export type StateKind = 'value' | 'list' | 'map' | 'reducing' | 'aggregating';

abstract class StateDescriptor<S> {
  /** Phantom: the state object this descriptor gives; never set. */
  declare readonly __state?: S;
  ttl: Required<StateTtlConfig> | null = null;

  constructor(
    readonly kind: StateKind,
    readonly name: string,
  ) {
    if (typeof name !== 'string' || name === '') throw new TypeError('a state descriptor needs a non-empty name');
  }

  /** Values expire `ttlMs` after they were written (or read, with updateType 'onReadAndWrite'). */
  enableTimeToLive(config: StateTtlConfig): this {
    if (!Number.isSafeInteger(config.ttlMs) || config.ttlMs <= 0) throw new RangeError(`state '${this.name}': ttlMs must be a whole number of ms above 0, got ${config.ttlMs}`);
    const updateType = config.updateType ?? 'onCreateAndWrite';
    if (updateType !== 'onCreateAndWrite' && updateType !== 'onReadAndWrite') {
      throw new RangeError(`state '${this.name}': updateType must be 'onCreateAndWrite' or 'onReadAndWrite', got '${String(updateType)}'`);
    }
    this.ttl = { ttlMs: config.ttlMs, updateType };
    return this;
  }
}

export class ValueStateDescriptor<T> extends StateDescriptor<ValueState<T>> {
  constructor(name: string, readonly defaultValue: T | null = null) {
    super('value', name);
  }
}

export class ListStateDescriptor<T> extends StateDescriptor<ListState<T>> {
  constructor(name: string) {
    super('list', name);
  }
}

export class MapStateDescriptor<K, V> extends StateDescriptor<MapState<K, V>> {
  /** Phantom: key and value types. */
  declare readonly __kv?: [K, V];
  constructor(name: string) {
    super('map', name);
  }
}

export class ReducingStateDescriptor<T> extends StateDescriptor<ReducingState<T>> {
  constructor(name: string, readonly reduce: (a: T, b: T) => T) {
    super('reducing', name);
    if (typeof reduce !== 'function') throw new TypeError(`ReducingStateDescriptor '${name}' needs a reduce function`);
  }
}

export class AggregatingStateDescriptor<IN, ACC, OUT> extends StateDescriptor<AggregatingState<IN, OUT>> {
  constructor(name: string, readonly aggregate: AggregateFunction<IN, ACC, OUT>) {
    super('aggregating', name);
    if (typeof aggregate?.createAccumulator !== 'function' || typeof aggregate.add !== 'function' || typeof aggregate.getResult !== 'function') {
      throw new TypeError(`AggregatingStateDescriptor '${name}' needs an AggregateFunction (createAccumulator, add, getResult, merge)`);
    }
  }
}

export type AnyStateDescriptor =
  | ValueStateDescriptor<unknown>
  | ListStateDescriptor<unknown>
  | MapStateDescriptor<unknown, unknown>
  | ReducingStateDescriptor<unknown>
  | AggregatingStateDescriptor<unknown, unknown, unknown>;

export interface ValueState<T> {
  /** The value for the current key, or the descriptor's default (null unless given). */
  value(): T | null;
  update(value: T | null): void;
  clear(): void;
}

export interface ListState<T> {
  get(): T[];
  add(value: T): void;
  addAll(values: readonly T[]): void;
  update(values: readonly T[]): void;
  clear(): void;
}

export interface MapState<K, V> {
  get(key: K): V | undefined;
  put(key: K, value: V): void;
  putAll(entries: Iterable<readonly [K, V]>): void;
  contains(key: K): boolean;
  remove(key: K): void;
  entries(): [K, V][];
  keys(): K[];
  values(): V[];
  isEmpty(): boolean;
  clear(): void;
}

export interface ReducingState<T> {
  get(): T | null;
  add(value: T): void;
  clear(): void;
}

export interface AggregatingState<IN, OUT> {
  get(): OUT | null;
  add(value: IN): void;
  clear(): void;
}

export interface RuntimeContext {
  /** This subtask's index and the operator's parallelism. */
  readonly subtask: number;
  readonly parallelism: number;
  getState<T>(d: ValueStateDescriptor<T>): ValueState<T>;
  getListState<T>(d: ListStateDescriptor<T>): ListState<T>;
  getMapState<K, V>(d: MapStateDescriptor<K, V>): MapState<K, V>;
  getReducingState<T>(d: ReducingStateDescriptor<T>): ReducingState<T>;
  getAggregatingState<IN, ACC, OUT>(d: AggregatingStateDescriptor<IN, ACC, OUT>): AggregatingState<IN, OUT>;
}

export interface TimerService {
  /** The operator's event-time watermark (ms; -Infinity before the first). */
  currentWatermark(): number;
  currentProcessingTime(): number;
  /** Calls onTimer for the current key once the watermark reaches `time` (once per key and time). */
  registerEventTimeTimer(time: number): void;
  /** Calls onTimer for the current key once the wall clock reaches `time`. */
  registerProcessingTimeTimer(time: number): void;
  deleteEventTimeTimer(time: number): void;
  deleteProcessingTimeTimer(time: number): void;
}

export interface KeyedContext<K> {
  /** The event time of the record (processElement) or the timer's time (onTimer), or null without event time. */
  timestamp(): number | null;
  getCurrentKey(): K;
  timerService(): TimerService;
}

export interface OnTimerContext<K> extends KeyedContext<K> {
  timeDomain(): 'eventTime' | 'processingTime';
}

export interface Collector<O> {
  collect(record: O): void;
}

/**
 * Flink's KeyedProcessFunction: `processElement` for each record of a key, `onTimer` for its
 * timers, per-key state from the runtime context given to `open`.
 */
export interface KeyedProcessFunction<K, I, O> {
  open?(ctx: RuntimeContext): void;
  processElement(record: I, ctx: KeyedContext<K>, out: Collector<O>): void;
  onTimer?(timestamp: number, ctx: OnTimerContext<K>, out: Collector<O>): void;
  close?(): void;
}
