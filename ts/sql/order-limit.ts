/**
 * ORDER BY and LIMIT where Flink's streaming SQL allows them (append-only results):
 *
 * - `ORDER BY t [ASC], c2 [DESC], ...` where t is the query's event-time column (its WATERMARK
 *   column, or a window aggregation's window_end): a temporal sort. The rows wait until the
 *   watermark passes their time and then come out in time order, ties by the other ORDER BY
 *   columns, then by the row's other columns (ascending, nulls first), so the order is the same
 *   on both engines. Planned as a 1 ms tumbling window over all rows (the windows fire in time
 *   order) with a sorting process function; rows behind the watermark are dropped, as Flink's.
 * - `LIMIT n [OFFSET m]` (also `[OFFSET m ROWS] FETCH ...`, and `OFFSET m` alone: n unbounded): the first n rows (after the sort, if any) after skipping m, counted by
 *   one keyed subtask in a checkpointed value state; then nothing more.
 * - `ORDER BY` other columns (or time descending) with `LIMIT n [OFFSET m]`: Flink's sort-limit,
 *   the non-windowed top-N over all rows (ranks m+1 .. m+n, an updating result).
 */

import type { Row } from '../batch/record-batch.js';
import type { FieldType, Schema, SchemaSpec } from '../batch/schema.js';
import { TumblingEventTimeWindows } from '../api/windows.js';
import { ValueStateDescriptor, type Collector, type KeyedContext, type KeyedProcessFunction, type RuntimeContext, type ValueState } from '../api/state.js';
import { Expression } from '../table/expression.js';
import { fail, kids, nameParts, type SqlNode } from './parser.js';
import type { Catalog, Relation } from './relation.js';

const LIMIT_KEY = '$limit';

function spec(schema: Schema): SchemaSpec {
  const out: Record<string, FieldType> = {};
  for (const f of schema.fields) out[f.name] = (f.nullable ? `${f.type}?` : f.type) as FieldType;
  return out;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number | string) < (b as number | string) ? -1 : 1;
}

/** True when `q` (a QueryStatement) ends with ORDER BY or LIMIT. */
export function hasOrderOrLimit(q: SqlNode): boolean {
  return q.kind === 'QueryStatement' && q.kids.some((k) => k.kind === 'OrderByClause' || k.kind === 'LimitClause');
}

export function orderAndLimit(q: SqlNode, catalog: Catalog, translate: (q: SqlNode, catalog: Catalog) => Relation): Relation {
  const body = q.kids.filter((k) => k.kind !== 'tok' && k.kind !== 'OrderByClause' && k.kind !== 'LimitClause');
  if (body.length !== 1) fail(q, 'write SELECT ... [ORDER BY time, ...] [LIMIT n]');
  let rel = translate(body[0]!, catalog);
  const order = kids(q, 'OrderByClause')[0];
  const limit = kids(q, 'LimitClause')[0];
  const bounds = limit === undefined ? null : limitOf(limit);
  const items = order === undefined ? null : orderItems(order, rel);
  const time = rel.rowtime ?? rel.windowEnd ?? null;
  if (items !== null && bounds !== null && (time === null || items[0]!.col !== time || items[0]!.desc)) {
    // ORDER BY other columns with LIMIT: Flink's sort-limit, a top-N over all rows (updating).
    const { n, skip } = bounds;
    const spec = { fn: 'row_number' as const, partitionFields: [], order: items.map((i) => ({ field: i.col, desc: i.desc, nullsFirst: i.nullsFirst })), lo: skip + 1, hi: skip + n, rankField: null };
    return { ...rel, table: rel.table.rank(spec), qualifiers: new Set(), rowtime: null };
  }
  if (items !== null) rel = temporalSort(items, time, rel, catalog);
  if (bounds !== null) rel = firstRows(bounds, rel, catalog);
  return rel;
}

interface OrderItem {
  readonly col: string;
  readonly desc: boolean;
  readonly nullsFirst: boolean;
  readonly node: SqlNode;
}

function orderItems(order: SqlNode, rel: Relation): OrderItem[] {
  const names = rel.table.getSchema().names();
  return kids(order, 'OrderItemDefinition').map((o) => {
    const e = o.kids.find((k) => k.kind !== 'tok')!;
    const parts = nameParts(e);
    if (e.kind !== 'ColumnName' || parts.length === 0) fail(e, 'ORDER BY columns of the query (name them in the select list), not expressions');
    const c = parts[parts.length - 1]!;
    const col = names.includes(c) ? c : names.find((x) => x.toLowerCase() === c.toLowerCase());
    if (col === undefined) fail(e, `unknown column '${c}'; the columns are: ${names.join(', ')}`);
    const toks = o.kids.filter((k) => k.kind === 'tok').map((k) => k.text.toUpperCase());
    const desc = toks.includes('DESC');
    return { col, desc, nullsFirst: toks.includes('NULLS') ? toks.includes('FIRST') : !desc, node: e };
  });
}

function temporalSort(items: readonly OrderItem[], time: string | null, rel: Relation, catalog: Catalog): Relation {
  const schema = rel.table.getSchema();
  const names = schema.names();
  const first = items[0]!;
  if (time === null || first.col !== time || first.desc) {
    fail(
      first.node,
      time === null
        ? "a streaming ORDER BY sorts on event time first, and this query has no event-time column (select the table's WATERMARK column, or a window aggregation's window_end); or add LIMIT n for a top-N (an updating result)"
        : `a streaming ORDER BY sorts on event time first, ascending: ORDER BY ${time}${items.length > 1 ? ', ...' : ''} (other columns may follow, in either direction); or add LIMIT n for a top-N (an updating result)`,
    );
  }
  const rest = items.slice(1);
  const ties = names.filter((n) => !items.some((i) => i.col === n));
  const sort = (_key: unknown, _w: { start: number; end: number }, rows: Row[]): Row[] =>
    rows.sort((a, b) => {
      for (const o of rest) {
        const x = a[o.col];
        const y = b[o.col];
        const xn = x === null || x === undefined;
        const yn = y === null || y === undefined;
        if (xn || yn) {
          if (xn && yn) continue;
          return xn === o.nullsFirst ? -1 : 1;
        }
        const c = compare(x, y);
        if (c !== 0) return o.desc ? -c : c;
      }
      for (const c of ties) {
        const d = compare(a[c], b[c]);
        if (d !== 0) return d;
      }
      return 0;
    });
  const sorted = rel.table
    .toDataStream<Row>()
    .windowAll(TumblingEventTimeWindows.of(1))
    .process(sort as never, spec(schema));
  return { ...rel, table: catalog.tEnv.fromDataStream(sorted as never), qualifiers: new Set() };
}

class FirstRows implements KeyedProcessFunction<unknown, Row, Row> {
  private seen!: ValueState<number>;
  constructor(
    private readonly n: number,
    /** Rows skipped first (OFFSET). */
    private readonly skip: number,
    private readonly columns: readonly string[],
  ) {}
  open(ctx: RuntimeContext): void {
    this.seen = ctx.getState(new ValueStateDescriptor<number>('rows', 0));
  }
  processElement(record: Row, _ctx: KeyedContext<unknown>, out: Collector<Row>): void {
    const seen = this.seen.value() ?? 0;
    if (seen >= this.skip + this.n) return;
    this.seen.update(seen + 1);
    if (seen < this.skip) return;
    const r: Row = {};
    for (const c of this.columns) r[c] = record[c];
    out.collect(r);
  }
}

/** LIMIT n [OFFSET m]. */
function limitOf(limit: SqlNode): { n: number; skip: number } {
  const e = limit.kids.find((k) => k.kind !== 'tok' && k.kind !== 'OffsetClause' && k.kind !== 'FetchAll');
  const text = e?.text.trim() ?? '';
  if (e === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(e ?? limit, `LIMIT takes a whole number of rows, e.g. LIMIT 10; got '${text}'`);
  const off = kids(limit, 'OffsetClause')[0];
  if (off !== undefined && !Number.isSafeInteger(Number(off.text))) fail(off, `OFFSET takes a whole number of rows, e.g. LIMIT 10 OFFSET 20; got '${off.text}'`);
  // OFFSET alone: every row after the skipped ones.
  const all = kids(limit, 'FetchAll').length > 0;
  return { n: all ? Infinity : Number(text), skip: off === undefined ? 0 : Number(off.text) };
}

function firstRows({ n, skip }: { n: number; skip: number }, rel: Relation, catalog: Catalog): Relation {
  const schema = rel.table.getSchema();
  // One constant key: a single subtask counts the rows.
  const keyed = rel.table.addColumns(new Expression({ k: 'alias', e: { k: 'lit', v: 0 }, name: LIMIT_KEY })).toDataStream<Row>().keyBy(LIMIT_KEY as never);
  const out = keyed.process(new FirstRows(n, skip, schema.names()) as never, spec(schema));
  return { ...rel, table: catalog.tEnv.fromDataStream(out as never), qualifiers: new Set() };
}
