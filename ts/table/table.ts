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
import type { AggregateSpec, WindowDescriptor } from '../engine/engine.js';
import { aggregateOutputType, checkWindow, describeAggregates, describeWindow, windowOutputSchema } from '../engine/window-spec.js';
import { addWindowAggregate } from '../plan/two-phase.js';
import { DataStream } from '../api/datastream.js';
import type { StreamEnvironment } from '../api/environment.js';
import type { JobResult } from '../api/job.js';
import type { GraphNode } from '../plan/graph.js';
import { Expression } from './expression.js';
import { render, type ExprNode } from './expression.js';
import { resolve, TableError } from './resolve.js';
import { splitAggregates } from './aggregates.js';
import { ROW_KIND, ROW_KIND_FIELD, isUpdating } from '../batch/row-kind.js';
import { changelogStream, joinKeys, planDistinct, planGroupAggregate, rankNode, regularJoinNode, updatingOrigin, type TableParts } from './updating.js';
import type { JoinType } from '../engine/regular-join-spec.js';
import { describeRank, type RankSpec } from '../engine/rank-spec.js';
import { TableConfig } from './config.js';

/** One column of a table: its name and its expression over the input node's fields. */
interface Col {
  readonly name: string;
  readonly expr: ExprNode;
}

/** What executeSql did: DDL registers a table (no job); INSERT INTO (or a SELECT) ran a job. */
export interface TableResult {
  readonly kind: 'ddl' | 'job';
  /** The job's result, for statements that ran one. */
  readonly job: JobResult | null;
}

/**
 * The SQL planner (ts/sql, above this layer since CREATE TABLE names connectors) registers
 * itself here when the package's entry point loads it, as the socket source does for
 * socketTextStream: executeSql and sqlQuery need no import from above.
 */
export interface SqlPlanner {
  executeSql(tEnv: TableEnvironment, sql: string): Promise<TableResult>;
  sqlQuery(tEnv: TableEnvironment, sql: string): Promise<Table>;
}
let sqlPlanner: SqlPlanner | null = null;

/** @internal Called once by sql/sql.ts. */
export function registerSqlPlanner(p: SqlPlanner): void {
  sqlPlanner = p;
}

function planner(): SqlPlanner {
  if (sqlPlanner === null) throw new TableError('SQL is not loaded; import Sluice from its package entry point');
  return sqlPlanner;
}

export class TableEnvironment {
  private readonly views = new Map<string, Table>();
  private readonly config = new TableConfig();

  /** The options read when a query is planned (Flink's getConfig; SQL's SET writes them). */
  getConfig(): TableConfig {
    return this.config;
  }

  private constructor(readonly env: StreamEnvironment) {}

  /**
   * Runs SQL statements (Flink's executeSql): CREATE TABLE ... WITH (...) and CREATE VIEW
   * register tables; INSERT INTO sink SELECT ... plans into the environment, and the job runs
   * once all statements are planned (several INSERTs run as one job, like Flink's statement
   * set). Parsing is asynchronous (the parser loads on first use), hence the Promise.
   */
  executeSql(sql: string): Promise<TableResult> {
    return planner().executeSql(this, sql);
  }

  /** A SELECT as a Table (Flink's sqlQuery): the same plan the Table API builds. */
  sqlQuery(sql: string): Promise<Table> {
    return planner().sqlQuery(this, sql);
  }

  /** Makes `table` visible to SQL under `name` (Flink's createTemporaryView). */
  createTemporaryView(name: string, table: Table): void {
    this.views.set(name, table);
  }

  /** @internal A view registered with createTemporaryView, for the SQL planner. */
  view(name: string): Table | undefined {
    return this.views.get(name);
  }

  /** @internal The names of the registered views. */
  viewNames(): string[] {
    return [...this.views.keys()];
  }

  /** The Table API over a stream environment (Flink's StreamTableEnvironment.create). */
  static create(env: StreamEnvironment): TableEnvironment {
    return new TableEnvironment(env);
  }

  /** A table whose columns are the stream's fields (its event time, if any, is kept). */
  fromDataStream<T extends object>(stream: DataStream<T>): Table {
    const node = stream.node;
    return new Table(this, node, node.schema.fields.filter((f) => f.name !== ROW_KIND).map((f) => ({ name: f.name, expr: { k: 'ref', name: f.name } })), null);
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
    /** The operations as written since the input node (explain's logical plan). */
    private readonly ops: readonly string[] = [],
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

  private derive(cols: readonly Col[], pred: ExprNode | null, where: string, op?: string): Table {
    const seen = new Set<string>();
    for (const c of cols) {
      if (seen.has(c.name)) throw new TableError(`${where}: the column '${c.name}' appears twice; rename one with .as('...')`);
      seen.add(c.name);
    }
    const t = new Table(this.tEnv, this.input, cols, pred, op === undefined ? this.ops : [...this.ops, op]);
    t.spec(where); // resolves every expression now: errors surface where the table is built
    return t;
  }

  /** The columns `exprs` (each a column, or a computed expression named with `.as(name)`). */
  select(...exprs: Expression[]): Table {
    return this.derive(this.columnsOf(exprs, 'select'), this.pred, 'select', `select(${exprs.map((x) => render(x.node)).join(', ')})`);
  }

  /** Keeps the rows for which `predicate` is true (null and false drop the row). */
  where(predicate: Expression): Table {
    const p = this.inline(predicate.node, 'where');
    const pred: ExprNode = this.pred === null ? p : { k: 'call', op: 'and', args: [this.pred, p] };
    return this.derive(this.cols, pred, 'where', `where(${render(predicate.node)})`);
  }

  filter(predicate: Expression): Table {
    return this.where(predicate);
  }

  /** Adds computed columns after the existing ones (a name that exists is an error: use addOrReplaceColumns). */
  addColumns(...exprs: Expression[]): Table {
    return this.derive([...this.cols, ...this.columnsOf(exprs, 'addColumns')], this.pred, 'addColumns', `addColumns(${exprs.map((x) => render(x.node)).join(', ')})`);
  }

  /** Adds columns, replacing those of the same name in place. */
  addOrReplaceColumns(...exprs: Expression[]): Table {
    const added = this.columnsOf(exprs, 'addOrReplaceColumns');
    const cols = this.cols.map((c) => added.find((a) => a.name === c.name) ?? c);
    for (const a of added) if (!this.cols.some((c) => c.name === a.name)) cols.push(a);
    return this.derive(cols, this.pred, 'addOrReplaceColumns', `addOrReplaceColumns(${exprs.map((x) => render(x.node)).join(', ')})`);
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
    return this.derive(this.cols.map((c) => ({ name: renames.get(c.name) ?? c.name, expr: c.expr })), this.pred, 'renameColumns', `renameColumns(${exprs.map((x) => render(x.node)).join(', ')})`);
  }

  /** Drops columns: `dropColumns($('a'), $('b'))`. */
  dropColumns(...exprs: Expression[]): Table {
    const drop = new Set<string>();
    for (const x of exprs) {
      if (x.node.k !== 'ref') throw new TableError(`dropColumns: ${render(x.node)}: name a column, e.g. $('a')`);
      this.inline(x.node, 'dropColumns');
      drop.add(x.node.name);
    }
    return this.derive(this.cols.filter((c) => !drop.has(c.name)), this.pred, 'dropColumns', `dropColumns(${exprs.map((x) => render(x.node)).join(', ')})`);
  }

  /** The pending calc as an engine spec over the input node's schema, and the table's schema. */
  private spec(where: string): { readonly calc: CalcSpec; readonly then: Schema } {
    const input = this.input.schema;
    const filter = this.pred === null ? null : resolve(this.pred, input, where);
    if (filter !== null && filter.t !== 'bool') throw new TableError(`${where}: a condition must be bool, got ${filter.t}: ${render(this.pred!)}`);
    const columns = this.cols.map((c) => ({ name: c.name, expr: resolve(c.expr, input, where) }));
    const then = new Schema(columns.map((c) => ({ name: c.name, type: c.expr.t, nullable: c.expr.n })));
    // An updating table's rows keep their kind through the calc (Flink's Calc passes changes on).
    if (this.updating) columns.push({ name: ROW_KIND, expr: resolve({ k: 'ref', name: ROW_KIND }, input, where) });
    const calc: CalcSpec = { filter, columns, name: 'Calc' };
    return { calc, then };
  }

  /** True when the pending calc keeps every row and field unchanged. */
  private isIdentity(): boolean {
    const f = this.input.schema.fields.filter((x) => x.name !== ROW_KIND);
    return this.pred === null && this.cols.length === f.length && this.cols.every((c, i) => c.name === f[i]!.name && c.expr.k === 'ref' && c.expr.name === f[i]!.name);
  }

  /**
   * The table as a stream of records (one calc operator for everything pending). `T` names the
   * record type the caller expects; the records have the fields of getSchema().
   */
  toDataStream<T extends object = Row>(): DataStream<T> {
    if (this.updating) {
      throw new TableError(
        `toDataStream: the table is updating (its rows are changed by ${updatingOrigin(this.input)}), not append-only; use toChangelogStream() to receive its inserts, updates and deletes`,
      );
    }
    return new DataStream<T>(this.tEnv.env, this.materialize('toDataStream'));
  }

  /**
   * The table as a stream of changes (Flink's toChangelogStream): records with the table's
   * fields and `rowKind` ('+I' insert, '-U' / '+U' the row before and after an update, '-D'
   * delete); an append-only table's records are all '+I'.
   */
  toChangelogStream<T extends object = Row & { rowKind: '+I' | '-U' | '+U' | '-D' }>(): DataStream<T> {
    return new DataStream<T>(this.tEnv.env, changelogStream(this.tEnv.env.graph, this.materialize('toChangelogStream'), this.getSchema()));
  }

  /** Whether the table's rows carry row kinds (it is the result of an updating aggregation or join). */
  isUpdating(): boolean {
    return this.updating;
  }

  private get updating(): boolean {
    return isUpdating(this.input.schema);
  }

  /**
   * @internal The graph node of the table's rows with their kinds (`$rowkind` last when
   * updating), for sinks that accept changes (SQL's print and blackhole).
   */
  changelogNode(where: string): GraphNode {
    return this.materialize(where);
  }

  /** @internal The environment the table's job is planned in. */
  environment(): StreamEnvironment {
    return this.tEnv.env;
  }

  /** @internal What makes the table updating, for messages ('' when append-only). */
  updatingOrigin(): string {
    return this.updating ? updatingOrigin(this.input) : '';
  }

  /**
   * Groups the rows by keys for an updating aggregation (Flink's non-windowed groupBy): its
   * select's aggregates are kept per group and change as rows arrive (or are retracted).
   */
  groupBy(...keys: Expression[]): GroupedTable {
    const names = keys.map((x) => {
      if (x.node.k !== 'ref') throw new TableError(`groupBy: ${render(x.node)}: group by columns; compute an expression first with addColumns(...)`);
      this.inline(x.node, 'groupBy');
      return x.node.name;
    });
    return new GroupedTable(this, names);
  }

  /** The distinct rows (an updating aggregation grouped by every column). */
  distinct(): Table {
    return planDistinct(this.parts(), this.getSchema().names());
  }

  /**
   * @internal A regular (unbounded) join with `right` on equal key columns (SQL's JOIN without
   * time bounds): `names` are the joined columns (this table's, then right's). Outer joins and
   * updating inputs make the result updating.
   */
  regularJoin(right: Table, type: JoinType, keys: readonly [readonly string[], readonly string[]], names: readonly string[]): Table {
    const node = regularJoinNode(this.tEnv.env.graph, this.materialize('join'), right.changelogNode('join'), { type, keyFields: keys, names }, this.tEnv.getConfig().getIdleStateRetention());
    const cols = node.schema.fields.filter((f) => f.name !== ROW_KIND).map((f) => ({ name: f.name, expr: { k: 'ref', name: f.name } as ExprNode }));
    return new Table(this.tEnv, node, cols, null, [...this.ops, `${type} join on ${keys[0].map((k, i) => `${k} = ${keys[1][i]}`).join(' AND ')}`]);
  }

  /**
   * @internal The non-windowed top-N (SQL's `ROW_NUMBER() / RANK() / DENSE_RANK() OVER
   * (PARTITION BY ... ORDER BY ...) ... WHERE rank <= N` without a window): an updating table of
   * the rows ranked lo..hi per partition, with the rank as `spec.rankField` when set.
   */
  rank(spec: RankSpec): Table {
    const node = rankNode(this.tEnv.env.graph, this.materialize('rank'), spec, this.tEnv.getConfig().getIdleStateRetention());
    const cols = node.schema.fields.filter((f) => f.name !== ROW_KIND).map((f) => ({ name: f.name, expr: { k: 'ref', name: f.name } as ExprNode }));
    return new Table(this.tEnv, node, cols, null, [...this.ops, describeRank(spec)]);
  }

  /**
   * The regular (unbounded) inner join with `right` (Flink's `join(right, condition)`): both
   * tables' rows are kept per key; `condition` equates columns of each (other conjuncts filter
   * the joined rows). The columns are this table's, then right's; their names must differ.
   * Updating when an input is.
   */
  join(right: Table, condition: Expression): Table {
    return this.tableJoin(right, condition, 'inner');
  }

  /** LEFT OUTER JOIN: rows without a match padded with nulls (retracted when a match arrives); an updating table. */
  leftOuterJoin(right: Table, condition: Expression): Table {
    return this.tableJoin(right, condition, 'left');
  }

  rightOuterJoin(right: Table, condition: Expression): Table {
    return this.tableJoin(right, condition, 'right');
  }

  fullOuterJoin(right: Table, condition: Expression): Table {
    return this.tableJoin(right, condition, 'full');
  }

  private tableJoin(right: Table, condition: Expression, type: JoinType): Table {
    const where = type === 'inner' ? 'join' : `${type}OuterJoin`;
    const l = this.cols.map((c) => c.name);
    const r = right.getSchema().names();
    for (const n of r) if (l.includes(n)) throw new TableError(`${where}: both tables have a column '${n}'; rename one first, e.g. renameColumns($('${n}').as('${n}2'))`);
    const { keys, residual } = joinKeys(condition.node, l, r, where);
    if (type !== 'inner' && residual.length > 0) throw new TableError(`${where}: an outer join's condition takes only equalities between the tables' columns; filter a table before the join`);
    const joined = this.regularJoin(right, type, [keys.map((k) => k[0]), keys.map((k) => k[1])], [...l, ...r]);
    return residual.length === 0 ? joined : joined.where(new Expression(residual.reduce((a, b) => ({ k: 'call', op: 'and', args: [a, b] }))));
  }

  /** @internal Plans a grouped select (see GroupedTable). */
  groupAggregate(keys: readonly string[], exprs: readonly Expression[]): Table {
    return planGroupAggregate(this.parts(), keys, exprs);
  }

  /** The pieces the updating planners (updating.ts) build on. */
  private parts(): TableParts<Table> {
    return {
      env: this.tEnv.env,
      stateTtlMs: this.tEnv.getConfig().getIdleStateRetention(),
      columns: this.cols.map((c) => c.name),
      ops: this.ops,
      inline: (e, where) => this.inline(e, where),
      preCalc: (cols) => {
        const t = this.derive(cols, this.pred, 'select');
        return t.materialize('select');
      },
      over: (node, post, written) =>
        new Table(this.tEnv, node, node.schema.fields.filter((f) => f.name !== ROW_KIND).map((f) => ({ name: f.name, expr: { k: 'ref', name: f.name } })), null, [...this.ops, written]).derive(post, null, 'select'),
    };
  }

  /** The graph node whose output is this table: the input itself, or one calc node over it. */
  private materialize(where: string): GraphNode {
    if (this.isIdentity()) return this.input;
    const { calc, then } = this.spec(where);
    const name = `Calc(${this.describe()})`;
    // An equal calc over the same input already in the graph is reused (sub-plan reuse), but
    // not for toDataStream: the stream returned takes its own name, uid and parallelism.
    const graph = this.tEnv.env.graph;
    return (where === 'toDataStream' ? graph.add.bind(graph) : graph.addShared.bind(graph))({ name, op: { kind: 'calc', spec: { ...calc, name }, ...(this.tEnv.getConfig().predicatePushdown() ? {} : { predicatePushdown: false }) }, input: this.input, partitioning: { kind: 'forward' }, schema: this.updating ? new Schema([...then.fields, ROW_KIND_FIELD]) : then, hasEventTime: this.input.hasEventTime });
  }

  /**
   * A group window over the table's event time (Flink's `window(Tumble.over(...).on($('t')).as('w'))`).
   * The rows' event time is the stream's (set by its watermark strategy, which should read the
   * `on` column); windows fire on its watermarks.
   */
  window(w: GroupWindow): GroupWindowedTable {
    if (this.updating) {
      throw new TableError(`window: a group window doesn't support consuming update and delete changes, which ${updatingOrigin(this.input)} produces; aggregate the append-only input in the window instead`);
    }
    const col = this.cols.find((c) => c.name === w.on);
    if (col === undefined) throw new TableError(`window: unknown column '${w.on}'; the columns are: ${this.cols.map((c) => c.name).join(', ')}`);
    if (this.getSchema().field(w.on).type !== 'timestamp') throw new TableError(`window: the time column '${w.on}' must be a timestamp, got ${this.getSchema().field(w.on).type}`);
    if (!this.input.hasEventTime) {
      throw new TableError(`window: the table has no event time; assign it on the stream (e.g. WatermarkStrategy.forBoundedOutOfOrderness(ms).withTimestampAssigner('${w.on}')) before fromDataStream`);
    }
    return new GroupWindowedTable(this, w);
  }

  /** @internal Plans a grouped window's select (see WindowGroupedTable). */
  windowAggregate(w: GroupWindow, keys: readonly string[], exprs: readonly Expression[]): Table {
    const names = new Set(this.cols.map((c) => c.name));
    for (const k of keys) if (!names.has(k)) throw new TableError(`groupBy: unknown column '${k}'; the columns are: ${[...names].join(', ')}`);
    const { aggs, argCols, post } = splitAggregates(exprs, keys, [...names], (n) => {
      const a = n.args[0]!;
      if (a.k !== 'ref' || a.name !== w.alias) throw new TableError(`select: ${render(n)}: start() and end() belong to the window '${w.alias}'`);
      return { k: 'ref', name: n.op };
    }, w.alias);
    if (aggs.length === 0) throw new TableError('select: a grouped window needs at least one aggregate, e.g. $(\'price\').max()');
    // Before the window: the keys and the aggregates' arguments, as one calc.
    const used = [...new Set([...keys, ...aggs.flatMap((a) => (a.arg === null || a.arg.startsWith('$arg') ? [] : [a.arg]))])];
    const pre = this.derive([...used.map((u) => this.cols.find((c) => c.name === u)!), ...argCols.map((c) => ({ name: c.name, expr: this.inline(c.expr, 'select') }))], this.pred, 'select');
    // A pre-calc that would only pick input columns is left out: the window reads its key and
    // argument fields from the input itself (and the source is still narrowed to them).
    const picksOnly = this.pred === null && argCols.length === 0 && used.every((u) => {
      const c = this.cols.find((x) => x.name === u)!;
      return c.expr.k === 'ref' && c.expr.name === u && this.input.schema.has(u);
    });
    const preNode = picksOnly ? this.input : pre.materialize('select');
    const input = preNode.schema;
    const keyFields = keys.map((k) => input.indexOf(k));
    const aggregates: AggregateSpec[] = aggs.map((a) => ({ name: a.name, kind: a.kind, field: a.arg === null ? null : input.indexOf(a.arg) }));
    for (const a of aggregates) {
      try {
        aggregateOutputType(a, input);
      } catch (e) {
        throw new TableError(`select: ${(e as Error).message}`);
      }
    }
    const schema = windowOutputSchema({ input, keyFields, window: w.window, aggregates });
    const env = this.tEnv.env;
    const node = addWindowAggregate(
      env.graph,
      preNode,
      `GroupWindowAggregate(${describeWindow(w.window)}${keys.length === 0 ? '' : `, groupBy=[${keys.join(', ')}]`}) [${describeAggregates(aggregates, input)}]`,
      { kind: 'windowAggregate', keyFields, window: w.window, gapFn: null, aggregates, lateTag: null, lateness: 0 },
      keys.length === 0 ? { kind: 'global' } : { kind: 'hash', keyFields: keys },
      schema,
      true,
    );
    const written = `window(${describeWindow(w.window)} on ${w.on} as ${w.alias}).groupBy(${[w.alias, ...keys].join(', ')}).select(${exprs.map((x) => render(x.node)).join(', ')})`;
    return new Table(this.tEnv, node, node.schema.fields.map((f) => ({ name: f.name, expr: { k: 'ref', name: f.name } })), null, [...this.ops, written]).derive(post, null, 'select');
  }

  /**
   * The rows of this table and of `others` (Flink's unionAll, a bag union): every table needs
   * the same column names, types and nullability, in the same order.
   */
  unionAll(...others: Table[]): Table {
    if (others.length === 0) throw new TableError('unionAll: give at least one other table');
    const mine = this.getSchema();
    const show = (t: Table): string => t.getSchema().fields.map((f) => `${f.name} ${f.type}${f.nullable ? '' : ' NOT NULL'}`).join(', ');
    for (const o of others) {
      if (o.tEnv !== this.tEnv) throw new TableError('unionAll: the tables come from different TableEnvironments');
      const theirs = o.getSchema();
      if (!theirs.equals(mine)) {
        throw new TableError(`unionAll: the tables' columns differ: (${show(this)}) and (${show(o)}); select the same column names and types on both sides (CAST, AS, COALESCE for a nullable column)`);
      }
    }
    const streams = [this, ...others].map((t) => t.toDataStream<Row>());
    const u = streams[0]!.union(...streams.slice(1));
    const t = this.tEnv.fromDataStream(u);
    return new Table(this.tEnv, t.input, t.cols, null, [...this.ops, `unionAll(${others.length} more)`]);
  }

  /** The pending operations as one line: `select=[...], where=[...]`. */
  private describe(): string {
    const sel = this.cols.map((c) => (c.expr.k === 'ref' && c.expr.name === c.name ? c.name : `${render(c.expr)} AS ${c.name}`)).join(', ');
    return this.pred === null ? `select=[${sel}]` : `select=[${sel}], where=[${render(this.pred)}]`;
  }

  /**
   * The table's plans: the operations as written (logical), and what they become (optimised:
   * one calc per chain of operations, group windows as the built-in window aggregation, down
   * to the stream the table came from). The environment's explain() shows the physical plan
   * (parallelism, chains, exchanges, projection into the sources) once the table is used.
   */
  explain(): string {
    const { then } = this.spec('explain');
    const chain: string[] = [];
    for (let n: GraphNode | null = this.input; n !== null; n = n.input) chain.push(`${n.name} -> ${n.schema}`);
    const calc = this.isIdentity() ? [] : [`Calc(${this.describe()}) -> ${then}`];
    const optimised = [...calc, ...chain].map((l, i) => `${'  '.repeat(i)}${i === 0 ? '' : '<- '}${l}`);
    return ['== Logical plan ==', ...(this.ops.length === 0 ? ['(the stream as it is)'] : this.ops), '', '== Optimised plan ==', ...optimised].join('\n');
  }
}

/** A table grouped by keys (no window): `select` its keys and aggregates. */
export class GroupedTable {
  /** @internal */
  constructor(
    private readonly table: Table,
    private readonly keys: readonly string[],
  ) {}

  /** Keys and aggregates (`$('price').max().as('top')`), or expressions over them. */
  select(...exprs: Expression[]): Table {
    return this.table.groupAggregate(this.keys, exprs);
  }
}

/** A group window: its assigner, time column and alias (see Tumble, Slide, Session). */
export interface GroupWindow {
  readonly window: WindowDescriptor;
  readonly on: string;
  readonly alias: string;
}

function intervalMs(e: Expression, what: string): number {
  const n = e.node;
  if (n.k === 'interval') return n.ms;
  if (n.k === 'lit' && typeof n.v === 'number' && Number.isSafeInteger(n.v)) return n.v;
  throw new TableError(`${what}: give an interval, e.g. lit(10).seconds(); got ${render(n)}`);
}

function onField(e: Expression): string {
  if (e.node.k !== 'ref') throw new TableError(`on(): name the time column, e.g. $('dateTime'); got ${render(e.node)}`);
  return e.node.name;
}

class WindowOn {
  constructor(private readonly window: WindowDescriptor) {
    checkWindow(window);
  }
  on(time: Expression): { as(alias: string): GroupWindow } {
    const on = onField(time);
    return { as: (alias: string) => ({ window: this.window, on, alias }) };
  }
}

/** Tumbling group windows: `Tumble.over(lit(10).seconds()).on($('dateTime')).as('w')`. */
export class Tumble {
  static over(size: Expression): WindowOn {
    return new WindowOn({ kind: 'tumbling', sizeMs: intervalMs(size, 'Tumble.over'), offsetMs: 0 });
  }
}

/** Sliding group windows: `Slide.over(lit(10).seconds()).every(lit(2).seconds()).on($('t')).as('w')`. */
export class Slide {
  static over(size: Expression): { every(slide: Expression): WindowOn } {
    const sizeMs = intervalMs(size, 'Slide.over');
    return { every: (slide: Expression) => new WindowOn({ kind: 'sliding', sizeMs, slideMs: intervalMs(slide, 'Slide.every'), offsetMs: 0 }) };
  }
}

/** Session group windows: `Session.withGap(lit(5).minutes()).on($('t')).as('w')`. */
export class Session {
  static withGap(gap: Expression): WindowOn {
    return new WindowOn({ kind: 'session', gapMs: intervalMs(gap, 'Session.withGap') });
  }
}

/** A table with a group window: group it by the window (and keys). */
export class GroupWindowedTable {
  /** @internal */
  constructor(
    private readonly table: Table,
    private readonly w: GroupWindow,
  ) {}

  /** `groupBy($('w'), $('key'), ...)`: the window's alias and the key columns. */
  groupBy(...exprs: Expression[]): WindowGroupedTable {
    const names = exprs.map((x) => {
      if (x.node.k !== 'ref') throw new TableError(`groupBy: ${render(x.node)}: group by columns and the window alias, e.g. groupBy($('w'), $('auction'))`);
      return x.node.name;
    });
    if (!names.includes(this.w.alias)) throw new TableError(`groupBy: a windowed table is grouped by its window: add $('${this.w.alias}')`);
    return new WindowGroupedTable(this.table, this.w, names.filter((n) => n !== this.w.alias));
  }
}

/** A table grouped by a window and keys: `select` its keys, window bounds and aggregates. */
export class WindowGroupedTable {
  /** @internal */
  constructor(
    private readonly table: Table,
    private readonly w: GroupWindow,
    private readonly keys: readonly string[],
  ) {}

  /** Keys, `$('w').start()` / `.end()`, and aggregates (`$('price').max().as('top')`), or expressions over them. */
  select(...exprs: Expression[]): Table {
    return this.table.windowAggregate(this.w, this.keys, exprs);
  }
}
