/**
 * Streams with two inputs, named as in Flink's DataStream API: ConnectedStreams (co-map /
 * co-flatMap), JoinedStreams and CoGroupedStreams (window joins), and interval joins on keyed
 * streams.
 */

import { Schema, type RecordOf, type SchemaSpec } from '../batch/schema.js';
import type { Row } from '../batch/record-batch.js';
import type { GraphNode, NodeOp, Partitioning } from '../plan/graph.js';
import type { DataStream } from './datastream.js';
import type { StreamEnvironment } from './environment.js';
import { EventTimeSessionWindows, SlidingEventTimeWindows, TumblingEventTimeWindows } from './windows.js';

type KeySpec<T> = (keyof T & string) | readonly (keyof T & string)[] | ((record: T) => unknown);

/** A key selector over records from a field, several fields, or a function. */
export function keySelector<T>(spec: KeySpec<T>, schema: Schema, what: string): { fn: (r: Row) => unknown; fields: string[] | null } {
  if (typeof spec === 'function') return { fn: spec as (r: Row) => unknown, fields: null };
  const fields = typeof spec === 'string' ? [spec] : [...(spec as readonly string[])];
  if (fields.length === 0) throw new Error(`${what} needs at least one key field`);
  for (const f of fields) {
    if (!schema.has(f)) throw new Error(`${what}: no field '${f}' in the stream; fields are: ${schema.names().join(', ')}`);
  }
  if (fields.length === 1) {
    const f = fields[0]!;
    return { fn: (r) => r[f], fields };
  }
  return { fn: (r) => fields.map((f) => r[f]), fields };
}

/** Window assigners usable in window joins: tumbling and sliding event-time windows. */
export interface JoinWindowAssigner {
  readonly sizeMs: number;
  readonly offsetMs: number;
  readonly slideMs?: number;
  describe(): string;
}

export function joinWindows(assigner: JoinWindowAssigner | EventTimeSessionWindows): { sizeMs: number; slideMs: number; offsetMs: number; gapMs?: number; describe: string } {
  // Only the library's event-time assigners: they have checked their sizes, offsets and gaps.
  if (assigner instanceof EventTimeSessionWindows && !assigner.processingTime && assigner.gapMs !== null) {
    return { sizeMs: 0, slideMs: 0, offsetMs: 0, gapMs: assigner.gapMs, describe: assigner.describe() };
  }
  if ((!(assigner instanceof TumblingEventTimeWindows) && !(assigner instanceof SlidingEventTimeWindows)) || assigner.processingTime) {
    throw new TypeError(
      'a window join takes event-time windows: TumblingEventTimeWindows.of(...), SlidingEventTimeWindows.of(...) or EventTimeSessionWindows.withGap(...)',
    );
  }
  const slideMs = assigner instanceof SlidingEventTimeWindows ? assigner.slideMs : assigner.sizeMs;
  return { sizeMs: assigner.sizeMs, slideMs, offsetMs: assigner.offsetMs, describe: assigner.describe() };
}

/** @internal Adds a node with several inputs to the environment's graph. */
export interface GraphAccess {
  readonly env: StreamEnvironment;
  add(name: string, op: NodeOp, inputs: readonly GraphNode[], schema: Schema, partitioning: Partitioning | readonly Partitioning[]): DataStream<object>;
}

/** Key types whose canonical bytes are equal exactly when the values are equal (f64 is not: 0 and -0). */
const HASHABLE = new Set(['i32', 'i64', 'timestamp', 'utf8', 'bool']);

/**
 * How the two inputs of a keyed two-input operator are partitioned so that equal keys meet on
 * one subtask: by key group of the key fields when both sides' fields have the same types, else
 * by key group of the selected key value (as the operator compares keys).
 */
export function keyedInputs(
  a: { readonly fn: (r: Row) => unknown; readonly fields: readonly string[] | null },
  b: { readonly fn: (r: Row) => unknown; readonly fields: readonly string[] | null },
  sa: Schema,
  sb: Schema,
): [Partitioning, Partitioning] {
  const fa = a.fields;
  const fb = b.fields;
  if (fa !== null && fb !== null && fa.length === fb.length && fa.every((f, i) => sa.field(f).type === sb.field(fb[i]!).type && HASHABLE.has(sa.field(f).type))) {
    return [
      { kind: 'hash', keyFields: fa },
      { kind: 'hash', keyFields: fb },
    ];
  }
  return [
    { kind: 'keyFn', fn: a.fn as never, describe: fa?.join(', ') ?? 'key selector' },
    { kind: 'keyFn', fn: b.fn as never, describe: fb?.join(', ') ?? 'key selector' },
  ];
}

function outSchema(spec: SchemaSpec | undefined, a: Schema, b: Schema, what: string): Schema {
  if (spec !== undefined) return Schema.from(spec);
  if (a.equals(b)) return a;
  throw new Error(`${what}: the two inputs have different schemas (${a} and ${b}); pass the output schema`);
}

export class ConnectedStreams<A extends object, B extends object> {
  /** @internal */
  constructor(
    private readonly g: GraphAccess,
    private readonly a: DataStream<A>,
    private readonly b: DataStream<B>,
    private readonly keys: [Partitioning, Partitioning] | null = null,
  ) {}

  /**
   * Keys both inputs (Flink's connect().keyBy): records of either input with equal keys meet on
   * one subtask, so state the functions keep per key stays whole at any parallelism.
   */
  keyBy(keyA: KeySpec<A>, keyB: KeySpec<B>): ConnectedStreams<A, B> {
    this.a.checkNoPartitioner('connect().keyBy()');
    this.b.checkNoPartitioner('connect().keyBy()');
    const ka = keySelector(keyA, this.a.schema, 'connect().keyBy');
    const kb = keySelector(keyB, this.b.schema, 'connect().keyBy');
    return new ConnectedStreams<A, B>(this.g, this.a, this.b, keyedInputs(ka, kb, this.a.schema, this.b.schema));
  }

  /** One function per input; both feed one output stream. */
  map<S extends SchemaSpec>(fa: (r: A) => RecordOf<S>, fb: (r: B) => RecordOf<S>, schema?: S): DataStream<RecordOf<S>> {
    return this.flatMap((r) => [fa(r)], (r) => [fb(r)], schema);
  }

  flatMap<S extends SchemaSpec>(fa: (r: A) => Iterable<RecordOf<S>>, fb: (r: B) => Iterable<RecordOf<S>>, schema?: S): DataStream<RecordOf<S>> {
    const s = outSchema(schema, this.a.schema, this.b.schema, 'connect().flatMap');
    const parts = this.keys ?? [this.a.partitioner ?? { kind: 'forward' }, this.b.partitioner ?? { kind: 'forward' }];
    return this.g.add(this.keys === null ? 'CoFlatMap' : 'CoFlatMap (keyed)', { kind: 'coFlatMap', fns: [fa as never, fb as never] }, [this.a.node, this.b.node], s, parts) as DataStream<RecordOf<S>>;
  }
}

type JoinKind = 'join' | 'coGroup';

export class JoinedStreams<A extends object, B extends object, K extends JoinKind = 'join'> {
  /** @internal */
  constructor(
    private readonly g: GraphAccess,
    private readonly a: DataStream<A>,
    private readonly b: DataStream<B>,
    private readonly kind: K,
  ) {}

  where(key: KeySpec<A>): { equalTo(key: KeySpec<B>): { window(assigner: JoinWindowAssigner | EventTimeSessionWindows): WindowJoin<A, B, K> } } {
    this.a.checkNoPartitioner(`${this.kind}()`);
    this.b.checkNoPartitioner(`${this.kind}()`);
    const ka = keySelector(key, this.a.schema, `${this.kind}().where`);
    return {
      equalTo: (keyB) => {
        const kb = keySelector(keyB, this.b.schema, `${this.kind}().equalTo`);
        return { window: (assigner) => new WindowJoin<A, B, K>(this.g, this.a, this.b, this.kind, [ka, kb], joinWindows(assigner)) };
      },
    };
  }
}

type JoinFn<A, B, K extends JoinKind, R> = K extends 'join'
  ? (left: A, right: B, window: { start: number; end: number }) => R
  : (left: A[], right: B[], window: { start: number; end: number }) => Iterable<R>;

export class WindowJoin<A extends object, B extends object, K extends JoinKind> {
  /** @internal */
  constructor(
    private readonly g: GraphAccess,
    private readonly a: DataStream<A>,
    private readonly b: DataStream<B>,
    private readonly kind: K,
    private readonly keys: readonly [{ fn: (r: Row) => unknown; fields: string[] | null }, { fn: (r: Row) => unknown; fields: string[] | null }],
    private readonly windows: { sizeMs: number; slideMs: number; offsetMs: number; gapMs?: number; describe: string },
  ) {}

  /** join: called for every pair of records with equal keys in the same window. coGroup: once per key and window, with all records of each side. */
  apply<S extends SchemaSpec>(fn: JoinFn<A, B, K, RecordOf<S>>, schema: S): DataStream<RecordOf<S>> {
    if (typeof fn !== 'function') throw new TypeError(`${this.kind}().apply takes a function`);
    const pairs =
      this.kind === 'join'
        ? (l: Row[], r: Row[], w: { start: number; end: number }) => l.flatMap((x) => r.map((y) => (fn as (a: Row, b: Row, w: { start: number; end: number }) => unknown)(x, y, w)))
        : (fn as (l: Row[], r: Row[], w: { start: number; end: number }) => Iterable<unknown>);
    const name = `Window${this.kind === 'join' ? 'Join' : 'CoGroup'}(${this.windows.describe})`;
    const partitioning = keyedInputs(this.keys[0], this.keys[1], this.a.schema, this.b.schema);
    return this.g.add(
      name,
      { kind: 'windowJoin', keys: [this.keys[0].fn, this.keys[1].fn], windows: this.windows, fn: pairs as never, inner: this.kind === 'join' },
      [this.a.node, this.b.node],
      Schema.from(schema),
      partitioning,
    ) as DataStream<RecordOf<S>>;
  }
}

export class IntervalJoin<A extends object, B extends object> {
  /** @internal */
  constructor(
    private readonly g: GraphAccess,
    private readonly a: { stream: DataStream<A>; key: (r: Row) => unknown; fields: readonly string[]; byFields: boolean },
    private readonly b: { stream: DataStream<B>; key: (r: Row) => unknown; fields: readonly string[]; byFields: boolean },
  ) {}

  /** Right records with time in [left time + lower, left time + upper] (ms, both included). */
  between(
    lowerMs: number,
    upperMs: number,
  ): {
    process<S extends SchemaSpec>(fn: (left: A, right: B, ctx: { leftTimestamp: number; rightTimestamp: number }) => RecordOf<S>, schema: S): DataStream<RecordOf<S>>;
    /**
     * @internal SQL's interval join: each joined row is the left's columns, then the right's
     * (`schema` names and types them in that order), gathered column by column without records.
     */
    concatColumns(schema: Schema): DataStream<Row>;
  } {
    if (!Number.isSafeInteger(lowerMs) || !Number.isSafeInteger(upperMs) || lowerMs > upperMs) {
      throw new RangeError(`intervalJoin().between(lower, upper) needs whole ms with lower <= upper, got (${lowerMs}, ${upperMs})`);
    }
    const add = (fn: ((...args: never[]) => unknown) | null, schema: Schema): DataStream<never> =>
      this.g.add(
        `IntervalJoin[${lowerMs}, ${upperMs}]`,
        {
          kind: 'intervalJoin',
          keys: [this.a.key, this.b.key],
          keyFields: [this.a.byFields ? this.a.fields : null, this.b.byFields ? this.b.fields : null],
          lower: lowerMs,
          upper: upperMs,
          fn,
        },
        [this.a.stream.node, this.b.stream.node],
        schema,
        keyedInputs({ fn: this.a.key, fields: this.a.fields }, { fn: this.b.key, fields: this.b.fields }, this.a.stream.schema, this.b.stream.schema),
      ) as DataStream<never>;
    return {
      process: (fn, schema) => {
        if (typeof fn !== 'function') throw new TypeError('intervalJoin().process takes a function');
        return add(fn as never, Schema.from(schema));
      },
      concatColumns: (schema) => {
        const sides = [this.a.stream.schema, this.b.stream.schema];
        const types = sides.flatMap((s) => s.fields.map((f) => f.type));
        if (types.length !== schema.length || schema.fields.some((f, i) => f.type !== types[i])) {
          throw new Error(`internal error: the joined schema ${schema} is not the columns of ${sides[0]} then ${sides[1]}`);
        }
        return add(null, schema);
      },
    };
  }
}
