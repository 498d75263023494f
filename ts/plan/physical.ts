/**
 * Logical graph -> physical plan: every operator gets its parallelism (Flink's rules: the
 * operator's own setting, else the environment's; sources and sinks that cannot split run as
 * one subtask, as does whatever sees every record (a window over all records, or its second
 * phase where it runs in two; a global partitioning); keyed operators, joins included, run at
 * the parallelism), and every input edge a kind: chained (forward with equal parallelism, so
 * records stay in the thread), or an exchange
 * (hash by key groups, rebalance, global to subtask 0). The planner also narrows sources to
 * the fields the job reads when every consumer is declarative (projection pushdown), gives a
 * source that can apply it the filter of the calc reading it (filter pushdown), and resolves
 * field positions against the narrowed schemas.
 */

import { Schema } from '../batch/schema.js';
import { exprFields, narrowCalcSpec, type CalcExpr, type CalcOp, type CalcSpec, type PushedFilter } from '../engine/calc-spec.js';
import { partitioningOf, type GraphNode, type JobGraph, type ParallelSettings, type Partitioning } from './graph.js';
import { compileFilterFunction, compileMapFunction } from './record-functions.js';

/** How one input of an operator is fed. */
export type EdgeKind = 'chain' | 'forward' | 'hash' | 'keyFn' | 'rebalance' | 'shuffle' | 'rescale' | 'broadcast' | 'custom' | 'range' | 'global';

export interface PhysicalEdge {
  readonly from: PhysicalNode;
  readonly kind: EdgeKind;
  /** hash: the key fields, as names of `from`'s output. */
  readonly keyFields: readonly string[];
  /** The partitioning that chose this edge (keyFn, custom and range carry their functions and fields). */
  readonly partitioning: Partitioning;
}

export interface PhysicalNode {
  readonly node: GraphNode;
  /** The schema this node's operator receives on its first input (after projection). */
  readonly inputSchema: Schema | null;
  /** The schemas of all its inputs, in input order. */
  readonly inputSchemas: readonly Schema[];
  /** The schema it emits. */
  readonly outputSchema: Schema;
  readonly parallelism: number;
  /** Per input, in input order. */
  readonly edges: readonly PhysicalEdge[];
  /** A sink that runs as one subtask on the thread that called execute() (parallel runs). */
  readonly onMain: boolean;
  readonly children: PhysicalNode[];
  /**
   * For sources: fields the job reads; for an interval join gathering columns (SQL's): the
   * joined columns its consumers read, the only ones it builds. null for all.
   */
  readonly projection: readonly string[] | null;
  /** For sources: the filter of its calc it applies as it reads (filter pushdown), or null. */
  readonly filter: PushedFilter | null;
}

export interface PhysicalPlan {
  readonly roots: PhysicalNode[];
  readonly all: PhysicalNode[];
  /** The highest parallelism of any operator: the number of worker slots a parallel run uses. */
  readonly slots: number;
  readonly maxParallelism: number;
}

/** A configuration the plan cannot run with: says what to change. */
export class PlanError extends Error {
  override name = 'PlanError';
}

/** Operators that run as one subtask whatever the setting, and why (null: none). */
function singleSubtaskReason(node: GraphNode): string | null {
  const op = node.op;
  if (op.kind === 'source' && op.source.parallel !== true) return `the source ${op.source.name} reads its input in order as one subtask`;
  if (op.kind === 'sink' && op.sink.parallel !== true) return `the sink ${op.sink.name} writes as one subtask`;
  if (node.partitioning.kind === 'global') return 'it sees every record (a window over all records, or a global partitioning)';
  return null;
}

function parallelismOf(node: GraphNode, inputs: readonly PhysicalNode[], s: ParallelSettings): number {
  const explicit = s.byNode.get(node.id);
  if (explicit !== undefined && (explicit < 1 || explicit > s.maxParallelism || !Number.isSafeInteger(explicit))) {
    throw new PlanError(`${node.name}: parallelism ${explicit} is out of range; use 1 to the max parallelism (${s.maxParallelism}), or raise it with setMaxParallelism`);
  }
  // A side output is the window's own output, and a pre-aggregation is chained to its input: same subtasks.
  if (node.op.kind === 'sideOutput' || node.op.kind === 'windowPreAggregate') return inputs[0]!.parallelism;
  const single = singleSubtaskReason(node);
  if (single !== null) {
    if (explicit !== undefined && explicit > 1) throw new PlanError(`${node.name} cannot run with parallelism ${explicit}: ${single}; remove setParallelism(${explicit})`);
    return 1;
  }
  return explicit ?? s.parallelism;
}

function edgeOf(node: GraphNode, j: number, from: PhysicalNode, p: number, s: ParallelSettings): PhysicalEdge {
  const part = partitioningOf(node, j);
  const same = from.parallelism === p;
  const chainable = same && !s.noChain.has(node.id) && !s.newChain.has(node.id) && !s.noChain.has(from.node.id);
  const edge = (kind: EdgeKind): PhysicalEdge => ({ from, kind, keyFields: part.kind === 'hash' ? part.keyFields : [], partitioning: part });
  if (node.op.kind === 'sideOutput') return edge('chain');
  switch (part.kind) {
    case 'hash':
    case 'keyFn':
      // One subtask downstream: every record goes there, whatever the key.
      if (p > 1) return edge(part.kind);
      return edge(chainable ? 'chain' : 'global');
    case 'global':
      return edge(chainable ? 'chain' : 'global');
    case 'forward':
      if (part.explicit === true && !same) {
        throw new PlanError(
          `${node.name}: forward() keeps records on the same subtask, so it needs equal parallelism on both sides, but ${from.node.name} has ${from.parallelism} and ${node.name} has ${p}; use rebalance() or rescale(), or set equal parallelism`,
        );
      }
      if (same) return edge(chainable ? 'chain' : 'forward');
      return edge(p === 1 ? 'global' : 'rebalance');
    case 'range':
      if (part.boundaries !== null && part.boundaries.length !== p - 1) {
        throw new PlanError(
          `${node.name}: partitionByRange(${part.field}) has ${part.boundaries.length} boundaries for ${p} subtask${p === 1 ? '' : 's'}; give parallelism - 1 = ${p - 1}, or leave them out to sample them`,
        );
      }
      if (part.boundaries === null && from.parallelism > 1) {
        throw new PlanError(
          `${node.name}: partitionByRange(${part.field}) samples its boundaries in the sending subtask, but ${from.node.name} has ${from.parallelism} subtasks that would each sample their own; give the boundaries, or setParallelism(1) on ${from.node.name}`,
        );
      }
      return edge('range');
    default:
      // rebalance, shuffle, rescale, broadcast, custom: the records cross to the subtasks they choose.
      return edge(part.kind);
  }
}

/**
 * Which downstream subtasks upstream subtask `from` feeds on an edge: forward the same one,
 * global the first, rescale its local group (Flink's rule: with more downstream subtasks each
 * upstream one feeds a contiguous group of them, with fewer each downstream one is fed by a
 * contiguous group), every other kind all of them.
 */
export function edgeTargets(kind: EdgeKind, from: number, fromWidth: number, toWidth: number): number[] {
  if (kind === 'forward') return [from];
  if (kind === 'global') return [0];
  if (kind === 'rescale') {
    if (toWidth < fromWidth) return [Math.floor((from * toWidth) / fromWidth)];
    const first = Math.floor((from * toWidth) / fromWidth);
    const end = Math.floor(((from + 1) * toWidth) / fromWidth);
    return Array.from({ length: end - first }, (_, i) => first + i);
  }
  return Array.from({ length: toWidth }, (_, i) => i);
}

/** The input fields a calc spec reads. */
function calcFields(spec: CalcSpec): Set<number> {
  const out = new Set<number>();
  if (spec.filter !== null) exprFields(spec.filter, out);
  for (const c of spec.columns) exprFields(c.expr, out);
  return out;
}

/** Whether `node` is a map or filter whose function runs as a calc (plan/record-functions.ts). */
function compiledRecordFunction(node: GraphNode): boolean {
  const op = node.op;
  if (op.kind === 'map') return compileMapFunction(op.fn, node.input!.schema, node.schema, node.name) !== null;
  if (op.kind === 'filter') return compileFilterFunction(op.fn, node.input!.schema) !== null;
  return false;
}

/** Fields of `node`'s output that its consumers read; null when some consumer needs whole records. */
export function requiredFields(graph: JobGraph, node: GraphNode): Set<string> | null {
  const need = new Set<string>();
  for (const c of graph.consumers(node)) {
    const op = c.op;
    switch (op.kind) {
      case 'processingTime': {
        const down = requiredFields(graph, c);
        if (down === null) return null;
        for (const f of down) need.add(f);
        break;
      }
      case 'timestamps': {
        // A function assigner reads whole records.
        if (typeof op.strategy.assigner === 'function') return null;
        if (typeof op.strategy.assigner === 'string') need.add(op.strategy.assigner);
        const down = requiredFields(graph, c);
        if (down === null) return null;
        for (const f of down) need.add(f);
        break;
      }
      case 'calc':
        for (const i of calcFields(op.spec)) need.add(node.schema.fields[i]!.name);
        break;
      case 'map': {
        // A map compiled into a calc reads the fields it names; a function called per record reads them all.
        const spec = compileMapFunction(op.fn, node.schema, c.schema, c.name);
        if (spec === null) return null;
        for (const i of calcFields(spec)) need.add(node.schema.fields[i]!.name);
        break;
      }
      case 'filter': {
        const predicate = compileFilterFunction(op.fn, node.schema);
        if (predicate === null) return null;
        for (const i of exprFields(predicate)) need.add(node.schema.fields[i]!.name);
        const down = requiredFields(graph, c);
        if (down === null) return null;
        for (const f of down) need.add(f);
        break;
      }
      case 'groupAggregate':
        for (const k of op.keyFields) need.add(node.schema.fields[k]!.name);
        for (const a of op.aggregates) if (a.field !== null) need.add(node.schema.fields[a.field]!.name);
        if (node.schema.has('$rowkind')) need.add('$rowkind');
        break;
      case 'windowAggregate':
      case 'windowPreAggregate':
        // A dynamic session gap function reads whole records, and so does a side output of late records.
        if (op.kind === 'windowAggregate' && (op.gapFn !== null || op.lateTag !== null)) return null;
        for (const k of op.keyFields) need.add(node.schema.fields[k]!.name);
        for (const a of op.aggregates) if (a.field !== null) need.add(node.schema.fields[a.field]!.name);
        break;
      default:
        return null;
    }
  }
  return need;
}

/** Operators whose result is a value for every input: a filter of these alone cannot fail. */
const INFALLIBLE: ReadonlySet<CalcOp> = new Set<CalcOp>(['eq', 'ne', 'lt', 'le', 'gt', 'ge', 'and', 'or', 'not', 'isNull', 'isNotNull', 'in', 'like', 'if', 'coalesce', 'upper', 'lower', 'charLength', 'trim']);

/**
 * Whether `e` evaluates without an error for every row. Only such a filter is pushed into a
 * source: one that can fail must fail in its calc, which names the record as the calc sees it.
 */
function cannotFail(e: CalcExpr): boolean {
  if (e.k !== 'call') return true;
  if (e.op === 'mod') {
    // x % d with d a positive literal: no division by zero, no overflow.
    const d = e.args[1]!;
    if (d.k !== 'lit' || d.v === null || !(Number(d.v) > 0)) return false;
  } else if (!INFALLIBLE.has(e.op)) return false;
  return e.args.every(cannotFail);
}

/**
 * The filter a source applies as it reads (Flink's SupportsFilterPushDown): that of the calc
 * (or the filter function compiled into one) that is the source's only consumer, if it cannot
 * fail. The consumer still filters, so the source may apply it or not; its watermark must be
 * over its own event time, which the reader then reports for the rows it dropped too.
 */
function pushedFilter(graph: JobGraph, node: GraphNode): PushedFilter | null {
  const op = node.op;
  if (op.kind !== 'source' || op.source.supportsFilter !== true) return null;
  const wm = op.watermarks?.assigner;
  if (wm !== undefined && wm !== null && wm !== op.source.eventTimeField) return null;
  const consumers = graph.consumers(node);
  const consumer = consumers.length === 1 ? consumers[0]! : null;
  const c = consumer?.op;
  let filter: CalcExpr | null = null;
  let name = consumer?.name ?? '';
  if (c?.kind === 'calc' && c.predicatePushdown !== false) [filter, name] = [c.spec.filter, c.spec.name];
  // A user's filter function compiled into a calc: it decides as JavaScript does, which the
  // calc matches only for values JavaScript reads exactly (no null, no i64 beyond ±2^53).
  else if (c?.kind === 'filter' && op.source.exactValues === true) filter = compileFilterFunction(c.fn, node.schema);
  if (filter === null || !cannotFail(filter)) return null;
  const { read, spec } = narrowCalcSpec({ name, filter, columns: [] });
  return { fields: read.map((i) => node.schema.fields[i]!.name), spec };
}

export function buildPlan(graph: JobGraph): PhysicalPlan {
  const s = graph.parallel;
  // Creation order is a topological order: every input is built before its consumers.
  const built = new Map<GraphNode, PhysicalNode>();
  const all: PhysicalNode[] = [];
  for (const node of graph.nodes) {
    const inputs = node.inputs.map((n) => built.get(n)!);
    let projection: string[] | null = null;
    let outputSchema: Schema;
    if (node.op.kind === 'source') {
      const wm = node.op.watermarks?.assigner;
      if (node.op.source.supportsProjection && typeof wm !== 'function') {
        const need = requiredFields(graph, node);
        if (need !== null) {
          if (typeof wm === 'string') need.add(wm);
          projection = node.schema.names().filter((n) => need.has(n));
        }
      }
      outputSchema = projection === null ? node.schema : new Schema(node.schema.fields.filter((f) => projection!.includes(f.name)));
    } else if (node.op.kind === 'intervalJoin' && node.op.fn === null) {
      // The joined columns no consumer reads are not gathered (consumers find fields by name).
      const need = requiredFields(graph, node);
      if (need !== null && need.size > 0 && need.size < node.schema.length) projection = node.schema.names().filter((n) => need.has(n));
      outputSchema = projection === null ? node.schema : new Schema(node.schema.fields.filter((f) => projection!.includes(f.name)));
    } else if (node.op.kind === 'timestamps' || node.op.kind === 'filter' || node.op.kind === 'sink' || node.op.kind === 'union' || node.op.kind === 'processingTime') {
      outputSchema = inputs[0]!.outputSchema;
    } else if (node.op.kind === 'sideOutput') {
      // Late records are the window's input records.
      outputSchema = inputs[0]!.inputSchema!;
    } else {
      outputSchema = node.schema;
    }
    const parallelism = parallelismOf(node, inputs, s);
    const p: PhysicalNode = {
      node,
      inputSchema: inputs[0]?.outputSchema ?? null,
      inputSchemas: inputs.map((i) => i.outputSchema),
      outputSchema,
      parallelism,
      edges: inputs.map((i, j) => edgeOf(node, j, i, parallelism, s)),
      onMain: node.op.kind === 'sink' && node.op.sink.parallel !== true,
      children: [],
      projection,
      filter: pushedFilter(graph, node),
    };
    for (const i of inputs) i.children.push(p);
    built.set(node, p);
    all.push(p);
  }
  const slots = Math.max(1, ...all.map((p) => p.parallelism));
  if (slots > 1) {
    // A sink on the calling thread is fed from the workers: never chained to them.
    for (const p of all) if (p.onMain) (p.edges as PhysicalEdge[]).forEach((e, j, es) => (es[j] = e.kind === 'chain' ? { ...e, kind: 'global' } : e));
  }
  return { roots: all.filter((p) => p.node.op.kind === 'source'), all, slots, maxParallelism: s.maxParallelism };
}

/** The edge's partitioning (a chained edge names what it would be with more subtasks). */
function edgeLabel(e: PhysicalEdge): string {
  const part = e.partitioning;
  switch (part.kind) {
    case 'hash':
      return `HASH(${part.keyFields.join(', ')})`;
    case 'keyFn':
      return `HASH(${part.describe})`;
    case 'custom':
      return `CUSTOM(${part.describe})`;
    case 'range':
      return `RANGE(${part.field}${part.boundaries === null ? `, sampled from ${part.sampleSize} records` : `, boundaries ${part.boundaries.join(' | ')}`})`;
    case 'forward':
      return e.kind === 'chain' || e.kind === 'forward' ? 'FORWARD' : e.kind.toUpperCase();
    default:
      return part.kind.toUpperCase();
  }
}

function edgeTo(c: PhysicalNode, from: PhysicalNode): PhysicalEdge {
  return c.edges[c.node.inputs.indexOf(from.node)]!;
}

/**
 * The plan as text: from each source, every operator with its parallelism, each edge with its
 * partitioning; an operator not chained to its input starts a new task (its own thread hop).
 */
export function explainText(plan: PhysicalPlan, engine: string): string {
  const p = plan.slots;
  const lines: string[] = [
    `Physical plan (engine: ${engine}, ${p === 1 ? 'parallelism 1, one thread' : `up to ${p} subtasks per operator on ${p} worker threads`}, max parallelism ${plan.maxParallelism}, ${plan.roots.length} source chain${plan.roots.length === 1 ? '' : 's'})`,
  ];
  const printed = new Set<PhysicalNode>();
  plan.roots.forEach((root, t) => {
    lines.push(`Task ${t + 1} (chain):`);
    const walk = (p: PhysicalNode, from: PhysicalNode | null, depth: number): void => {
      const pad = '  '.repeat(depth + 1);
      const e = from === null ? null : edgeTo(p, from);
      const edge = e === null ? '' : `--${edgeLabel(e)}${p.inputSchemas.length > 1 ? ` (input ${p.node.inputs.indexOf(from!.node) + 1} of ${p.inputSchemas.length})` : ''}--> `;
      const task = e !== null && e.kind !== 'chain' ? ' [new task]' : '';
      const where = p.onMain && plan.slots > 1 ? ' [on the calling thread]' : '';
      if (printed.has(p)) {
        lines.push(`${pad}${edge}#${p.node.id} ${p.node.name} (shown above)`);
        return;
      }
      printed.add(p);
      const proj = p.projection === null ? '' : p.node.op.kind === 'source' ? ` [reads ${p.projection.join(', ')}]` : ` [builds ${p.projection.join(', ')}]`;
      const wm = p.node.op.kind === 'source' && p.node.op.watermarks !== null ? ` [watermarks: ${p.node.op.watermarks.describe()}]` : '';
      const f = p.filter?.spec.filter;
      const filter = f == null ? '' : ` [filters ${f.k === 'call' ? f.text : f.k === 'field' ? p.filter!.fields[f.i] : String(f.v)}]`;
      const calc = compiledRecordFunction(p.node) ? ' [compiled to a calc]' : '';
      lines.push(`${pad}${edge}#${p.node.id} ${p.node.name} (p=${p.parallelism})${task}${where}${proj}${filter}${wm}${calc} -> ${p.outputSchema}`);
      for (const c of p.children) walk(c, p, depth + 1);
    };
    walk(root, null, 0);
  });
  return lines.join('\n');
}

/** The plan as a Mermaid flowchart: every operator once, every edge with its partitioning. */
export function explainMermaid(plan: PhysicalPlan): string {
  const lines = ['flowchart LR'];
  for (const p of plan.all) lines.push(`  n${p.node.id}["${p.node.name.replace(/"/g, "'")} (p=${p.parallelism})"]`);
  for (const p of plan.all) for (const c of p.children) lines.push(`  n${p.node.id} -->|${edgeLabel(edgeTo(c, p))}| n${c.node.id}`);
  return lines.join('\n');
}

/** The plan as data (the dashboard draws it): operators with their task and parallelism, edges with their partitioner. */
export interface PlanGraph {
  readonly maxParallelism: number;
  /** Worker threads of a parallel run (1: the calling thread alone). */
  readonly slots: number;
  readonly nodes: readonly {
    readonly id: number;
    readonly name: string;
    readonly kind: string;
    readonly parallelism: number;
    /** Operators with the same chain run as one task (chained: records stay in the thread); numbered from 0. */
    readonly chain: number;
    /** A sink on the thread that called execute() (parallel runs). */
    readonly onMain: boolean;
  }[];
  readonly edges: readonly {
    readonly from: number;
    readonly to: number;
    /** Which input of `to` (joins and connected streams have two). */
    readonly input: number;
    /** 'chain', or the exchange: forward, hash, rebalance, ... */
    readonly kind: EdgeKind;
    /** The partitioning, as explain() prints it: HASH(auction), FORWARD, REBALANCE, ... */
    readonly label: string;
  }[];
}

export function planGraph(plan: PhysicalPlan): PlanGraph {
  const chainOf = new Map<PhysicalNode, number>();
  let chains = 0;
  for (const p of plan.all) {
    const j = p.edges.findIndex((e) => e.kind === 'chain');
    chainOf.set(p, j < 0 ? chains++ : chainOf.get(p.edges[j]!.from)!);
  }
  return {
    maxParallelism: plan.maxParallelism,
    slots: plan.slots,
    nodes: plan.all.map((p) => ({ id: p.node.id, name: p.node.name, kind: p.node.op.kind, parallelism: p.parallelism, chain: chainOf.get(p)!, onMain: p.onMain && plan.slots > 1 })),
    edges: plan.all.flatMap((p) => p.edges.map((e, input) => ({ from: e.from.node.id, to: p.node.id, input, kind: e.kind, label: edgeLabel(e) }))),
  };
}
