/**
 * DataStream, KeyedStream and WindowedStream: the pipeline-building API, named after Flink's.
 * Every call adds a node to the environment's job graph and checks its configuration at once.
 */

import type { KeyedProcessFunction } from './state.js';
import { Schema, type DataType, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { AggregateSpec } from '../engine/engine.js';
import { aggregateOutputType, describeAggregates, describeWindow, windowOutputSchema, withGapColumn } from '../engine/window-spec.js';
import type { GraphNode, JobGraph, NodeOp, Partitioning, UserFn } from '../plan/graph.js';
import { addWindowAggregate } from '../plan/two-phase.js';
import type { AggregateCall } from './agg.js';
import type { Sink } from './connector.js';
import type { StreamEnvironment } from './environment.js';
import { WatermarkStrategy } from './watermark.js';
import { CountEvictor, CountTrigger, EventTimeSessionWindows, GlobalWindows, PurgingTrigger, SlidingEventTimeWindows, Trigger, TumblingEventTimeWindows, type WindowAssigner } from './windows.js';
import { ConnectedStreams, IntervalJoin, JoinedStreams, keySelector, type GraphAccess } from './joins.js';
import { OutputTag } from './output-tag.js';
import type { Row } from '../batch/record-batch.js';
import type { AggregateFunction, UserWindowAssigner, UserWindowFunction } from './window-functions.js';
import type { WindowDescriptor } from '../engine/engine.js';

type KeyValue = string | number | boolean;

/**
 * What a window aggregation emits: the key fields, the window bounds and the named results
 * (first/last have the type of their field `T[F]`, the others are numbers).
 */
export type WindowResult<K, A, T = unknown, B = WindowBounds> = K & B & {
  [N in keyof A]: A[N] extends AggregateCall<infer F, 'first' | 'last'> ? (F extends keyof T ? T[F] : unknown) : number;
};

export class DataStream<T extends object> {
  /** @internal */
  constructor(
    protected readonly env: StreamEnvironment,
    /** @internal */
    readonly node: GraphNode,
    /** @internal How the next operator's input is partitioned (rebalance(), broadcast(), ...); null: the default. */
    readonly partitioner: Partitioning | null = null,
  ) {}

  /** The schema of this stream's records. */
  get schema(): Schema {
    return this.node.schema;
  }

  /** Subtasks of the operator that produces this stream (checked against the max parallelism when the job is planned). */
  setParallelism(n: number): this {
    checkParallelism(this.node, n);
    this.env.graph.parallel.byNode.set(this.node.id, n);
    return this;
  }

  /**
   * Names the operator's state in checkpoints (Flink's uid): a changed job (operators added or
   * removed) still restores it, as long as the operator keeps its uid. Unique within the job;
   * without one, the state's identity is generated from the operator's position and kind.
   */
  uid(uid: string): this {
    setUid(this.env.graph.nodes, this.node, uid);
    return this;
  }

  /** The operator's name in metrics, plans, the dashboard and errors (not part of its state's identity: see uid). */
  name(name: string): this {
    setName(this.node, name);
    return this;
  }

  /** Never chains the operator that produces this stream to its input or its consumers: it runs as its own task. */
  disableChaining(): this {
    this.env.graph.parallel.noChain.add(this.node.id);
    return this;
  }

  /** Starts a new chain at the operator that produces this stream (it is not chained to its input). */
  startNewChain(): this {
    this.env.graph.parallel.newChain.add(this.node.id);
    return this;
  }

  protected add<R extends object>(name: string, op: NodeOp, schema: Schema, opts: { partitioning?: Partitioning; hasEventTime?: boolean } = {}): DataStream<R> {
    const node = this.env.graph.add({
      name,
      op,
      input: this.node,
      partitioning: opts.partitioning ?? this.partitioner ?? { kind: 'forward' },
      schema,
      hasEventTime: opts.hasEventTime ?? this.node.hasEventTime,
    });
    return new DataStream<R>(this.env, node);
  }

  /** One output record per input record. Pass the output schema when the shape changes. */
  map(fn: (record: T) => T): DataStream<T>;
  map<S extends SchemaSpec>(fn: (record: T) => RecordOf<S>, schema: S): DataStream<RecordOf<S>>;
  map(fn: (record: T) => object, schema?: SchemaSpec): DataStream<object> {
    checkFn(fn, 'map');
    return this.add('Map', { kind: 'map', fn: fn as never, assumedSchema: schema === undefined }, schema === undefined ? this.schema : Schema.from(schema));
  }

  /** Keeps the records for which `fn` returns true. */
  filter(fn: (record: T) => boolean): DataStream<T> {
    checkFn(fn, 'filter');
    return this.add('Filter', { kind: 'filter', fn: fn as never }, this.schema);
  }

  /** Zero or more output records per input record. Pass the output schema when the shape changes. */
  flatMap(fn: (record: T) => Iterable<T>): DataStream<T>;
  flatMap<S extends SchemaSpec>(fn: (record: T) => Iterable<RecordOf<S>>, schema: S): DataStream<RecordOf<S>>;
  flatMap(fn: (record: T) => Iterable<object>, schema?: SchemaSpec): DataStream<object> {
    checkFn(fn, 'flatMap');
    return this.add('FlatMap', { kind: 'flatMap', fn: fn as never, assumedSchema: schema === undefined }, schema === undefined ? this.schema : Schema.from(schema));
  }

  /** Assigns event time and generates watermarks (replacing any from upstream). */
  assignTimestampsAndWatermarks(strategy: WatermarkStrategy<T>): DataStream<T> {
    checkTimestampAssigner(strategy as WatermarkStrategy<never>, this.schema, this.node.hasEventTime, 'assignTimestampsAndWatermarks');
    return this.add('Timestamps/Watermarks', { kind: 'timestamps', strategy: strategy as WatermarkStrategy<never> }, this.schema, {
      hasEventTime: true,
    });
  }

  /** The next operator's records are spread round-robin over its subtasks (by batch), even at equal parallelism. */
  rebalance(): DataStream<T> {
    return this.partitioned({ kind: 'rebalance' }, 'rebalance');
  }

  /** Every record goes to a random subtask of the next operator. */
  shuffle(): DataStream<T> {
    return this.partitioned({ kind: 'shuffle' }, 'shuffle');
  }

  /**
   * Round-robin to a local group of the next operator's subtasks (Flink's rescale): with twice
   * as many downstream subtasks, each upstream subtask feeds two of them; with half as many,
   * each downstream subtask is fed by two. Fewer channels than rebalance.
   */
  rescale(): DataStream<T> {
    return this.partitioned({ kind: 'rescale' }, 'rescale');
  }

  /** Every record goes to every subtask of the next operator. */
  broadcast(): DataStream<T> {
    return this.partitioned({ kind: 'broadcast' }, 'broadcast');
  }

  /** Records stay on the same subtask: the next operator must have the same parallelism (checked when the job is planned). */
  forward(): DataStream<T> {
    return this.partitioned({ kind: 'forward', explicit: true }, 'forward');
  }

  /** Every record goes to one subtask: the next operator runs with parallelism 1. */
  global(): DataStream<T> {
    return this.partitioned({ kind: 'global' }, 'global');
  }

  /**
   * The subtask of the next operator is chosen by `partitioner(key, numPartitions)` (a whole
   * number from 0 to numPartitions - 1) from each record's key: a field, or a selector.
   */
  partitionCustom<K>(partitioner: (key: K, numPartitions: number) => number, key: (keyof T & string) | ((record: T) => K)): DataStream<T> {
    checkFn(partitioner, 'partitionCustom');
    let fn: (r: Row) => unknown;
    let describe: string;
    if (typeof key === 'function') {
      fn = key as (r: Row) => unknown;
      describe = 'key selector';
    } else {
      fieldIndex(this.schema, key, 'partitionCustom');
      fn = (r) => r[key];
      describe = key;
    }
    return this.partitioned({ kind: 'custom', partitioner: partitioner as UserFn, key: fn as UserFn, describe }, 'partitionCustom');
  }

  /**
   * Range partitioning on one field: subtask k of the next operator gets the values in
   * [boundaries[k-1], boundaries[k]) (nulls go to the first). Give the parallelism - 1 ascending
   * boundaries, or let them be taken from the quantiles of the first `sampleSize` records
   * (default 1000; those records, and the watermark, wait until the sample is complete), which
   * needs one sending subtask so that every record sees the same ranges.
   */
  partitionByRange(field: keyof T & string, options: { readonly boundaries?: readonly (number | string)[]; readonly sampleSize?: number } = {}): DataStream<T> {
    const type = this.schema.fields[fieldIndex(this.schema, field, 'partitionByRange')]!.type;
    if (type === 'bool') throw new Error(`partitionByRange: field '${field}' is bool; range partitioning needs a number, timestamp or string field`);
    const sampleSize = options.sampleSize ?? 1000;
    if (!Number.isSafeInteger(sampleSize) || sampleSize < 1) throw new RangeError(`partitionByRange: sampleSize must be a whole number >= 1, got ${sampleSize}`);
    const b = options.boundaries ?? null;
    if (b !== null) {
      const want = type === 'utf8' ? 'string' : 'number';
      b.forEach((x, i) => {
        if (typeof x !== want) throw new TypeError(`partitionByRange: boundary ${i} is ${typeof x}, but field '${field}' is ${type}; give ${want}s`);
        if (i > 0 && !(b[i - 1]! < x)) throw new RangeError(`partitionByRange: boundaries must be strictly ascending, but boundary ${i} (${String(x)}) follows ${String(b[i - 1])}`);
      });
    }
    return this.partitioned({ kind: 'range', field, boundaries: b === null ? null : [...b], sampleSize }, 'partitionByRange');
  }

  private partitioned(p: Partitioning, what: string): DataStream<T> {
    if (this.partitioner !== null) throw new Error(`${what}() follows ${partitionerName(this.partitioner)}(): a stream has one partitioner per edge; keep one of them`);
    return new DataStream<T>(this.env, this.node, p);
  }

  /** @internal Operators that partition their input themselves (keyBy, windowAll, joins) reject a partitioner set before them. */
  checkNoPartitioner(what: string): void {
    if (this.partitioner === null) return;
    if (this.partitioner.kind === 'broadcast') {
      throw new Error(`${what} after broadcast(): a keyed operator needs each key on one subtask, but broadcast() sends every record to every subtask; remove broadcast(), or broadcast into a non-keyed operator (map, flatMap, connect)`);
    }
    throw new Error(`${what} partitions the stream itself, so the ${partitionerName(this.partitioner)}() before it has no effect; remove ${partitionerName(this.partitioner)}()`);
  }

  /** Partitions by key: one field, several fields, or a selector function (its key type defaults to utf8). */
  keyBy<K extends keyof T & string>(field: K): KeyedStream<T, Pick<T, K>>;
  keyBy<K extends keyof T & string>(fields: readonly K[]): KeyedStream<T, Pick<T, K>>;
  keyBy<V extends KeyValue>(selector: (record: T) => V, keyType?: DataType): KeyedStream<T, { key: V }>;
  keyBy(key: string | readonly string[] | ((record: T) => KeyValue), keyType: DataType = 'utf8'): KeyedStream<T, object> {
    this.checkNoPartitioner('keyBy()');
    if (typeof key === 'function') {
      const schema = new Schema([...this.schema.fields, { name: 'key', type: keyType, nullable: false }]);
      if (this.schema.has('key')) {
        throw new Error("keyBy(selector) adds a field named 'key', but the stream already has one; key by the field name instead");
      }
      const keyed = this.add<object>('KeySelector', { kind: 'keySelector', fn: key as never, keyType }, schema);
      return new KeyedStream(this.env, keyed.node, ['key']);
    }
    const fields = typeof key === 'string' ? [key] : [...key];
    if (fields.length === 0) throw new Error('keyBy needs at least one field');
    for (const f of fields) {
      if (!this.schema.has(f)) {
        throw new Error(`keyBy: no field '${f}' in the stream; fields are: ${this.schema.names().join(', ')}`);
      }
    }
    return new KeyedStream(this.env, this.node, fields);
  }

  /** The records of this stream and of `others` (all of one schema) as one stream; the watermark is the minimum over the inputs. */
  union(...others: DataStream<T>[]): DataStream<T> {
    if (others.length === 0) throw new Error('union needs at least one other stream');
    for (const o of others) {
      if (!o.schema.equals(this.schema)) {
        throw new Error(`union needs inputs of one schema: ${this.schema} and ${o.schema}; map them to one schema first`);
      }
    }
    const inputs = [this, ...others];
    const parts = inputs.map((o) => o.partitioner ?? { kind: 'forward' as const });
    return this.multi<T>('Union', { kind: 'union' }, inputs.map((o) => o.node), this.schema, parts);
  }

  /** Two streams processed together, with one function per input (ConnectedStreams). */
  connect<B extends object>(other: DataStream<B>): ConnectedStreams<T, B> {
    return new ConnectedStreams<T, B>(this.graphAccess(), this, other);
  }

  /** A window join: `a.join(b).where(keyA).equalTo(keyB).window(assigner).apply(fn, schema)`. */
  join<B extends object>(other: DataStream<B>): JoinedStreams<T, B, 'join'> {
    return new JoinedStreams<T, B, 'join'>(this.graphAccess(), this, other, 'join');
  }

  /** A window coGroup: like join, but the function gets all records of each side per key and window. */
  coGroup<B extends object>(other: DataStream<B>): JoinedStreams<T, B, 'coGroup'> {
    return new JoinedStreams<T, B, 'coGroup'>(this.graphAccess(), this, other, 'coGroup');
  }

  /** @internal */
  multi<R extends object>(name: string, op: NodeOp, inputs: readonly GraphNode[], schema: Schema, partitioning: Partitioning | readonly Partitioning[]): DataStream<R> {
    for (const n of inputs) {
      if (!this.env.graph.nodes.includes(n)) throw new Error(`${name}: every input must come from the same StreamEnvironment`);
    }
    const perInput = Array.isArray(partitioning) ? (partitioning as readonly Partitioning[]) : null;
    const node = this.env.graph.add({
      name,
      op,
      input: inputs[0]!,
      inputs,
      partitioning: perInput === null ? (partitioning as Partitioning) : perInput[0]!,
      ...(perInput === null ? {} : { inputPartitioning: perInput }),
      schema,
      hasEventTime: inputs.every((n) => n.hasEventTime),
    });
    return new DataStream<R>(this.env, node);
  }

  /** @internal */
  graphAccess(): GraphAccess {
    return {
      env: this.env,
      add: (name, op, inputs, schema, partitioning) => {
        if ((op.kind === 'windowJoin' || op.kind === 'intervalJoin') && !inputs.every((n) => n.hasEventTime)) {
          throw new Error(`${name} needs event timestamps on both inputs: give each source a WatermarkStrategy with a timestamp assigner`);
        }
        return this.multi(name, op, inputs, schema, partitioning);
      },
    };
  }

  /** The side output `tag` of the operator that produced this stream (e.g. a window's late records). */
  getSideOutput<S extends object>(tag: OutputTag<S>): DataStream<S> {
    const op = this.node.op;
    const lateTag = op.kind === 'windowAggregate' || op.kind === 'userWindow' ? op.lateTag : null;
    if (!(tag instanceof OutputTag) || lateTag !== tag.id) {
      throw new Error(`this stream has no side output '${tag instanceof OutputTag ? tag.id : String(tag)}'; call sideOutputLateData(tag) on the windowed stream that produces it`);
    }
    const input = this.node.input!;
    return new DataStream<S>(
      this.env,
      this.env.graph.add({ name: `Late records (${tag.id})`, op: { kind: 'sideOutput', tag: tag.id }, input: this.node, partitioning: { kind: 'forward' }, schema: input.schema, hasEventTime: true }),
    );
  }

  /**
   * Windows over the whole stream, without a key (Flink's windowAll): one result per window.
   * Results have windowStart, windowEnd and the aggregates (or what the function returns).
   */
  windowAll(assigner: GlobalWindows): WindowedStream<T, object, NoBounds>;
  windowAll(assigner: WindowAssigner<T>): WindowedStream<T, object>;
  windowAll(assigner: WindowAssigner<T>): WindowedStream<T, object, object> {
    this.checkNoPartitioner('windowAll()');
    return new KeyedStream<T, object>(this.env, this.node, []).window(assigner as never);
  }

  /** Count windows over the whole stream (Flink's countWindowAll): see KeyedStream.countWindow. */
  countWindowAll(size: number, slide?: number): WindowedStream<T, object, NoBounds> {
    this.checkNoPartitioner('countWindowAll()');
    return new KeyedStream<T, object>(this.env, this.node, []).countWindow(size, slide);
  }

  /** Writes the stream to a sink; the result sets the sink operator's uid, name and parallelism. */
  sinkTo(sink: Sink): DataStreamSink {
    return new DataStreamSink(this.env.graph, this.add(`Sink: ${sink.name}`, { kind: 'sink', sink }, this.schema).node);
  }

  /**
   * Runs the environment's job and yields this stream's records as they are produced
   * (Flink's executeAndCollect). Memory stays bounded: the job waits while the consumer lags.
   */
  collect(): AsyncIterableIterator<T> {
    return this.env.collectStream(this) as AsyncIterableIterator<T>;
  }
}

/** A sink operator, as `sinkTo` returns it (Flink's DataStreamSink): its uid, name and parallelism. */
export class DataStreamSink {
  /** @internal */
  constructor(
    private readonly graph: JobGraph,
    /** @internal */
    readonly node: GraphNode,
  ) {}

  /** Names the sink's state in checkpoints (see DataStream.uid). */
  uid(uid: string): this {
    setUid(this.graph.nodes, this.node, uid);
    return this;
  }

  /** The sink's name in metrics, plans, the dashboard and errors. */
  name(name: string): this {
    setName(this.node, name);
    return this;
  }

  /** Subtasks of the sink (checked against the max parallelism when the job is planned). */
  setParallelism(n: number): this {
    checkParallelism(this.node, n);
    this.graph.parallel.byNode.set(this.node.id, n);
    return this;
  }

  /** Never chains the sink to its input: it runs as its own task. */
  disableChaining(): this {
    this.graph.parallel.noChain.add(this.node.id);
    return this;
  }
}

function setUid(nodes: readonly GraphNode[], node: GraphNode, uid: string): void {
  // Generated state identities start with '#' and use it between their parts (runtime/state-identity.ts).
  if (typeof uid !== 'string' || uid.length === 0 || uid.includes('#')) {
    throw new TypeError(`${node.name}: uid(${JSON.stringify(uid)}) is not a valid uid; give a non-empty string without '#'`);
  }
  const other = nodes.find((n) => n !== node && n.uid === uid);
  if (other !== undefined) throw new Error(`uid '${uid}' is already the uid of '${other.name}'; an operator's uid must be unique within the job`);
  node.uid = uid;
}

function setName(node: GraphNode, name: string): void {
  if (typeof name !== 'string' || name.trim().length === 0) throw new TypeError(`${node.name}: name(${JSON.stringify(name)}) is not a valid name; give a non-empty string`);
  node.name = name;
}

function checkParallelism(node: GraphNode, n: number): void {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`${node.name}: parallelism must be a whole number >= 1, got ${n}`);
}

export class KeyedStream<T extends object, K> {
  /** @internal */
  constructor(
    /** @internal */
    readonly env: StreamEnvironment,
    /** @internal */
    readonly node: GraphNode,
    readonly keyFields: readonly string[],
  ) {}

  /**
   * One output record per input record, with every record of a key on the same subtask (hash
   * partitioned by key group), so per-key state kept by the function stays whole at any
   * parallelism.
   */
  map<S extends SchemaSpec>(fn: (record: T) => RecordOf<S>, schema: S): DataStream<RecordOf<S>> {
    checkFn(fn, 'map');
    const node = this.env.graph.add({
      name: 'Map (keyed)',
      op: { kind: 'map', fn: fn as never, assumedSchema: false },
      input: this.node,
      partitioning: { kind: 'hash', keyFields: this.keyFields },
      schema: Schema.from(schema),
      hasEventTime: this.node.hasEventTime,
    });
    return new DataStream<RecordOf<S>>(this.env, node);
  }

  /**
   * Flink's KeyedProcessFunction: `fn.processElement(record, ctx, out)` per record, with per-key
   * state (from the runtime context given to `fn.open`) and event- or processing-time timers
   * (`ctx.timerService()`, calling `fn.onTimer`). Records of a key stay on one subtask and in
   * order; `schema` is that of the records given to `out.collect`. `ctx.getCurrentKey()` is the
   * key's value (an array of values when keyed by several fields).
   */
  process<S extends SchemaSpec, KEY = unknown>(fn: KeyedProcessFunction<KEY, T, RecordOf<S>>, schema: S): DataStream<RecordOf<S>> {
    if (fn === null || typeof fn !== 'object' || typeof fn.processElement !== 'function') {
      throw new TypeError('process() needs a KeyedProcessFunction: an object with processElement(record, ctx, out), and optionally open(ctx), onTimer(time, ctx, out), close()');
    }
    const node = this.env.graph.add({
      name: 'KeyedProcess',
      op: { kind: 'keyedProcess', keyFields: this.keyFields, fn: fn as never },
      input: this.node,
      partitioning: { kind: 'hash', keyFields: this.keyFields },
      schema: Schema.from(schema),
      hasEventTime: this.node.hasEventTime,
    });
    return new DataStream<RecordOf<S>>(this.env, node);
  }

  /** An interval join with another keyed stream: `.between(lower, upper).process(fn, schema)`. */
  intervalJoin<B extends object, KB>(other: KeyedStream<B, KB>): IntervalJoin<T, B> {
    // A selector key is a computed 'key' column by now, so every side is keyed by fields.
    const side = <X extends object>(k: KeyedStream<X, unknown>) => ({
      stream: new DataStream<X>(k.env, k.node),
      key: keySelector(k.keyFields as never, k.node.schema, 'intervalJoin').fn,
      fields: k.keyFields,
      byFields: true,
    });
    if (!this.node.hasEventTime || !other.node.hasEventTime) {
      throw new Error('intervalJoin needs event timestamps on both inputs: give each source a WatermarkStrategy with a timestamp assigner');
    }
    return new IntervalJoin<T, B>(new DataStream<T>(this.env, this.node).graphAccess(), side(this), side(other as KeyedStream<B, unknown>));
  }

  /**
   * Groups each key's records into event-time windows: TumblingEventTimeWindows.of(size),
   * SlidingEventTimeWindows.of(size, slide) or EventTimeSessionWindows.withGap(gap) /
   * withDynamicGap(fn).
   */
  window(assigner: GlobalWindows): WindowedStream<T, K, NoBounds>;
  window(assigner: WindowAssigner<T>): WindowedStream<T, K>;
  window(assigner: WindowAssigner<T>): WindowedStream<T, K, object> {
    if (assigner instanceof GlobalWindows) return new WindowedStream<T, K, NoBounds>(this.env, this.node, this.keyFields, assigner);
    if (
      !(assigner instanceof TumblingEventTimeWindows) &&
      !(assigner instanceof SlidingEventTimeWindows) &&
      !(assigner instanceof EventTimeSessionWindows)
    ) {
      throw new TypeError(
        'window() takes a window assigner: TumblingEventTimeWindows.of(ms), SlidingEventTimeWindows.of(size, slide), EventTimeSessionWindows.withGap(ms) or GlobalWindows.create()',
      );
    }
    if (assigner.processingTime) {
      // Window time = the wall clock at the window: a stamping step feeds the same window operator.
      const stamped = this.env.graph.add({
        name: 'Processing time',
        op: { kind: 'processingTime' },
        input: this.node,
        partitioning: { kind: 'forward' },
        schema: this.node.schema,
        hasEventTime: true,
      });
      return new WindowedStream<T, K>(this.env, stamped, this.keyFields, assigner);
    }
    if (!this.node.hasEventTime) {
      throw new Error(
        'an event-time window needs event timestamps: give the source a WatermarkStrategy with a timestamp assigner, or call assignTimestampsAndWatermarks() before keyBy(); or use a processing-time window',
      );
    }
    return new WindowedStream<T, K>(this.env, this.node, this.keyFields, assigner);
  }

  /**
   * Count windows per key (Flink's countWindow): `countWindow(n)` fires every n records of a
   * key with those n records; `countWindow(n, slide)` fires every `slide` records with the
   * key's last n records (fewer at first). No time is involved; results have no window bounds.
   * A key's records after its last firing are never emitted (as in Flink) and are counted in
   * the job result as `unfiredRecords`.
   */
  countWindow(size: number, slide?: number): WindowedStream<T, K, NoBounds> {
    const global = new WindowedStream<T, K, NoBounds>(this.env, this.node, this.keyFields, GlobalWindows.create());
    if (slide === undefined) return global.trigger(PurgingTrigger.of(CountTrigger.of(size)));
    return global.evictor(CountEvictor.of(size)).trigger(CountTrigger.of(slide));
  }
}

/** Results of GlobalWindows and count windows carry no window bounds. */
export type NoBounds = object;

export class WindowedStream<T extends object, K, B extends object = WindowBounds> {
  /** @internal */
  constructor(
    private readonly env: StreamEnvironment,
    private readonly node: GraphNode,
    private readonly keyFields: readonly string[],
    private readonly assigner: WindowAssigner<T>,
    private readonly lateTag: OutputTag<T> | null = null,
    private readonly trig: Trigger | null = null,
    private readonly evict: CountEvictor | null = null,
    private readonly lateness = 0,
  ) {}

  /**
   * Keeps each window's state for `ms` after the watermark passed its end: a record that
   * arrives in that time is added and the window fires again with the updated result (one
   * update per such record, as in Flink). Later records are late (side output or dropped and
   * counted). For built-in aggregates (natively too), reduce, aggregate(AggregateFunction) and
   * process; a record reaching several fired sliding windows fires them latest start first.
   */
  allowedLateness(ms: number): WindowedStream<T, K, B> {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new RangeError(`allowedLateness needs a whole number of ms, 0 or more, got ${ms}`);
    if (this.assigner instanceof GlobalWindows) throw new Error('GlobalWindows and count windows never end, so allowedLateness does not apply; remove it');
    return new WindowedStream<T, K, B>(this.env, this.node, this.keyFields, this.assigner, this.lateTag, this.trig, this.evict, ms);
  }

  /** When the window fires (GlobalWindows only): CountTrigger, EventTimeTrigger, ContinuousEventTimeTrigger, PurgingTrigger.of(...). */
  trigger(trigger: Trigger): WindowedStream<T, K, B> {
    if (!(trigger instanceof Trigger)) throw new TypeError('trigger() takes a trigger, e.g. CountTrigger.of(100) or PurgingTrigger.of(CountTrigger.of(100))');
    if (!(this.assigner instanceof GlobalWindows)) {
      throw new Error('triggers can be set on GlobalWindows only (time windows fire when the watermark passes their end); use window(GlobalWindows.create()).trigger(...)');
    }
    if (trigger.spec.kind !== 'count' && !this.node.hasEventTime) {
      throw new Error(`${trigger.describe()} needs event timestamps: give the source a WatermarkStrategy with a timestamp assigner`);
    }
    return new WindowedStream<T, K, B>(this.env, this.node, this.keyFields, this.assigner, this.lateTag, trigger, this.evict, this.lateness);
  }

  /** Keeps only the last `count` records of a window before its function runs (GlobalWindows only). */
  evictor(evictor: CountEvictor): WindowedStream<T, K, B> {
    if (!(evictor instanceof CountEvictor)) throw new TypeError('evictor() takes CountEvictor.of(n)');
    if (!(this.assigner instanceof GlobalWindows)) throw new Error('evictors can be set on GlobalWindows only; use window(GlobalWindows.create()).evictor(...)');
    return new WindowedStream<T, K, B>(this.env, this.node, this.keyFields, this.assigner, this.lateTag, this.trig, evictor, this.lateness);
  }

  /** The built-in aggregates a GlobalWindows trigger maps to: count windows, or an error that says what to use. */
  private globalDescriptor(): WindowDescriptor {
    const t = this.trig?.spec;
    if (t === undefined) throw new Error('GlobalWindows never fire without a trigger: add .trigger(CountTrigger.of(n)), or use countWindow(n)');
    if (t.kind === 'count') {
      const ev = this.evict?.count;
      // Purging: each firing sees the records since the last one (at most the evictor's count).
      if (t.purge) return { kind: 'count', size: ev === undefined ? t.count : Math.min(ev, t.count), slide: t.count };
      if (ev !== undefined) return { kind: 'count', size: ev, slide: t.count };
    }
    throw new Error(
      `built-in aggregates on GlobalWindows run as count windows (countWindow(n[, slide]), or PurgingTrigger.of(CountTrigger.of(n)), or CountTrigger with a CountEvictor); for ${this.trig!.describe()}${this.evict === null ? '' : ' with an evictor'} use reduce, aggregate(AggregateFunction) or process`,
    );
  }

  /**
   * Sends records that arrive after their windows fired to the side output `tag` (read it with
   * `getSideOutput(tag)` on the result) instead of dropping them.
   */
  sideOutputLateData(tag: OutputTag<T>): WindowedStream<T, K, B> {
    if (!(tag instanceof OutputTag)) throw new TypeError('sideOutputLateData takes an OutputTag, e.g. new OutputTag("late")');
    if (this.assigner instanceof GlobalWindows) throw new Error('GlobalWindows and count windows have no late records (they never end); remove sideOutputLateData');
    return new WindowedStream<T, K, B>(this.env, this.node, this.keyFields, this.assigner, tag, this.trig, this.evict, this.lateness);
  }

  /**
   * Built-in aggregates per key and window, computed by the engine without materialising
   * records (a dynamic session gap function sees each record).
   */
  aggregate<A extends Record<string, AggregateCall<keyof T & string>>>(aggregates: A): DataStream<WindowResult<K, A, T, B>>;
  /** A user AggregateFunction per key and window; rows are its results plus windowStart and windowEnd (not for GlobalWindows). */
  aggregate<ACC, S extends SchemaSpec>(fn: AggregateFunction<T, ACC, RecordOf<S>>, resultSchema: S): DataStream<RecordOf<S> & B>;
  aggregate(arg: object, resultSchema?: SchemaSpec): DataStream<object> {
    if (typeof (arg as { createAccumulator?: unknown }).createAccumulator === 'function') {
      const f = arg as AggregateFunction<Row, unknown, Row>;
      for (const m of ['add', 'getResult', 'merge'] as const) {
        if (typeof f[m] !== 'function') throw new TypeError(`an AggregateFunction needs createAccumulator, add, getResult and merge; '${m}' is missing`);
      }
      if (resultSchema === undefined) throw new Error('aggregate(AggregateFunction, resultSchema): pass the schema of getResult()');
      return this.userWindow('Aggregate', { kind: 'aggregate', fn: f }, this.withBounds(Schema.from(resultSchema)));
    }
    return this.builtIn(arg as Record<string, AggregateCall<keyof T & string>>);
  }

  /** Combines each key's records per window with `fn` (rows: the reduced record plus windowStart and windowEnd). */
  reduce(fn: (a: T, b: T) => T): DataStream<T & B> {
    checkFn(fn, 'reduce');
    // A key selector's computed 'key' column is not part of T.
    const keyed = this.node.op.kind === 'processingTime' ? this.node.input! : this.node;
    const input = keyed.op.kind === 'keySelector' ? new Schema(this.node.schema.fields.filter((f) => f.name !== 'key')) : this.node.schema;
    return this.userWindow('Reduce', { kind: 'reduce', fn: fn as never }, this.withBounds(input)) as DataStream<T & B>;
  }

  private withBounds(schema: Schema): Schema {
    return this.assigner instanceof GlobalWindows ? schema : withBounds(schema);
  }

  /** Calls `fn` once per key and window with all of its records; the rows it returns have `schema`. */
  process<S extends SchemaSpec>(fn: (key: unknown, window: { start: number; end: number }, records: T[]) => Iterable<RecordOf<S>>, schema: S): DataStream<RecordOf<S>> {
    checkFn(fn, 'process');
    return this.userWindow('Process', { kind: 'process', fn: fn as never }, Schema.from(schema)) as DataStream<RecordOf<S>>;
  }

  private userWindow(what: string, fn: UserWindowFunction, schema: Schema): DataStream<object> {
    const a = this.assigner;
    if (a instanceof GlobalWindows) {
      const trigger = this.trig;
      if (trigger === null) throw new Error('GlobalWindows never fire without a trigger: add .trigger(CountTrigger.of(n)), or use countWindow(n)');
      const gkey = this.keyFields.length === 0 ? () => null : keySelector(this.keyFields as never, this.node.schema, 'window').fn;
      const evict = this.evict === null ? '' : `, CountEvictor(${this.evict.count})`;
      const node = this.env.graph.add({
        name: `Window(GlobalWindows, ${trigger.describe()}${evict}) ${what}`,
        op: { kind: 'globalWindow', key: gkey as UserFn, spec: { trigger: trigger.spec, evictCount: this.evict?.count ?? null }, fn },
        input: this.node,
        partitioning: this.keyFields.length === 0 ? { kind: 'global' } : { kind: 'hash', keyFields: this.keyFields },
        schema,
        hasEventTime: false,
      });
      return new DataStream(this.env, node);
    }
    const assigner: UserWindowAssigner =
      a instanceof EventTimeSessionWindows
        ? { kind: 'session', gapMs: (a.gapFn ?? a.gapMs!) as number | ((r: Row) => number) }
        : a instanceof SlidingEventTimeWindows
          ? { kind: 'sliding', sizeMs: a.sizeMs, slideMs: a.slideMs, offsetMs: a.offsetMs }
          : { kind: 'tumbling', sizeMs: a.sizeMs, slideMs: a.sizeMs, offsetMs: a.offsetMs };
    const key = this.keyFields.length === 0 ? () => null : keySelector(this.keyFields as never, this.node.schema, 'window').fn;
    const node = this.env.graph.add({
      name: `Window(${a.describe()}) ${what}`,
      op: { kind: 'userWindow', key: key as UserFn, assigner, fn, lateTag: this.lateTag?.id ?? null, lateness: this.lateness },
      input: this.node,
      partitioning: this.keyFields.length === 0 ? { kind: 'global' } : { kind: 'hash', keyFields: this.keyFields },
      schema,
      hasEventTime: true,
    });
    return new DataStream(this.env, node);
  }

  private builtIn<A extends Record<string, AggregateCall<keyof T & string>>>(aggregates: A): DataStream<WindowResult<K, A, T>> {
    const input = this.node.schema;
    const specs: AggregateSpec[] = Object.entries(aggregates).map(([name, call]) => {
      if (call === null || typeof call !== 'object' || typeof (call as AggregateCall).kind !== 'string') {
        throw new TypeError(`aggregate '${name}' must be an aggregate such as agg.count() or agg.max('price')`);
      }
      const c = call as AggregateCall;
      const field = c.field === null ? null : fieldIndex(input, c.field, `aggregate '${name}'`);
      const spec: AggregateSpec = { name, kind: c.kind, field };
      aggregateOutputType(spec, input);
      return spec;
    });
    if (specs.length === 0) throw new Error("aggregate() needs at least one aggregate, e.g. { n: agg.count() }");
    const keyFields = this.keyFields.map((k) => input.indexOf(k));
    const a = this.assigner;
    // A dynamic session gap becomes an i64 column after the input's, filled by the runtime.
    const gapFn = a instanceof EventTimeSessionWindows ? a.gapFn : null;
    const window = a instanceof EventTimeSessionWindows ? a.descriptor(input.length) : a instanceof GlobalWindows ? this.globalDescriptor() : a.descriptor();
    const engineInput = gapFn === null ? input : withGapColumn(input);
    const schema = windowOutputSchema({ input: engineInput, keyFields, window, aggregates: specs });
    const node = addWindowAggregate(
      this.env.graph,
      this.node,
      `Window(${a instanceof GlobalWindows ? describeWindow(window) : a.describe()}) aggregate [${describeAggregates(specs, input)}]`,
      { kind: 'windowAggregate', keyFields, window, gapFn: gapFn as UserFn | null, aggregates: specs, lateTag: this.lateTag?.id ?? null, lateness: this.lateness },
      this.keyFields.length === 0 ? { kind: 'global' } : { kind: 'hash', keyFields: this.keyFields },
      schema,
    );
    return new DataStream(this.env, node);
  }
}

export type WindowBounds = { windowStart: number; windowEnd: number };

function withBounds(schema: Schema): Schema {
  for (const f of ['windowStart', 'windowEnd']) {
    if (schema.has(f)) throw new Error(`the window result already has a field '${f}'; the window bounds are added under that name`);
  }
  return new Schema([...schema.fields, { name: 'windowStart', type: 'timestamp', nullable: false }, { name: 'windowEnd', type: 'timestamp', nullable: false }]);
}

function fieldIndex(schema: Schema, name: string, what: string): number {
  if (!schema.has(name)) throw new Error(`${what}: no field '${name}' in the stream; fields are: ${schema.names().join(', ')}`);
  return schema.indexOf(name);
}

function partitionerName(p: Partitioning): string {
  return p.kind === 'custom' ? 'partitionCustom' : p.kind === 'range' ? 'partitionByRange' : p.kind;
}

function checkFn(fn: unknown, what: string): void {
  if (typeof fn !== 'function') throw new TypeError(`${what}() takes a function`);
}

/** Build-time checks of a timestamp assigner against the schema it will read. */
export function checkTimestampAssigner(strategy: WatermarkStrategy<never>, schema: Schema, hasEventTime: boolean, where: string): void {
  if (!(strategy instanceof WatermarkStrategy)) {
    throw new TypeError(`${where} takes a WatermarkStrategy, e.g. WatermarkStrategy.forBoundedOutOfOrderness(4000).withTimestampAssigner('dateTime')`);
  }
  const a = strategy.assigner;
  if (a === null && !hasEventTime) {
    throw new Error(`${where}: these records carry no event time; add .withTimestampAssigner(field or function) to the WatermarkStrategy`);
  }
  if (typeof a === 'string') {
    if (!schema.has(a)) throw new Error(`${where}: timestamp field '${a}' is not in the stream; fields are: ${schema.names().join(', ')}`);
    const t = schema.field(a).type;
    if (t !== 'timestamp' && t !== 'i64') {
      throw new Error(`${where}: timestamp field '${a}' is ${t}; it must be a timestamp or i64 field holding ms since the epoch`);
    }
  }
}
