/**
 * The logical graph: one node per transformation, built by the DataStream API. Each node
 * knows its output schema and whether its rows carry event time, so configuration errors
 * surface while the pipeline is built, not when it runs.
 */

import type { Schema } from '../batch/schema.js';
import type { Sink, Source } from '../api/connector.js';
import type { WatermarkStrategy } from '../api/watermark.js';
import type { AggregateSpec, WindowDescriptor } from '../engine/engine.js';
import type { CalcSpec } from '../engine/calc-spec.js';
import type { DataType } from '../batch/schema.js';
import type { KeyedProcessFunction } from '../api/state.js';
import type { GlobalWindowSpec, UserWindowAssigner, UserWindowFunction } from '../api/window-functions.js';
import type { CheckpointConfig } from '../api/job.js';
import type { RankSpec } from '../engine/rank-spec.js';
import type { RegularJoinSpec } from '../engine/regular-join-spec.js';

export type UserFn = (...args: never[]) => unknown;

export type NodeOp =
  | { readonly kind: 'source'; readonly source: Source; readonly watermarks: WatermarkStrategy<never> | null }
  /** assumedSchema: no output schema was given, the input's is kept (records are checked against it). */
  | { readonly kind: 'map'; readonly fn: UserFn; readonly assumedSchema: boolean }
  | { readonly kind: 'filter'; readonly fn: UserFn }
  /**
   * Projection, filter and computed columns fused (Table API / SQL): field indices refer to the
   * input's schema. predicatePushdown false: its filter stays out of the source (the Table
   * config's `table.optimizer.source.predicate-pushdown-enabled`).
   */
  | { readonly kind: 'calc'; readonly spec: CalcSpec; readonly predicatePushdown?: boolean }
  | { readonly kind: 'flatMap'; readonly fn: UserFn; readonly assumedSchema: boolean }
  | { readonly kind: 'timestamps'; readonly strategy: WatermarkStrategy<never> }
  | { readonly kind: 'keySelector'; readonly fn: UserFn; readonly keyType: DataType }
  | {
      readonly kind: 'windowAggregate';
      readonly keyFields: readonly number[];
      /** The assigner; a dynamic session gap names the column after the input's fields. */
      readonly window: WindowDescriptor;
      /** A dynamic session gap: a function of the record, run by the operator. */
      readonly gapFn: UserFn | null;
      readonly aggregates: readonly AggregateSpec[];
      /** Side output for late records (sideOutputLateData), or null. */
      readonly lateTag: string | null;
      /** allowedLateness (ms): fired windows are kept and fire again for late records. */
      readonly lateness: number;
      /**
       * The second phase of a two-phase aggregation (its input is a windowPreAggregate): the
       * input column holding each partial row's record count, so late records are counted as
       * records; null when the input is records.
       */
      readonly partialRecords: number | null;
    }
  /**
   * The first phase of a two-phase window aggregation: each batch's partial aggregates per key
   * and slice (tumbling windows of gcd(size, slide)), chained to the input, so the exchange
   * carries one row per key and slice of a batch instead of every record.
   */
  | { readonly kind: 'windowPreAggregate'; readonly keyFields: readonly number[]; readonly window: WindowDescriptor; readonly aggregates: readonly AggregateSpec[] }
  /**
   * The non-windowed operators' `stateTtlMs`: idle state retention (table.exec.state.ttl), 0 for never.
   * The updating (non-windowed) aggregation: field indices refer to the input's schema (a last `$rowkind` makes the input updating). */
  | { readonly kind: 'groupAggregate'; readonly keyFields: readonly number[]; readonly aggregates: readonly AggregateSpec[]; readonly stateTtlMs: number }
  /** The regular (unbounded) join of two tables by equal keys (ts/runtime/operators/regular-join.ts). */
  | { readonly kind: 'regularJoin'; readonly spec: RegularJoinSpec; readonly stateTtlMs: number }
  /** The non-windowed (updating) top-N (ts/runtime/operators/rank.ts). */
  | { readonly kind: 'rank'; readonly spec: RankSpec; readonly stateTtlMs: number }
  | { readonly kind: 'keyedProcess'; readonly keyFields: readonly string[]; readonly fn: KeyedProcessFunction<unknown, never, object> }
  | { readonly kind: 'sink'; readonly sink: Sink }
  | { readonly kind: 'union' }
  | { readonly kind: 'coFlatMap'; readonly fns: readonly UserFn[] }
  | {
      readonly kind: 'windowJoin';
      readonly keys: readonly [UserFn, UserFn];
      readonly windows: { readonly sizeMs: number; readonly slideMs: number; readonly offsetMs: number; readonly gapMs?: number; readonly describe: string };
      readonly fn: UserFn;
      /** join (pairs only) or coGroup (every key seen on either side). */
      readonly inner: boolean;
    }
  | {
      readonly kind: 'intervalJoin';
      readonly keys: readonly [UserFn, UserFn];
      readonly keyFields: readonly [readonly string[] | null, readonly string[] | null];
      readonly lower: number;
      readonly upper: number;
      /** null: the joined row is the left's columns, then the right's (SQL), gathered column by column. */
      readonly fn: UserFn | null;
    }
  | { readonly kind: 'userWindow'; readonly key: UserFn; readonly assigner: UserWindowAssigner; readonly fn: UserWindowFunction; readonly lateTag: string | null; readonly lateness: number }
  /** GlobalWindows with a trigger (and evictor), user functions. */
  | { readonly kind: 'globalWindow'; readonly key: UserFn; readonly spec: GlobalWindowSpec; readonly fn: UserWindowFunction }
  /** Stamps records with the wall-clock time and advances a processing-time watermark. */
  | { readonly kind: 'processingTime' }
  /** The late records of a window (its input): `getSideOutput(tag)`. */
  | { readonly kind: 'sideOutput'; readonly tag: string };

/**
 * How records reach a node from its input. `forward` without `explicit` is the default (chained
 * when parallelism is equal, else rebalanced); the others are set by keyBy, windowAll, joins or
 * a partitioner call (rebalance(), shuffle(), ...), and always cross a task boundary.
 */
export type Partitioning =
  | { readonly kind: 'forward'; readonly explicit?: boolean }
  | { readonly kind: 'global' }
  | { readonly kind: 'hash'; readonly keyFields: readonly string[] }
  /** By the key group of a function's value (joins keyed by functions). */
  | { readonly kind: 'keyFn'; readonly fn: UserFn; readonly describe: string }
  | { readonly kind: 'rebalance' }
  | { readonly kind: 'shuffle' }
  | { readonly kind: 'rescale' }
  | { readonly kind: 'broadcast' }
  /** partitionCustom: the user's function picks the subtask from the record's key. */
  | { readonly kind: 'custom'; readonly partitioner: UserFn; readonly key: UserFn; readonly describe: string }
  /** By ranges of one field's values; boundaries given, or sampled from the first records. */
  | { readonly kind: 'range'; readonly field: string; readonly boundaries: readonly (number | string)[] | null; readonly sampleSize: number };

export interface GraphNode {
  readonly id: number;
  /** Shown in metrics, plans, the dashboard and errors; `name()` changes it. Not part of the state's identity. */
  name: string;
  /**
   * Set by `uid()`: the identity of the node's state in checkpoints, so that a changed job still
   * finds it (Flink's operator uid). Without one, the identity is generated from the node's
   * position and kind.
   */
  uid?: string;
  readonly op: NodeOp;
  /** The first input (null for sources); `inputs` has them all. */
  readonly input: GraphNode | null;
  readonly inputs: readonly GraphNode[];
  /** How every input is partitioned, unless `inputPartitioning` says otherwise for one. */
  readonly partitioning: Partitioning;
  /** Per input (joins, connected streams, unions of partitioned streams). */
  readonly inputPartitioning?: readonly Partitioning[];
  readonly schema: Schema;
  readonly hasEventTime: boolean;
}

/** The partitioning of input `j` of `node`. */
export function partitioningOf(node: GraphNode, j: number): Partitioning {
  return node.inputPartitioning?.[j] ?? node.partitioning;
}

/**
 * ParallelSettings.bufferTimeoutMs unless set: none held. Holding them (Flink's default is 100
 * ms) cut the e2e job's CPU at p=16 on two threads from 79.5 to 62.7 ns per event, but made q5
 * at p=4 1.6x slower, its windows' watermarks lagging (docs/scaling.md): a choice per job.
 */
export const DEFAULT_BUFFER_TIMEOUT_MS = 0;

/** How the job runs in parallel: set on the environment and per operator. */
export class ParallelSettings {
  /** Subtasks per operator unless set on the operator (Flink's env.setParallelism). */
  parallelism = 1;
  /** Key groups: the upper bound of any operator's parallelism (Flink's default 128). */
  maxParallelism = 128;
  /** Per node id: setParallelism(n). */
  readonly byNode = new Map<number, number>();
  /** Node ids that start a new chain (startNewChain) or are never chained (disableChaining). */
  readonly newChain = new Set<number>();
  readonly noChain = new Set<number>();
  /** How long a splitting exchange may hold partly filled segments (Flink's setBufferTimeout); 0: none held. */
  bufferTimeoutMs = DEFAULT_BUFFER_TIMEOUT_MS;
}

/** The nodes of one environment, in creation order (a topological order). */
export class JobGraph {
  readonly nodes: GraphNode[] = [];
  readonly parallel: ParallelSettings;
  /** Set by env.enableCheckpointing. */
  checkpoint: CheckpointConfig | null = null;
  /** Set by env.enableObjectReuse: user functions get reused row views instead of fresh records. */
  objectReuse = false;

  constructor(parallel: ParallelSettings = new ParallelSettings()) {
    this.parallel = parallel;
  }

  add(node: Omit<GraphNode, 'id' | 'inputs'> & { readonly inputs?: readonly GraphNode[] }): GraphNode {
    const inputs = node.inputs ?? (node.input === null ? [] : [node.input]);
    const n: GraphNode = { ...node, inputs, id: this.nodes.length + 1 };
    this.nodes.push(n);
    return n;
  }

  /**
   * Adds a node the Table API / SQL planned, or returns one already in the graph that computes
   * the same rows (Flink's sub-plan reuse, table.optimizer.reuse-sub-plan-enabled): the same
   * operation (every setting equal, functions the same object), the same inputs (the same
   * nodes), partitioning, schema and name, and no uid, parallelism or chaining set on it. A
   * query naming the same subquery twice (Nexmark q5) then computes it once and feeds both
   * consumers. Only for declarative operations (calc, window aggregations): their output is a
   * function of their input alone (a calc function that is not, such as a random number, would
   * have to keep its node apart). The DataStream API does not share: each of its nodes takes
   * its own name, uid and parallelism after it is added.
   */
  addShared(node: Omit<GraphNode, 'id' | 'inputs'> & { readonly inputs?: readonly GraphNode[] }): GraphNode {
    const kind = node.op.kind;
    if (kind !== 'calc' && kind !== 'windowAggregate' && kind !== 'windowPreAggregate') throw new Error(`internal error: addShared takes calc and window aggregation nodes, got ${kind}`);
    const inputs = node.inputs ?? (node.input === null ? [] : [node.input]);
    const same = this.nodes.find(
      (n) =>
        n.op.kind === kind &&
        n.uid === undefined &&
        n.name === node.name &&
        n.hasEventTime === node.hasEventTime &&
        n.inputs.length === inputs.length &&
        n.inputs.every((x, i) => x === inputs[i]) &&
        !this.parallel.byNode.has(n.id) &&
        !this.parallel.newChain.has(n.id) &&
        !this.parallel.noChain.has(n.id) &&
        n.schema.equals(node.schema) &&
        structurallyEqual(n.op, node.op) &&
        structurallyEqual(n.partitioning, node.partitioning) &&
        structurallyEqual(n.inputPartitioning, node.inputPartitioning),
    );
    return same ?? this.add(node);
  }

  consumers(node: GraphNode): GraphNode[] {
    return this.nodes.filter((n) => n.inputs.includes(node));
  }

  sources(): GraphNode[] {
    return this.nodes.filter((n) => n.op.kind === 'source');
  }

  sinks(): GraphNode[] {
    return this.nodes.filter((n) => n.op.kind === 'sink');
  }

  /** The sub-graph that feeds `sinks`: their ancestors and them, no other branch. */
  lineageOf(sinks: readonly GraphNode[]): JobGraph {
    const keep = new Set<GraphNode>();
    const visit = (n: GraphNode): void => {
      if (keep.has(n)) return;
      keep.add(n);
      n.inputs.forEach(visit);
    };
    sinks.forEach(visit);
    const g = new JobGraph(this.parallel);
    g.checkpoint = this.checkpoint;
    g.objectReuse = this.objectReuse;
    g.nodes.push(...this.nodes.filter((n) => keep.has(n)));
    return g;
  }
}

/**
 * Whether two plan settings are equal: primitives by Object.is (0 and -0 differ: a literal's
 * sign can matter), arrays and plain objects field by field, anything else (functions, class
 * instances) only when it is the same object.
 */
function structurallyEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) return Array.isArray(b) && a.length === b.length && a.every((x, i) => structurallyEqual(x, b[i]));
  const pa = Object.getPrototypeOf(a) as unknown;
  if ((pa !== Object.prototype && pa !== null) || Object.getPrototypeOf(b) !== pa) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && structurallyEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}
