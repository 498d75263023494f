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
  /** The schema this node's operator receives (after projection). */
  readonly inputSchema: Schema | null;
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
        // A dynamic session gap function reads whole records.
        if (op.gapFn !== null) return null;
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
  const all: PhysicalNode[] = [];
  const build = (node: GraphNode, inputSchema: Schema | null, projection: readonly string[] | null): PhysicalNode => {
    let outputSchema: Schema;
    if (node.op.kind === 'source') {
      outputSchema = projection === null ? node.schema : new Schema(node.schema.fields.filter((f) => projection.includes(f.name)));
    } else if (node.op.kind === 'timestamps' || node.op.kind === 'filter' || node.op.kind === 'sink') {
      outputSchema = inputSchema!;
    } else {
      outputSchema = node.schema;
    }
    const p: PhysicalNode = { node, inputSchema, outputSchema, parallelism: 1, children: [], projection };
    all.push(p);
    for (const c of graph.consumers(node)) p.children.push(build(c, outputSchema, null));
    return p;
  };
  const roots = graph.sources().map((s) => {
    const source = s.op.kind === 'source' ? s.op.source : null;
    let projection: string[] | null = null;
    if (source?.supportsProjection) {
      const need = requiredFields(graph, s);
      const wm = s.op.kind === 'source' ? s.op.watermarks?.assigner : null;
      if (need !== null && typeof wm !== 'function') {
        if (typeof wm === 'string') need.add(wm);
        projection = s.schema.names().filter((n) => need.has(n));
      }
    }
    return build(s, null, projection);
  });
  return { roots, all };
}

function edgeLabel(n: GraphNode): string {
  return n.partitioning.kind === 'hash' ? `HASH(${n.partitioning.keyFields.join(', ')})` : 'FORWARD';
}

/** The plan as text: one task per source, its chained operators, edges and parallelism. */
export function explainText(plan: PhysicalPlan, engine: string): string {
  const lines: string[] = [`Physical plan (engine: ${engine}, parallelism 1, ${plan.roots.length} task${plan.roots.length === 1 ? '' : 's'})`];
  plan.roots.forEach((root, t) => {
    lines.push(`Task ${t + 1} (chain):`);
    const walk = (p: PhysicalNode, depth: number): void => {
      const pad = '  '.repeat(depth + 1);
      const edge = p.inputSchema === null ? '' : `--${edgeLabel(p.node)}--> `;
      const proj = p.projection !== null ? ` [reads ${p.projection.join(', ')}]` : '';
      const wm = p.node.op.kind === 'source' && p.node.op.watermarks !== null ? ` [watermarks: ${p.node.op.watermarks.describe()}]` : '';
      lines.push(`${pad}${edge}#${p.node.id} ${p.node.name} (p=${p.parallelism})${proj}${wm} -> ${p.outputSchema}`);
      for (const c of p.children) walk(c, depth + 1);
    };
    walk(root, 0);
  });
  return lines.join('\n');
}

/** The plan as a Mermaid flowchart. */
export function explainMermaid(plan: PhysicalPlan): string {
  const lines = ['flowchart LR'];
  plan.roots.forEach((root, t) => {
    lines.push(`  subgraph task${t + 1}["Task ${t + 1} (chained, p=1)"]`);
    const ids: string[] = [];
    const walk = (p: PhysicalNode): void => {
      ids.push(`    n${p.node.id}["${p.node.name.replace(/"/g, "'")} (p=${p.parallelism})"]`);
      p.children.forEach(walk);
    };
    walk(root);
    lines.push(...ids, '  end');
    const edges = (p: PhysicalNode): void => {
      for (const c of p.children) {
        lines.push(`  n${p.node.id} -->|${edgeLabel(c.node)}| n${c.node.id}`);
        edges(c);
      }
    };
    edges(root);
  });
  return lines.join('\n');
}
