/**
 * The Table API (Flink's, in TypeScript idiom): a Table is a relational view of a DataStream.
 * `select`, `where`, `addColumns`, `renameColumns` and `dropColumns` do not add operators one
 * by one: they compose into one pending calc (projection + filter + computed columns, the
 * later operations' expressions substituted into the earlier ones), which becomes one `calc`
 * node of the job graph when the table is used (`toDataStream`). The engines run it over
 * whole batches (engine/calc-spec.ts).
 */

import type { Row } from '../batch/record-batch.js';
import { Schema } from '../batch/schema.js';
import type { CalcSpec } from '../engine/calc-spec.js';
import { DataStream } from '../api/datastream.js';
import type { StreamEnvironment } from '../api/environment.js';
import type { GraphNode } from '../plan/graph.js';
import { Expression, render, type ExprNode } from './expression.js';
import { resolve, TableError } from './resolve.js';

/** One column of a table: its name and its expression over the input node's fields. */
interface Col {
  readonly name: string;
  readonly expr: ExprNode;
}

export class TableEnvironment {
  private constructor(readonly env: StreamEnvironment) {}

  /** The Table API over a stream environment (Flink's StreamTableEnvironment.create). */
  static create(env: StreamEnvironment): TableEnvironment {
    return new TableEnvironment(env);
  }

  /** A table whose columns are the stream's fields (its event time, if any, is kept). */
  fromDataStream<T extends object>(stream: DataStream<T>): Table {
    const node = stream.node;
    return new Table(this, node, node.schema.fields.map((f) => ({ name: f.name, expr: { k: 'ref', name: f.name } })), null);
  }
}

export class Table {
  /** @internal */
  constructor(
    private readonly tEnv: TableEnvironment,
    /** The graph node the pending calc reads. */
    private readonly input: GraphNode,
    private readonly cols: readonly Col[],
    /** Rows are kept where this is true (over the input's fields). */
    private readonly pred: ExprNode | null,
  ) {}

  /** The columns and their types, as the table's records will have them. */
  getSchema(): Schema {
    return this.spec('schema').then;
  }

  /** Replaces references to this table's columns by their expressions (composing operations). */
  private inline(e: ExprNode, where: string): ExprNode {
    switch (e.k) {
      case 'ref': {
        const c = this.cols.find((x) => x.name === e.name);
        if (c === undefined) throw new TableError(`${where}: unknown column '${e.name}'; the columns are: ${this.cols.map((x) => x.name).join(', ')}`);
        return c.expr;
      }
      case 'alias':
        return { ...e, e: this.inline(e.e, where) };
      case 'call':
        return { ...e, args: e.args.map((a) => this.inline(a, where)) };
      default:
        return e;
    }
  }

  private columnsOf(exprs: readonly Expression[], where: string): Col[] {
    return exprs.map((x, k) => {
      const n = x.node;
      const name = n.k === 'alias' ? n.name : n.k === 'ref' ? n.name : `EXPR$${k}`;
      return { name, expr: this.inline(n.k === 'alias' ? n.e : n, where) };
    });
  }

  private derive(cols: readonly Col[], pred: ExprNode | null, where: string): Table {
    const seen = new Set<string>();
    for (const c of cols) {
      if (seen.has(c.name)) throw new TableError(`${where}: the column '${c.name}' appears twice; rename one with .as('...')`);
      seen.add(c.name);
    }
    const t = new Table(this.tEnv, this.input, cols, pred);
    t.spec(where); // resolves every expression now: errors surface where the table is built
    return t;
  }

  /** The columns `exprs` (each a column, or a computed expression named with `.as(name)`). */
  select(...exprs: Expression[]): Table {
    return this.derive(this.columnsOf(exprs, 'select'), this.pred, 'select');
  }

  /** Keeps the rows for which `predicate` is true (null and false drop the row). */
  where(predicate: Expression): Table {
    const p = this.inline(predicate.node, 'where');
    const pred: ExprNode = this.pred === null ? p : { k: 'call', op: 'and', args: [this.pred, p] };
    return this.derive(this.cols, pred, 'where');
  }

  filter(predicate: Expression): Table {
    return this.where(predicate);
  }

  /** Adds computed columns after the existing ones (a name that exists is an error: use addOrReplaceColumns). */
  addColumns(...exprs: Expression[]): Table {
    return this.derive([...this.cols, ...this.columnsOf(exprs, 'addColumns')], this.pred, 'addColumns');
  }

  /** Adds columns, replacing those of the same name in place. */
  addOrReplaceColumns(...exprs: Expression[]): Table {
    const added = this.columnsOf(exprs, 'addOrReplaceColumns');
    const cols = this.cols.map((c) => added.find((a) => a.name === c.name) ?? c);
    for (const a of added) if (!this.cols.some((c) => c.name === a.name)) cols.push(a);
    return this.derive(cols, this.pred, 'addOrReplaceColumns');
  }

  /** Renames columns: `renameColumns($('a').as('b'))`. */
  renameColumns(...exprs: Expression[]): Table {
    const renames = new Map<string, string>();
    for (const x of exprs) {
      const n = x.node;
      if (n.k !== 'alias' || n.e.k !== 'ref') throw new TableError(`renameColumns: ${render(n)}: write a column and its new name, e.g. $('a').as('b')`);
      this.inline(n.e, 'renameColumns');
      renames.set(n.e.name, n.name);
    }
    return this.derive(this.cols.map((c) => ({ name: renames.get(c.name) ?? c.name, expr: c.expr })), this.pred, 'renameColumns');
  }

  /** Drops columns: `dropColumns($('a'), $('b'))`. */
  dropColumns(...exprs: Expression[]): Table {
    const drop = new Set<string>();
    for (const x of exprs) {
      if (x.node.k !== 'ref') throw new TableError(`dropColumns: ${render(x.node)}: name a column, e.g. $('a')`);
      this.inline(x.node, 'dropColumns');
      drop.add(x.node.name);
    }
    return this.derive(this.cols.filter((c) => !drop.has(c.name)), this.pred, 'dropColumns');
  }

  /** The pending calc as an engine spec over the input node's schema, and the table's schema. */
  private spec(where: string): { readonly calc: CalcSpec; readonly then: Schema } {
    const input = this.input.schema;
    const filter = this.pred === null ? null : resolve(this.pred, input, where);
    if (filter !== null && filter.t !== 'bool') throw new TableError(`${where}: a condition must be bool, got ${filter.t}: ${render(this.pred!)}`);
    const columns = this.cols.map((c) => ({ name: c.name, expr: resolve(c.expr, input, where) }));
    const calc: CalcSpec = { filter, columns, name: 'Calc' };
    return { calc, then: new Schema(columns.map((c) => ({ name: c.name, type: c.expr.t, nullable: c.expr.n }))) };
  }

  /** True when the pending calc keeps every row and field unchanged. */
  private isIdentity(): boolean {
    const f = this.input.schema.fields;
    return this.pred === null && this.cols.length === f.length && this.cols.every((c, i) => c.name === f[i]!.name && c.expr.k === 'ref' && c.expr.name === f[i]!.name);
  }

  /** The table as a stream of records (one calc operator for everything pending). */
  toDataStream(): DataStream<Row> {
    const env = this.tEnv.env;
    if (this.isIdentity()) return new DataStream<Row>(env, this.input);
    const { calc, then } = this.spec('toDataStream');
    const name = `Calc(${this.describe()})`;
    const node = env.graph.add({ name, op: { kind: 'calc', spec: { ...calc, name } }, input: this.input, partitioning: { kind: 'forward' }, schema: then, hasEventTime: this.input.hasEventTime });
    return new DataStream<Row>(env, node);
  }

  /** The pending operations as one line: `select=[...], where=[...]`. */
  private describe(): string {
    const sel = this.cols.map((c) => (c.expr.k === 'ref' && c.expr.name === c.name ? c.name : `${render(c.expr)} AS ${c.name}`)).join(', ');
    return this.pred === null ? `select=[${sel}]` : `select=[${sel}], where=[${render(this.pred)}]`;
  }

  /** The logical plan of this table: the pending calc over its input. */
  explain(): string {
    const { then } = this.spec('explain');
    return `== Logical plan ==\nCalc(${this.describe()}) -> ${then}\n  <- ${this.input.name} ${this.input.schema}`;
  }
}
