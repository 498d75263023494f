/**
 * The operator registry (Flink's StreamOperatorFactory, Arroyo's construct_operator): one
 * factory per plan node kind, each handed everything its operator needs up front. Adding an
 * operator means one class and one entry here; nothing else in the runtime knows its class.
 */

import type { Row } from '../batch/record-batch.js';
import { Schema } from '../batch/schema.js';
import type { AggregateSpec, Engine } from '../engine/engine.js';
import { withGapColumn } from '../engine/window-spec.js';
import type { WatermarkStrategy } from '../api/watermark.js';
import type { Source } from '../api/connector.js';
import { partitioningOf, type GraphNode, type NodeOp } from '../plan/graph.js';
import type { PhysicalNode, PhysicalPlan } from '../plan/physical.js';
import { OperatorMemory, type ManagedMemory } from './memory.js';
import type { Operator } from './operator.js';
import { fieldKeyGrouper, selectorKeyGrouper, type KeyGrouper } from './rescale.js';
import { InputReplay } from './replay/input-replay.js';
import { CoFlatMapOperator, IntervalJoinOperator, UnionOperator, WindowCoGroupOperator, type KeyFn } from './operators/joins.js';
import { KeyedProcessOperator } from './operators/process.js';
import { ProcessingTimeOperator } from './operators/processing-time.js';
import { FilterOperator, FlatMapOperator, KeySelectorOperator, MapOperator } from './operators/record-functions.js';
import { SideOutputOperator } from './operators/side-output.js';
import { CalcOperator, compiledFilter, compiledMap, remapCalcSpec } from './operators/calc.js';
import { compileFilterFunction, compileMapFunction } from '../plan/record-functions.js';
import { GroupAggregateOperator } from './operators/group-aggregate.js';
import { RankOperator } from './operators/rank.js';
import { RegularJoinOperator } from './operators/regular-join.js';
import { CommittingSinkOperator, SinkOperator, type SinkSpec } from './operators/sink.js';
import { SourceOperator } from './operators/source.js';
import { TimestampsOperator } from './operators/timestamps.js';
import { GlobalWindowOperator, UserWindowOperator } from './operators/user-window.js';
import { WindowAggregateOperator, WindowPreAggregateOperator } from './operators/window-aggregate.js';

/** What a factory may use: the node as planned, the engine, and the run it belongs to. */
export interface OperatorSetup {
  readonly node: GraphNode;
  readonly physical: PhysicalNode;
  readonly plan: PhysicalPlan;
  readonly engine: Engine;
  readonly batchSize: number;
  /** The subtask being built. */
  readonly subtask: number;
  readonly memory: ManagedMemory;
  /** The job takes checkpoints; and this run resumes from one. */
  readonly checkpointing: boolean;
  readonly restoring: boolean;
  /** User functions get reused row views (env.enableObjectReuse) instead of fresh records. */
  readonly objectReuse: boolean;
}

/**
 * What a factory built for one node: the operator that receives the node's input (`head`) and
 * the one its consumers are fed from (`tail`; a source's watermark generator is chained behind
 * it). A source also says how the task drives it.
 */
export interface BuiltOperator {
  readonly head: Operator;
  readonly tail: Operator;
  readonly source?: DrivenSource;
}

/** A source subtask as its task drives it: the reader's operator, and its watermark for alignment. */
export interface DrivenSource {
  readonly operator: SourceOperator;
  /** Watermark alignment of the source's strategy, or null. */
  readonly alignment: { readonly group: string; readonly maxDriftMs: number } | null;
  readonly watermark: () => number;
  readonly idle: () => boolean;
}

type Factory<K extends NodeOp['kind']> = (op: Extract<NodeOp, { kind: K }>, s: OperatorSetup) => Operator | BuiltOperator;

const FACTORIES: { readonly [K in NodeOp['kind']]: Factory<K> } = {
  source: (op, s) => {
    const { node: n, physical: p } = s;
    const reader = (op.source as Source).open({ engine: s.engine, batchSize: s.batchSize, projection: p.projection, filter: p.filter, subtask: s.subtask, parallelism: p.parallelism });
    // The source's watermark strategy runs chained right behind it.
    const ts = op.watermarks === null ? null : new TimestampsOperator(n.id, `${n.name} timestamps/watermarks`, op.watermarks as WatermarkStrategy<never>, p.outputSchema, n.name, s.subtask);
    const head = new SourceOperator(n.id, n.name, reader, p.outputSchema, ts);
    if (ts !== null) head.addOutput(ts);
    const alignment = op.watermarks?.alignment ?? null;
    if (alignment !== null) head.metrics.alignmentPausedMs = 0;
    const source: DrivenSource = {
      operator: head,
      alignment,
      watermark: () => ts?.watermark ?? -Infinity,
      idle: () => ts?.isIdle ?? false,
    };
    return { head, tail: ts ?? head, source };
  },
  map: (op, { node: n, physical: p, objectReuse, engine }) => {
    const spec = compileMapFunction(op.fn, n.input!.schema, n.schema, n.name);
    const compiled = spec === null ? null : compiledMap(engine, { ...spec, name: n.name }, n.input!.schema, p.inputSchema!);
    return new MapOperator(n.id, n.name, op.fn as (r: Row) => unknown, p.outputSchema, { objectReuse, assumedSchema: op.assumedSchema, compiled });
  },
  calc: (op, { node: n, physical: p, engine }) =>
    new CalcOperator(n.id, n.name, engine.createCalc(p.inputSchema!, remapCalcSpec(op.spec, n.input!.schema, p.inputSchema!))),
  filter: (op, { node: n, physical: p, objectReuse, engine }) => {
    const predicate = compileFilterFunction(op.fn, n.input!.schema);
    const compiled = predicate === null ? null : compiledFilter(engine, n.name, predicate, n.input!.schema, p.inputSchema!);
    return new FilterOperator(n.id, n.name, op.fn as (r: Row) => unknown, objectReuse, compiled);
  },
  flatMap: (op, { node: n, physical: p, objectReuse }) =>
    new FlatMapOperator(n.id, n.name, op.fn as (r: Row) => Iterable<unknown>, p.outputSchema, { objectReuse, assumedSchema: op.assumedSchema }),
  timestamps: (op, { node: n, physical: p, subtask }) => new TimestampsOperator(n.id, n.name, op.strategy, p.outputSchema, sourceName(n), subtask),
  keySelector: (op, { node: n, physical: p, objectReuse }) =>
    new KeySelectorOperator(n.id, n.name, op.fn as (r: Row) => unknown, op.keyType, p.outputSchema, objectReuse),
  windowPreAggregate: (op, s) => {
    const f = windowFields(s, op);
    const agg = s.engine.createWindowAggregator({ input: s.physical.inputSchema!, keyFields: f.keyFields, window: op.window, aggregates: f.aggregates, memoryPool: s.memory.id });
    return new WindowPreAggregateOperator(s.node.id, s.node.name, agg, stateShare(s));
  },
  windowAggregate: (op, s) => {
    const { node: n, physical: p } = s;
    const f = windowFields(s, op);
    const input = p.inputSchema!;
    // A dynamic session gap: the operator appends the gap column after the input's fields.
    const engineInput = op.gapFn === null ? input : withGapColumn(input);
    const window = op.gapFn === null ? op.window : { kind: 'session' as const, dynamicGapField: input.length };
    const agg = s.engine.createWindowAggregator({
      input: engineInput,
      keyFields: f.keyFields,
      window,
      aggregates: f.aggregates,
      allowedLatenessMs: op.lateness,
      memoryPool: s.memory.id,
    });
    const replay = s.checkpointing
      ? new InputReplay({ engine: s.engine, window: op.window, lateness: op.lateness, keyFields: f.keyFields, name: n.name }, () => agg.earliestStart())
      : null;
    return new WindowAggregateOperator(n.id, n.name, {
      agg,
      window: op.window,
      gap: op.gapFn === null ? null : { fn: op.gapFn as (r: Row) => unknown, schema: engineInput, origin: sourceName(n) },
      lateTag: op.lateTag,
      memory: stateShare(s),
      partialRecords: op.partialRecords === null ? null : f.at(op.partialRecords),
      replay,
    });
  },
  groupAggregate: (op, s) => {
    const f = windowFields(s, op);
    const input = s.physical.inputSchema!;
    const agg = s.engine.createGroupAggregator({ input, keyFields: f.keyFields, aggregates: f.aggregates, stateTtlMs: op.stateTtlMs });
    return new GroupAggregateOperator(s.node.id, s.node.name, agg, s.engine, f.keyFields.length);
  },
  rank: (op, s) => new RankOperator(s.node.id, s.node.name, op.spec, s.physical.inputSchema!, s.physical.outputSchema, s.engine, op.stateTtlMs),
  regularJoin: (op, s) => new RegularJoinOperator(s.node.id, s.node.name, op.spec, s.physical.inputSchemas, s.physical.outputSchema, inputKeyGroups(s), s.engine, op.stateTtlMs),
  sink: (op, s) => {
    const writer = op.sink.open(s.physical.outputSchema, { engine: s.engine, checkpointing: s.checkpointing, restoring: s.restoring, subtask: s.subtask, parallelism: s.physical.parallelism });
    // With checkpoints the writer closes after the final checkpoint committed, not at end of input.
    const spec: SinkSpec = { writer, closeWriterAt: s.checkpointing ? 'close' : 'end-of-input' };
    const committing = writer.preCommit !== undefined && writer.commit !== undefined;
    return committing ? new CommittingSinkOperator(s.node.id, s.node.name, spec) : new SinkOperator(s.node.id, s.node.name, spec);
  },
  union: (_op, { node: n }) => new UnionOperator(n.id, n.name, n.inputs.length),
  coFlatMap: (op, { node: n, physical: p }) => new CoFlatMapOperator(n.id, n.name, op.fns as ((r: Row) => Iterable<unknown>)[], p.outputSchema),
  windowJoin: (op, s) =>
    new WindowCoGroupOperator(s.node.id, s.node.name, {
      keys: op.keys as [KeyFn, KeyFn],
      windows: op.windows,
      fn: op.fn as never,
      schema: s.physical.outputSchema,
      join: op.inner ? 'inner' : 'coGroup',
      keyGroups: inputKeyGroups(s),
    }),
  intervalJoin: (op, s) =>
    new IntervalJoinOperator(s.node.id, s.node.name, {
      keys: op.keys as [KeyFn, KeyFn],
      keyFields: op.keyFields,
      lower: op.lower,
      upper: op.upper,
      fn: op.fn as never,
      schema: s.physical.outputSchema,
      inputSchemas: s.physical.inputSchemas,
      columns: op.fn === null ? joinedColumns(s) : null,
      keyGroups: inputKeyGroups(s),
    }),
  userWindow: (op, s) =>
    new UserWindowOperator(s.node.id, s.node.name, {
      key: op.key as (r: Row) => unknown,
      assigner: op.assigner,
      fn: op.fn,
      schema: s.physical.outputSchema,
      lateTag: op.lateTag,
      lateness: op.lateness,
      keyGroups: fieldKeyGroups(s),
    }),
  globalWindow: (op, s) =>
    new GlobalWindowOperator(s.node.id, s.node.name, { key: op.key as (r: Row) => unknown, spec: op.spec, fn: op.fn, schema: s.physical.outputSchema, keyGroups: fieldKeyGroups(s) }),
  sideOutput: (_op, { node: n }) => new SideOutputOperator(n.id, n.name),
  processingTime: (_op, { node: n }) => new ProcessingTimeOperator(n.id, n.name),
  keyedProcess: (op, s) =>
    new KeyedProcessOperator(s.node.id, s.node.name, {
      keyFields: op.keyFields,
      fn: op.fn as never,
      schema: s.physical.outputSchema,
      timestamps: s.node.hasEventTime ? 'event' : 'none',
      keyGroups: fieldKeyGrouper(keySchema(s.physical, op.keyFields), s.plan.maxParallelism),
      objectReuse: s.objectReuse,
    }),
};

/** Builds the operator(s) of one plan node for one subtask. */
export function buildOperator(s: OperatorSetup): BuiltOperator {
  const kind = s.node.op.kind;
  const built = (FACTORIES[kind] as Factory<typeof kind>)(s.node.op, s);
  return 'head' in built ? built : { head: built, tail: built };
}

/**
 * A window node's key and aggregate fields (indices into its logical input) at its input as
 * planned (narrowed by projection); `at` resolves any other field.
 */
function windowFields(s: OperatorSetup, op: { readonly keyFields: readonly number[]; readonly aggregates: readonly AggregateSpec[] }) {
  const logical = s.node.input!.schema;
  const at = (i: number): number => s.physical.inputSchema!.indexOf(logical.fields[i]!.name);
  return { at, keyFields: op.keyFields.map(at), aggregates: op.aggregates.map((a) => ({ ...a, field: a.field === null ? null : at(a.field) })) };
}

/**
 * Each output column of the interval join gathering columns: the input and its column. The
 * joined row is the left's columns, then the right's; the plan may build only some of them.
 */
function joinedColumns(s: OperatorSetup): { readonly input: 0 | 1; readonly column: number }[] {
  const full = s.node.schema;
  const leftLength = s.physical.inputSchemas[0]!.length;
  return s.physical.outputSchema.fields.map((f) => {
    const k = full.indexOf(f.name);
    return k < leftLength ? { input: 0, column: k } : { input: 1, column: k - leftLength };
  });
}

/** The TS engine's window state is counted in the run's managed memory here; the native engine reserves from the pool itself. */
function stateShare(s: OperatorSetup): OperatorMemory | null {
  return s.engine.name === 'ts' ? new OperatorMemory(s.memory, `${s.node.name} (subtask ${s.subtask})`) : null;
}

/** A node whose input is hashed by key fields: the key groups of its keys; null when it is not. */
function fieldKeyGroups(s: OperatorSetup): KeyGrouper | null {
  const part = partitioningOf(s.node, 0);
  return part.kind === 'hash' ? fieldKeyGrouper(keySchema(s.physical, part.keyFields), s.plan.maxParallelism) : null;
}

/** How a two-input operator's keys map to key groups, as its input exchanges compute them; null when not keyed. */
function inputKeyGroups(s: OperatorSetup): KeyGrouper | null {
  return fieldKeyGroups(s) ?? (partitioningOf(s.node, 0).kind === 'keyFn' ? selectorKeyGrouper(s.plan.maxParallelism) : null);
}

/** The schema of a keyed node's key fields, as its input has them. */
function keySchema(p: PhysicalNode, keyFields: readonly string[]): Schema {
  return new Schema(keyFields.map((f) => p.inputSchema!.field(f)));
}

/** The source a node's records come from (for error messages). */
function sourceName(n: GraphNode): string {
  let cur: GraphNode | null = n.input;
  while (cur !== null && cur.op.kind !== 'source') cur = cur.input;
  return cur === null ? n.name : cur.name;
}
