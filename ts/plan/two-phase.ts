/**
 * Two-phase window aggregation (Flink SQL's local-global aggregation): a built-in tumbling or
 * sliding window aggregate over all records (windowAll) whose aggregates combine exactly
 * (count, min, max, sum of i32) becomes a pre-aggregation chained to its input — each batch's
 * partial results per key and slice, where a slice is a tumbling window of gcd(size, slide) —
 * and the window aggregate over those partial rows after the exchange. Every record of a slice belongs to the same windows,
 * so a partial row (event time: the slice's end - 1) is assigned, fired and found late exactly
 * as its records would be; the exchange and the window's state carry one row per key and
 * slice of a batch instead of every record.
 *
 * The plan is the same at every parallelism, so checkpoints and savepoints move between them.
 * It is not used where the records themselves matter: a side output of late records, allowed
 * lateness (each late record fires its window again), sessions, count windows, f64 sums (the
 * rounding would depend on the grouping), i64 sums (a partial sum may overflow where the
 * window's total does not), and first/last/avg/countDistinct.
 */

import type { Schema } from '../batch/schema.js';
import type { AggregateSpec, WindowDescriptor } from '../engine/engine.js';
import { describeAggregates, describeWindow, windowOutputSchema } from '../engine/window-spec.js';
import type { GraphNode, JobGraph, NodeOp, Partitioning } from './graph.js';

type WindowAggregateOp = Extract<NodeOp, { kind: 'windowAggregate' }>;

/**
 * Whether the aggregation runs in two phases: a window over all records (windowAll), whose one
 * subtask would otherwise receive every record of every parallel input, with aggregates that
 * combine exactly. Keyed windows stay one operator: their exchange already spreads the work,
 * and measured on Nexmark q5 (sliding counts per auction) two phases cut the exchanged rows 7x
 * but ran 6% slower at parallelism 1 and no faster at 2.
 */
export function preAggregable(op: Omit<WindowAggregateOp, 'partialRecords'>, input: Schema): boolean {
  if (op.keyFields.length > 0) return false;
  if (op.window.kind !== 'tumbling' && op.window.kind !== 'sliding') return false;
  if (op.gapFn !== null || op.lateTag !== null || op.lateness !== 0) return false;
  // Sums of i32 only: an i64 sum is exact while its total fits, but a batch's partial sum
  // could overflow where the window's total does not.
  return op.aggregates.every((a) => a.kind === 'count' || a.kind === 'min' || a.kind === 'max' || (a.kind === 'sum' && input.fields[a.field!]!.type === 'i32'));
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The tumbling windows whose every record belongs to the same windows of `w`. */
function slicesOf(w: Extract<WindowDescriptor, { kind: 'tumbling' | 'sliding' }>): WindowDescriptor {
  const slice = w.kind === 'tumbling' ? w.sizeMs : gcd(w.sizeMs, w.slideMs);
  return { kind: 'tumbling', sizeMs: slice, offsetMs: ((w.offsetMs % slice) + slice) % slice };
}

/** How a partial result of each kind is combined. */
const MERGE = { count: 'sum', sum: 'sum', min: 'min', max: 'max' } as const;

/**
 * Adds the window aggregate to the graph: in two phases when `preAggregable`, else as one
 * operator. Returns the node whose output is the window's result (the same schema either way).
 */
export function addWindowAggregate(
  graph: JobGraph,
  input: GraphNode,
  name: string,
  op: Omit<WindowAggregateOp, 'partialRecords'>,
  partitioning: Partitioning,
  schema: Schema,
  /** The Table API / SQL: reuse an equal aggregation already in the graph (JobGraph.addShared). */
  shared = false,
): GraphNode {
  const add = (node: Parameters<JobGraph['add']>[0]): GraphNode => (shared ? graph.addShared(node) : graph.add(node));
  if (!preAggregable(op, input.schema)) {
    // Count windows have no time (Flink's GlobalWindow results carry none either).
    return add({ name, op: { ...op, partialRecords: null }, input, partitioning, schema, hasEventTime: op.window.kind !== 'count' });
  }
  const window = op.window as Extract<WindowDescriptor, { kind: 'tumbling' | 'sliding' }>;
  const slices = slicesOf(window);
  // Each partial row's record count, for the late-record count after the exchange.
  const taken = new Set([...op.keyFields.map((k) => input.schema.fields[k]!.name), ...op.aggregates.map((a) => a.name)]);
  let records = op.aggregates.find((a) => a.kind === 'count' && a.field === null)?.name ?? null;
  const extra: AggregateSpec[] = [];
  if (records === null) {
    records = 'records';
    while (taken.has(records) || records === 'windowStart' || records === 'windowEnd') records = `_${records}`;
    extra.push({ name: records, kind: 'count', field: null });
  }
  const preAggs = [...op.aggregates, ...extra];
  const preSchema = windowOutputSchema({ input: input.schema, keyFields: op.keyFields, window: slices, aggregates: preAggs });
  const pre = add({
    name: `LocalWindowAggregate(${describeWindow(slices)} per batch) [${describeAggregates(preAggs, input.schema)}]`,
    op: { kind: 'windowPreAggregate', keyFields: op.keyFields, window: slices, aggregates: preAggs },
    input,
    partitioning: { kind: 'forward' },
    schema: preSchema,
    hasEventTime: true,
  });
  const keyFields = op.keyFields.map((_, i) => i);
  const aggregates: AggregateSpec[] = op.aggregates.map((a) => ({ name: a.name, kind: MERGE[a.kind as keyof typeof MERGE], field: preSchema.indexOf(a.name) }));
  const finalSchema = windowOutputSchema({ input: preSchema, keyFields, window, aggregates });
  if (!finalSchema.equals(schema)) throw new Error(`internal error: the two-phase window aggregate's schema ${finalSchema} differs from ${schema}`);
  return add({
    name,
    op: { ...op, keyFields, aggregates, partialRecords: preSchema.indexOf(records) },
    input: pre,
    partitioning,
    schema,
    hasEventTime: true,
  });
}
