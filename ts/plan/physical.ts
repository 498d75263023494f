/**
 * Logical graph -> physical plan. At this stage every operator runs with parallelism 1 in one
 * task per source, chained on forward and hash edges (one subtask makes a hash edge a
 * forward one). The planner also narrows sources to the fields the job reads when every
 * consumer is declarative (projection pushdown), and resolves field positions against the
 * narrowed schemas.
 */

import { Schema } from '../batch/schema.js';
import type { GraphNode, JobGraph } from './graph.js';

export interface PhysicalNode {
  readonly node: GraphNode;
  /** The schema this node's operator receives on its first input (after projection). */
  readonly inputSchema: Schema | null;
  /** The schemas of all its inputs, in input order. */
  readonly inputSchemas: readonly Schema[];
  /** The schema it emits. */
  readonly outputSchema: Schema;
  readonly parallelism: number;
  readonly children: PhysicalNode[];
  /** For sources: fields the job reads, or null for all. */
  readonly projection: readonly string[] | null;
}

export interface PhysicalPlan {
  readonly roots: PhysicalNode[];
  readonly all: PhysicalNode[];
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
      case 'windowAggregate':
        // A dynamic session gap function reads whole records, and so does a side output of late records.
        if (op.gapFn !== null || op.lateTag !== null) return null;
        for (const k of op.keyFields) need.add(node.schema.fields[k]!.name);
        for (const a of op.aggregates) if (a.field !== null) need.add(node.schema.fields[a.field]!.name);
        break;
      default:
        return null;
    }
  }
  return need;
}

export function buildPlan(graph: JobGraph): PhysicalPlan {
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
    } else if (node.op.kind === 'timestamps' || node.op.kind === 'filter' || node.op.kind === 'sink' || node.op.kind === 'union' || node.op.kind === 'processingTime') {
      outputSchema = inputs[0]!.outputSchema;
    } else if (node.op.kind === 'sideOutput') {
      // Late records are the window's input records.
      outputSchema = inputs[0]!.inputSchema!;
    } else {
      outputSchema = node.schema;
    }
    const p: PhysicalNode = {
      node,
      inputSchema: inputs[0]?.outputSchema ?? null,
      inputSchemas: inputs.map((i) => i.outputSchema),
      outputSchema,
      parallelism: 1,
      children: [],
      projection,
    };
    for (const i of inputs) i.children.push(p);
    built.set(node, p);
    all.push(p);
  }
  return { roots: all.filter((p) => p.node.op.kind === 'source'), all };
}

function edgeLabel(n: GraphNode): string {
  if (n.partitioning.kind === 'hash') return `HASH(${n.partitioning.keyFields.join(', ')})`;
  return n.partitioning.kind === 'global' ? 'GLOBAL' : 'FORWARD';
}

/** The plan as text: one task per source, its chained operators, edges and parallelism. */
export function explainText(plan: PhysicalPlan, engine: string): string {
  const lines: string[] = [`Physical plan (engine: ${engine}, parallelism 1, ${plan.roots.length} source chain${plan.roots.length === 1 ? '' : 's'})`];
  const printed = new Set<PhysicalNode>();
  plan.roots.forEach((root, t) => {
    lines.push(`Task ${t + 1} (chain):`);
    const walk = (p: PhysicalNode, from: PhysicalNode | null, depth: number): void => {
      const pad = '  '.repeat(depth + 1);
      const edge = from === null ? '' : `--${edgeLabel(p.node)}${p.inputSchemas.length > 1 ? ` (input ${p.node.inputs.indexOf(from.node) + 1} of ${p.inputSchemas.length})` : ''}--> `;
      if (printed.has(p)) {
        lines.push(`${pad}${edge}#${p.node.id} ${p.node.name} (shown above)`);
        return;
      }
      printed.add(p);
      const proj = p.projection !== null ? ` [reads ${p.projection.join(', ')}]` : '';
      const wm = p.node.op.kind === 'source' && p.node.op.watermarks !== null ? ` [watermarks: ${p.node.op.watermarks.describe()}]` : '';
      lines.push(`${pad}${edge}#${p.node.id} ${p.node.name} (p=${p.parallelism})${proj}${wm} -> ${p.outputSchema}`);
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
  for (const p of plan.all) for (const c of p.children) lines.push(`  n${p.node.id} -->|${edgeLabel(c.node)}| n${c.node.id}`);
  return lines.join('\n');
}
