/**
 * Updating tables (Flink's changelog semantics): the non-windowed aggregation a Table's
 * `groupBy(...).select(...)` / `distinct()` (and SQL's GROUP BY without a window, SELECT
 * DISTINCT) plans into, a changelog stream of a table (`toChangelogStream`), and what makes a
 * table updating, for messages. An updating table's rows carry their kind in a last
 * `$rowkind` column (batch/row-kind.ts).
 */

import { ROW_KIND, isUpdating } from '../batch/row-kind.js';
import type { Schema } from '../batch/schema.js';
import type { AggKind, AggregateSpec } from '../engine/engine.js';
import { groupOutputSchema } from '../engine/group-agg-spec.js';
import { describeAggregates } from '../engine/window-spec.js';
import { calcOutputSchema, type CalcSpec } from '../engine/calc-spec.js';
import type { GraphNode, JobGraph } from '../plan/graph.js';
import { describeRank, rankSchema, type RankSpec } from '../engine/rank-spec.js';
import { describeJoin, regularJoinSchema, type RegularJoinSpec } from '../engine/regular-join-spec.js';
import type { Expression, ExprNode } from './expression.js';
import { render } from './expression.js';
import { resolve, TableError } from './resolve.js';
import { splitAggregates } from './aggregates.js';
import type { StreamEnvironment } from '../api/environment.js';

/** What the updating planners need of a Table (T: the Table class, which imports this module). */
export interface TableParts<T> {
  readonly env: StreamEnvironment;
  /** Idle state retention of the nodes planned (table.exec.state.ttl; 0: never). */
  readonly stateTtlMs: number;
  readonly columns: readonly string[];
  readonly ops: readonly string[];
  /** An expression over the table's columns as one over its input node's fields. */
  inline(e: ExprNode, where: string): ExprNode;
  /** The columns `cols` (expressions over the input node's fields) as one calc node (the table's filter included). */
  preCalc(cols: readonly { readonly name: string; readonly expr: ExprNode }[]): GraphNode;
  /** A table over `node`, then `post` selected (expressions over the node's fields). */
  over(node: GraphNode, post: readonly { readonly name: string; readonly expr: ExprNode }[], written: string): T;
}

/** The node that makes `node`'s rows updating (an updating aggregation or an outer join), by name. */
export function updatingOrigin(node: GraphNode): string {
  const seen = new Set<GraphNode>();
  const todo = [node];
  while (todo.length > 0) {
    const n = todo.shift()!;
    if (seen.has(n)) continue;
    seen.add(n);
    if (n.op.kind === 'groupAggregate' || n.op.kind === 'rank' || (n.op.kind === 'regularJoin' && n.op.spec.type !== 'inner')) return `node ${n.name}`;
    todo.push(...n.inputs.filter((i) => isUpdating(i.schema)));
  }
  return `node ${node.name}`;
}

/** Plans `groupBy(keys).select(exprs)` as an updating aggregation. */
export function planGroupAggregate<T>(t: TableParts<T>, keys: readonly string[], exprs: readonly Expression[]): T {
  const names = new Set(t.columns);
  for (const k of keys) if (!names.has(k)) throw new TableError(`groupBy: unknown column '${k}'; the columns are: ${t.columns.join(', ')}`);
  const split = splitAggregates(exprs, keys, t.columns, (n) => {
    throw new TableError(`select: ${render(n)}: the table has no group window; use window(...) first`);
  }, null);
  const { aggs, post } = split;
  const argCols = split.argCols.map((c) => ({ name: c.name, expr: t.inline(c.expr, 'select') }));
  const written = `groupBy(${keys.join(', ')}).select(${exprs.map((x) => render(x.node)).join(', ')})`;
  return t.over(aggregateNode(t, keys, aggs, argCols), post, written);
}

/** `distinct()`: an updating aggregation grouped by every column, without aggregates. */
export function planDistinct<T>(t: TableParts<T>, columns: readonly string[]): T {
  const node = aggregateNode(t, columns, [], []);
  return t.over(node, columns.map((c) => ({ name: c, expr: { k: 'ref', name: c } })), 'distinct()');
}

function aggregateNode<T>(t: TableParts<T>, keys: readonly string[], aggs: readonly { name: string; kind: AggKind; arg: string | null }[], argCols: readonly { name: string; expr: ExprNode }[]): GraphNode {
  // Before the aggregation: the keys and the aggregates' arguments, as one calc (with the row kind of an updating input).
  const used = [...new Set([...keys, ...aggs.flatMap((a) => (a.arg === null || a.arg.startsWith('$arg') ? [] : [a.arg]))])];
  const pre = t.preCalc([...used.map((u) => ({ name: u, expr: t.inline({ k: 'ref', name: u }, 'select') })), ...argCols]);
  const input = pre.schema;
  const keyFields = keys.map((k) => input.indexOf(k));
  const aggregates: AggregateSpec[] = aggs.map((a) => ({ name: a.name, kind: a.kind, field: a.arg === null ? null : input.indexOf(a.arg) }));
  let schema: Schema;
  try {
    schema = groupOutputSchema({ input, keyFields, aggregates });
  } catch (e) {
    throw new TableError(`select: ${(e as Error).message}`);
  }
  const select = [...keys, ...aggregates.length === 0 ? [] : [describeAggregates(aggregates, input)]].join(', ');
  return t.env.graph.add({
    name: `GroupAggregate(${keys.length === 0 ? '' : `groupBy=[${keys.join(', ')}], `}select=[${select}])`,
    op: { kind: 'groupAggregate', keyFields, aggregates, stateTtlMs: t.stateTtlMs },
    input: pre,
    partitioning: keys.length === 0 ? { kind: 'global' } : { kind: 'hash', keyFields: [...keys] },
    schema,
    // No time attribute after a non-windowed aggregation (as in Flink).
    hasEventTime: false,
  });
}

/** A calc node giving `node`'s rows (of `schema`'s columns) a `rowKind` text column ('+I', '-U', '+U', '-D'). */
export function changelogStream(graph: JobGraph, node: GraphNode, schema: Schema): GraphNode {
  if (schema.has('rowKind')) throw new TableError("toChangelogStream: the table has a column 'rowKind', which the changelog records add; rename it first");
  const input = node.schema;
  const k: ExprNode = { k: 'ref', name: ROW_KIND };
  const kindText: ExprNode = isUpdating(input)
    ? ['+I', '-U', '+U'].reduceRight<ExprNode>((rest, name, i) => ({ k: 'call', op: 'if', args: [{ k: 'call', op: 'eq', args: [k, { k: 'lit', v: i }] }, { k: 'lit', v: name }, rest] }), { k: 'lit', v: '-D' })
    : { k: 'lit', v: '+I' };
  const columns = [...schema.names().map((n) => ({ name: n, expr: resolve({ k: 'ref', name: n }, input, 'toChangelogStream') })), { name: 'rowKind', expr: resolve(kindText, input, 'toChangelogStream') }];
  const spec: CalcSpec = { filter: null, columns, name: 'Calc(changelog)' };
  return graph.add({ name: 'Calc(changelog: rowKind)', op: { kind: 'calc', spec }, input: node, partitioning: { kind: 'forward' }, schema: calcOutputSchema(spec), hasEventTime: node.hasEventTime });
}

/** A non-windowed top-N node over `input`'s rows (field names checked here). */
export function rankNode(graph: JobGraph, input: GraphNode, spec: RankSpec, stateTtlMs: number): GraphNode {
  const names = dataFieldNames(input.schema);
  for (const f of [...spec.partitionFields, ...spec.order.map((o) => o.field)]) {
    if (!names.includes(f)) throw new TableError(`rank: unknown column '${f}'; the columns are: ${names.join(', ')}`);
  }
  if (spec.rankField !== null && names.includes(spec.rankField)) throw new TableError(`rank: the table has a column '${spec.rankField}' already; name the rank otherwise`);
  return graph.add({
    name: describeRank(spec),
    op: { kind: 'rank', spec, stateTtlMs },
    input,
    partitioning: spec.partitionFields.length === 0 ? { kind: 'global' } : { kind: 'hash', keyFields: [...spec.partitionFields] },
    schema: rankSchema(spec, input.schema),
    // No time attribute after a non-windowed top-N (as in Flink: its output is updating).
    hasEventTime: false,
  });
}

function dataFieldNames(schema: Schema): string[] {
  return schema.names().filter((n) => n !== ROW_KIND);
}

/** A regular join node of two tables' nodes (keys: field names of each; equal types, checked by the caller). */
export function regularJoinNode(graph: JobGraph, left: GraphNode, right: GraphNode, spec: RegularJoinSpec, stateTtlMs: number): GraphNode {
  for (const [i, k] of spec.keyFields[0].entries()) {
    const a = left.schema.field(k).type;
    const b = right.schema.field(spec.keyFields[1][i]!).type;
    if (a !== b) throw new TableError(`join: the keys ${k} (${a}) and ${spec.keyFields[1][i]} (${b}) have different types; cast one of them first`);
    if (a === 'f64') throw new TableError(`join: the key ${k} is a DOUBLE (f64), whose equality the key bytes do not follow (0 and -0); join on an integer or text key`);
  }
  return graph.add({
    name: describeJoin(spec),
    op: { kind: 'regularJoin', spec, stateTtlMs },
    input: left,
    inputs: [left, right],
    partitioning: { kind: 'hash', keyFields: [...spec.keyFields[0]] },
    inputPartitioning: [
      { kind: 'hash', keyFields: [...spec.keyFields[0]] },
      { kind: 'hash', keyFields: [...spec.keyFields[1]] },
    ],
    schema: regularJoinSchema(spec, left.schema, right.schema),
    // No time attribute after a regular join (Flink's: its rows' order in time is lost).
    hasEventTime: false,
  });
}

/**
 * A Table API join condition (over both tables' columns) as key pairs [left, right] and the
 * other conjuncts. Throws when there is no equality between a column of each.
 */
export function joinKeys(cond: ExprNode, left: readonly string[], right: readonly string[], where: string): { keys: [string, string][]; residual: ExprNode[] } {
  const conj = (e: ExprNode): ExprNode[] => (e.k === 'call' && e.op === 'and' ? e.args.flatMap(conj) : [e]);
  const keys: [string, string][] = [];
  const residual: ExprNode[] = [];
  for (const c of conj(cond)) {
    if (c.k === 'call' && c.op === 'eq' && c.args[0]!.k === 'ref' && c.args[1]!.k === 'ref') {
      const [a, b] = [c.args[0]!.name, c.args[1]!.name];
      if (left.includes(a) && right.includes(b)) {
        keys.push([a, b]);
        continue;
      }
      if (left.includes(b) && right.includes(a)) {
        keys.push([b, a]);
        continue;
      }
    }
    for (const n of refNames(c)) if (!left.includes(n) && !right.includes(n)) throw new TableError(`${where}: unknown column '${n}'; the columns are: ${[...left, ...right].join(', ')}`);
    residual.push(c);
  }
  if (keys.length === 0) throw new TableError(`${where}: the condition needs an equality between a column of each table, e.g. $('a').isEqual($('b')); got ${render(cond)}`);
  return { keys, residual };
}

function refNames(e: ExprNode, out: string[] = []): string[] {
  if (e.k === 'ref') out.push(e.name);
  else if (e.k === 'call') e.args.forEach((a) => refNames(a, out));
  else if (e.k === 'alias') refNames(e.e, out);
  return out;
}
