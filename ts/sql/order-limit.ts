/**
 * ORDER BY and LIMIT where Flink's streaming SQL allows them (append-only results):
 *
 * - `ORDER BY t [ASC], c2 [DESC], ...` where t is the query's event-time column (its WATERMARK
 *   column, or a window aggregation's window_end): a temporal sort. The rows wait until the
 *   watermark passes their time and then come out in time order, ties by the other ORDER BY
 *   columns, then by the row's other columns (ascending, nulls first), so the order is the same
 *   on both engines. Planned as a 1 ms tumbling window over all rows (the windows fire in time
 *   order) with a sorting process function; rows behind the watermark are dropped, as Flink's.
 * - `LIMIT n`: the first n rows (after the sort, if any), counted by one keyed subtask in a
 *   checkpointed value state; then nothing more.
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
  if (order !== undefined) rel = temporalSort(order, rel, catalog);
  if (limit !== undefined) rel = firstRows(limit, rel, catalog);
  return rel;
}

function temporalSort(order: SqlNode, rel: Relation, catalog: Catalog): Relation {
  const schema = rel.table.getSchema();
  const names = schema.names();
  const time = rel.rowtime ?? rel.windowEnd ?? null;
  const items = kids(order, 'OrderItemDefinition').map((o) => {
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
  const first = items[0]!;
  if (time === null || first.col !== time || first.desc) {
    fail(
      first.node,
      time === null
        ? "a streaming ORDER BY sorts on event time first, and this query has no event-time column (select the table's WATERMARK column, or a window aggregation's window_end)"
        : `a streaming ORDER BY sorts on event time first, ascending: ORDER BY ${time}${items.length > 1 ? ', ...' : ''} (other columns may follow, in either direction)`,
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
    private readonly columns: readonly string[],
  ) {}
  open(ctx: RuntimeContext): void {
    this.seen = ctx.getState(new ValueStateDescriptor<number>('rows', 0));
  }
  processElement(record: Row, _ctx: KeyedContext<unknown>, out: Collector<Row>): void {
    const seen = this.seen.value() ?? 0;
    if (seen >= this.n) return;
    this.seen.update(seen + 1);
    const r: Row = {};
    for (const c of this.columns) r[c] = record[c];
    out.collect(r);
  }
}

function firstRows(limit: SqlNode, rel: Relation, catalog: Catalog): Relation {
  const e = limit.kids.find((k) => k.kind !== 'tok');
  const text = e?.text.trim() ?? '';
  if (e === undefined || !/^\d+$/.test(text) || !Number.isSafeInteger(Number(text))) fail(e ?? limit, `LIMIT takes a whole number of rows, e.g. LIMIT 10; got '${text}'`);
  const n = Number(text);
  const schema = rel.table.getSchema();
  // One constant key: a single subtask counts the rows.
  const keyed = rel.table.addColumns(new Expression({ k: 'alias', e: { k: 'lit', v: 0 }, name: LIMIT_KEY })).toDataStream<Row>().keyBy(LIMIT_KEY as never);
  const out = keyed.process(new FirstRows(n, schema.names()) as never, spec(schema));
  return { ...rel, table: catalog.tEnv.fromDataStream(out as never), qualifiers: new Set() };
}
