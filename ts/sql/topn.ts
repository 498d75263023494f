/**
 * Flink SQL's window top-N: `SELECT ... FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY
 * window_start, window_end [, keys] ORDER BY ...) AS rownum FROM <window>) WHERE rownum <= N`,
 * where <window> is a window TVF's rows (TUMBLE or HOP, no GROUP BY) or a window aggregation
 * (a subquery or view grouped by window_start, window_end). Planned on the DataStream API's
 * event-time windows with a process function: the rows of one window and partition are ranked
 * once, when the watermark passes the window's end, and the first N are emitted (an
 * append-only result, as Flink's window top-N).
 *
 * Over a window aggregation, each result row's event time is its window_end - 1, so a 1 ms
 * tumbling window keyed by the partition's other columns collects exactly one window's rows.
 *
 * Ties are broken deterministically, the same on both engines: after the ORDER BY columns, by
 * the row's other columns in their order (ascending, nulls first), then by arrival.
 */

import type { Row } from '../batch/record-batch.js';
import type { DataType, FieldType, Schema, SchemaSpec } from '../batch/schema.js';
import type { DataStream, KeyedStream } from '../api/datastream.js';
import { SlidingEventTimeWindows, TumblingEventTimeWindows, type WindowAssigner } from '../api/windows.js';
import type { RankFunction } from '../engine/rank-spec.js';
import { Expression, type ExprNode } from '../table/expression.js';
import { TableError } from '../table/resolve.js';
import type { GroupWindow, Table } from '../table/table.js';
import { ExprTranslator } from './expressions.js';
import { fail, find, kids, nameParts, type SqlNode } from './parser.js';
import type { Catalog, Relation } from './relation.js';

/** What query.ts lends this module (passed in: query.ts imports this one). */
export interface TopNDeps {
  /** The relation of a FROM clause. */
  from(from: SqlNode, catalog: Catalog): Relation;
  /** The table a window TVF reads, and its window (checked against the table's event time). */
  tvf(tvf: SqlNode, catalog: Catalog): { rel: Relation; window: GroupWindow; kind: string };
}

const FORM = 'SELECT * FROM (SELECT ..., ROW_NUMBER() OVER (PARTITION BY window_start, window_end ORDER BY price DESC) AS rownum FROM TABLE(TUMBLE(...))) WHERE rownum <= 3';
const RANK = '$rownum';

/** True when a select clause has a ROW_NUMBER() OVER item. */
export function hasOver(select: SqlNode): boolean {
  return find(select, 'OverWindowItem') !== null;
}

/** The SELECT of a query that ranks with ROW_NUMBER() OVER (parentheses unwrapped), or null. */
export function rankingSelect(q: SqlNode): SqlNode | null {
  let sub = q;
  while (sub.kind === 'QueryStatement' && sub.kids.filter((k) => k.kind !== 'tok').length === 1 && kids(sub, 'SelectStatement').length + kids(sub, 'QueryStatement').length === 1) {
    sub = sub.kids.find((k) => k.kind !== 'tok')!;
  }
  if (sub.kind !== 'SelectStatement') return null;
  const select = kids(sub, 'SelectClause')[0];
  return select !== undefined && hasOver(select) ? sub : null;
}

/** The error for a ROW_NUMBER() OVER anywhere but in window top-N. */
export function overOutsideTopN(select: SqlNode): never {
  fail(find(select, 'OverWindowItem')!, `OVER windows are supported only as window top-N: ${FORM}`);
}

interface OrderKey {
  readonly col: string;
  readonly desc: boolean;
  readonly nullsFirst: boolean;
}

/** The rank bounds of the outer WHERE (`rownum <= N`, `rownum < N`, `rownum = N`), and its other conjuncts. */
function rankFilter(where: SqlNode | undefined, rank: string, sub: SqlNode): { lo: number; hi: number; rest: SqlNode[] } {
  const conjuncts: SqlNode[] = [];
  const split = (n: SqlNode): void => {
    const inner = n.kind === 'Predicated' && n.kids.length === 1 ? n.kids[0]! : n;
    if (inner.kind === 'LogicalBinary' && inner.kids.some((k) => k.kind === 'tok' && k.text.toUpperCase() === 'AND')) {
      for (const k of inner.kids) if (k.kind !== 'tok') split(k);
    } else conjuncts.push(n);
  };
  if (where !== undefined) split(where.kids[1]!);
  let lo = 1;
  let hi: number | null = null;
  const rest: SqlNode[] = [];
  for (const c of conjuncts) {
    const cmp = find(c, 'Comparison');
    const sides = cmp === null ? [] : cmp.kids.filter((k) => k.kind !== 'ComparisonOperator');
    const op = cmp === null ? '' : kids(cmp, 'ComparisonOperator')[0]!.text.replace(/\s+/g, '');
    const left = sides[0] === undefined ? [] : nameParts(sides[0]);
    if (cmp === null || sides.length !== 2 || left[left.length - 1] !== rank || find(sides[0]!, 'FunctionCall') !== null) {
      rest.push(c);
      continue;
    }
    const v = Number(sides[1]!.text.trim());
    if (!Number.isSafeInteger(v) || v < 0 || (v === 0 && (op === '<=' || op === '<' || op === '='))) fail(sides[1]!, `compare ${rank} with a whole number of at least 1, e.g. ${rank} <= 3`);
    if (op === '<=') hi = Math.min(hi ?? v, v);
    else if (op === '<') hi = Math.min(hi ?? v - 1, v - 1);
    else if (op === '=') {
      lo = Math.max(lo, v);
      hi = Math.min(hi ?? v, v);
    } else if (op === '>=') lo = Math.max(lo, v);
    else if (op === '>') lo = Math.max(lo, v + 1);
    // Other comparisons (<>) filter the ranked rows.
    else rest.push(c);
  }
  if (hi === null) fail(where ?? sub, `window top-N needs a limit on the rank in the enclosing WHERE: ${FORM}`);
  return { lo, hi, rest };
}

/** Compares two values of one column: nulls first, numbers, strings (by code unit), booleans. */
function compareValues(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number | string) < (b as number | string) ? -1 : (a as number | string) > (b as number | string) ? 1 : 0;
}

function sortKeyOf(v: unknown): string {
  return v === null || v === undefined ? 'n' : `${typeof v}:${String(v)}`;
}

function fieldSpec(schema: Schema): Record<string, FieldType> {
  const spec: Record<string, FieldType> = {};
  for (const f of schema.fields) spec[f.name] = (f.nullable ? `${f.type}?` : f.type) as FieldType;
  return spec;
}

/**
 * The relation of a query whose FROM is a ranking subquery (window top-N), with the enclosing
 * WHERE applied (its rank bounds inside the ranking); null when the FROM is something else.
 */
export function windowTopN(from: SqlNode, where: SqlNode | undefined, outerSelect: SqlNode, catalog: Catalog, deps: TopNDeps): Relation | null {
  const te = kids(from, 'TableExpression')[0];
  const ref = te === undefined ? undefined : kids(te, 'TableReference')[0];
  const primary = ref === undefined ? undefined : kids(ref, 'TablePrimary')[0];
  if (te === undefined || ref === undefined || primary === undefined || te.kids.length !== 1) return null;
  // A subquery, or a view whose query ranks (CREATE VIEW v AS SELECT ..., ROW_NUMBER() ...).
  const path = kids(primary, 'TablePath')[0];
  let sub = path !== undefined ? (catalog.viewQuery?.(nameParts(path).join('.')) ?? null) : find(primary, 'QueryStatement');
  if (sub === null) return null;
  sub = rankingSelect(sub);
  if (sub === null) return null;
  const select = kids(sub, 'SelectClause')[0]!;

  for (const k of sub.kids) {
    if (!['SelectClause', 'FromClause', 'WhereClause'].includes(k.kind)) {
      fail(k, `${k.text.split(/\s/)[0]}: a ranking query has SELECT, FROM and WHERE only; write the window aggregation in a subquery: SELECT *, ROW_NUMBER() OVER (...) AS rownum FROM (SELECT ... GROUP BY window_start, window_end, ...)`);
    }
  }
  const list = kids(select, 'SelectList')[0]!;
  const items = kids(list, 'ColumnProjectItem');
  const overItems = items.filter((it) => find(it, 'OverWindowItem') !== null);
  if (overItems.length !== 1) fail(overItems[1]!, 'one ROW_NUMBER() OVER (...) per query');
  const overItem = overItems[0]!;
  const over = find(overItem, 'OverWindowItem')!;
  const fn = find(over, 'FunctionCall');
  const fnName = fn === null ? null : (/^(ROW_NUMBER|RANK|DENSE_RANK)\s*\(\s*\)$/i.exec(fn.text)?.[1]?.toLowerCase() ?? null);
  if (fn === null || fnName === null) fail(fn ?? over, `${fn?.text ?? over.text}: only ROW_NUMBER(), RANK() and DENSE_RANK() are supported with OVER (other OVER aggregations are not); ${FORM}`);
  const rankFn = fnName as RankFunction;
  const aliasNode = overItem.kids.find((k) => k.kind === 'ColumnAlias') ?? over.kids.filter((k) => k.kind !== 'tok')[over.kids.filter((k) => k.kind !== 'tok').length - 1];
  const hasAlias = overItem.kids.some((k) => k.kind === 'ColumnAlias') || over.kids.some((k) => k.kind === 'tok' && k.text.toUpperCase() === 'AS');
  if (!hasAlias || aliasNode === undefined || aliasNode.kind === 'WindowSpec') fail(over, `name the rank: ROW_NUMBER() OVER (...) AS rownum`);
  const rankName = nameParts(aliasNode.kind === 'ColumnAlias' ? aliasNode.kids[aliasNode.kids.length - 1]! : aliasNode).join('.');
  const spec = find(over, 'WindowSpec')!;
  const partition = kids(spec, 'PartitionByClause')[0];
  const orderBy = kids(spec, 'OrderByClause')[0];
  if (orderBy === undefined) fail(spec, 'window top-N needs ORDER BY inside OVER (...), e.g. ORDER BY price DESC');
  if (spec.kids.some((k) => k.kind !== 'tok' && k.kind !== 'PartitionByClause' && k.kind !== 'OrderByClause')) fail(spec, 'a window frame (ROWS/RANGE) is not supported with ROW_NUMBER()');
  const { lo, hi, rest } = rankFilter(where, rankName, sub);

  // The rows ranked: a TVF's rows (the window assigned here), or a window aggregation's result.
  const innerFrom = kids(sub, 'FromClause')[0];
  if (innerFrom === undefined) fail(sub, 'the ranking query needs FROM');
  const innerTe = kids(innerFrom, 'TableExpression')[0];
  const tvfNode = innerTe === undefined ? null : (kids(innerTe, 'WindowTVFClause')[0] ?? null);
  let base: Relation;
  let window: GroupWindow | null = null;
  if (tvfNode !== null) {
    const t = deps.tvf(tvfNode, catalog);
    if (t.kind !== 'TUMBLE' && t.kind !== 'HOP') fail(tvfNode, `window top-N directly over ${t.kind} rows is not supported; rank the result of a window aggregation (SELECT *, ROW_NUMBER() OVER (...) FROM (SELECT ... FROM TABLE(${t.kind}(...)) GROUP BY window_start, window_end, ...)) or use TUMBLE / HOP`);
    base = t.rel;
    window = t.window;
  } else {
    base = deps.from(innerFrom, catalog);
  }
  const innerWhere = kids(sub, 'WhereClause')[0];
  if (innerWhere !== undefined) {
    const t = new ExprTranslator({ columns: base.table.getSchema().names(), qualifiers: base.qualifiers, window: null });
    const pred = new Expression(t.expr(innerWhere.kids[1]!));
    base = { ...base, table: tableAt(innerWhere, () => base.table.where(pred)) };
  }

  // PARTITION BY and ORDER BY name columns of the ranked rows.
  const names = base.table.getSchema().names();
  const colOf = (n: SqlNode, allowWindow: boolean): string => {
    const parts = nameParts(n);
    const c = parts[parts.length - 1]!;
    if (allowWindow && window !== null && (c.toLowerCase() === 'window_start' || c.toLowerCase() === 'window_end')) return c.toLowerCase();
    if (names.includes(c)) return c;
    const ci = names.find((x) => x.toLowerCase() === c.toLowerCase());
    if (ci !== undefined) return ci;
    fail(n, `unknown column '${c}'; the columns are: ${[...names, ...(window !== null ? ['window_start', 'window_end'] : [])].join(', ')}`);
  };
  const partCols = (partition?.kids ?? []).filter((k) => k.kind !== 'tok').map((k) => {
    if (k.kind !== 'ColumnName' && nameParts(k).length === 0) fail(k, 'PARTITION BY columns, not expressions');
    return colOf(k, true);
  });
  if (window !== null) {
    if (!partCols.includes('window_start') || !partCols.includes('window_end')) fail(partition ?? spec, `window top-N partitions by the window: PARTITION BY window_start, window_end [, keys]; ${FORM}`);
  }
  // Not partitioned by a window: Flink's (updating) top-N over the whole stream.
  const updating = window === null && (base.windowEnd === undefined || !partCols.includes(base.windowEnd));
  const order: OrderKey[] = kids(orderBy, 'OrderItemDefinition').map((o) => {
    const e = o.kids.find((k) => k.kind !== 'tok')!;
    if (e.kind !== 'ColumnName' && find(e, 'FunctionCall') !== null) fail(e, 'ORDER BY columns of the ranked rows in OVER (...), not expressions; compute the value in a subquery');
    const toks = o.kids.filter((k) => k.kind === 'tok').map((k) => k.text.toUpperCase());
    const desc = toks.includes('DESC');
    const nullsFirst = toks.includes('NULLS') ? toks.includes('FIRST') : !desc;
    return { col: colOf(e, true), desc, nullsFirst };
  });

  // The rows to the window: the ranked relation's columns; out: those (+ the window's bounds for a TVF) + the rank.
  const schema = base.table.getSchema();
  const inCols = schema.names();
  const outSpec: Record<string, FieldType> = { ...fieldSpec(schema) };
  if (window !== null) {
    for (const c of ['window_start', 'window_end']) if (c in outSpec) fail(innerFrom, `the table has a column '${c}' already; rename it before ranking a TVF's rows`);
    outSpec.window_start = 'timestamp';
    outSpec.window_end = 'timestamp';
  }
  outSpec[RANK] = 'i64' satisfies DataType;
  const keyCols = partCols.filter((c) => c !== 'window_start' && c !== 'window_end' && !(window === null && c === base.windowEnd));
  const tieCols = inCols.filter((c) => !order.some((o) => o.col === c));
  const withWindow = window !== null;
  const rank = (_key: unknown, w: { start: number; end: number }, records: Row[]): Row[] => {
    const groups = new Map<string, Row[]>();
    for (const r of records) {
      const g = partCols.map((c) => (withWindow && (c === 'window_start' || c === 'window_end') ? '' : sortKeyOf(r[c]))).join('\u0000');
      let list = groups.get(g);
      if (list === undefined) groups.set(g, (list = []));
      list.push(r);
    }
    const out: Row[] = [];
    const valueOf = (r: Row, c: string): unknown => (c === 'window_start' && withWindow ? w.start : c === 'window_end' && withWindow ? w.end : r[c]);
    for (const g of [...groups.keys()].sort()) {
      const rows = groups.get(g)!;
      rows.sort((a, b) => {
        for (const o of order) {
          const x = valueOf(a, o.col);
          const y = valueOf(b, o.col);
          const xn = x === null || x === undefined;
          const yn = y === null || y === undefined;
          if (xn || yn) {
            if (xn && yn) continue;
            return xn === o.nullsFirst ? -1 : 1;
          }
          const c = compareValues(x, y);
          if (c !== 0) return o.desc ? -c : c;
        }
        for (const c of tieCols) {
          const d = compareValues(a[c], b[c]);
          if (d !== 0) return d;
        }
        return 0;
      });
      let rk = 0;
      for (let i = 0; i < rows.length; i++) {
        const tie = i > 0 && order.every((o) => compareValues(valueOf(rows[i - 1]!, o.col), valueOf(rows[i]!, o.col)) === 0);
        rk = rankFn === 'row_number' ? i + 1 : rankFn === 'rank' ? (tie ? rk : i + 1) : tie ? rk : rk + 1;
        if (rk > hi) break;
        if (rk < lo) continue;
        const r: Row = { ...rows[i]! };
        if (withWindow) {
          r.window_start = w.start;
          r.window_end = w.end;
        }
        r[RANK] = rk;
        out.push(r);
      }
    }
    return out;
  };
  const windowRanked = (from: SqlNode): Table => {
    const stream = base.table.toDataStream<Row>();
    const keyed: KeyedStream<Row, object> | DataStream<Row> = keyCols.length === 0 ? stream : stream.keyBy(keyCols as never);
    const assigner: WindowAssigner<Row> =
      window === null
        ? TumblingEventTimeWindows.of(1)
        : window.window.kind === 'tumbling'
          ? TumblingEventTimeWindows.of(window.window.sizeMs, window.window.offsetMs)
          : window.window.kind === 'sliding'
            ? SlidingEventTimeWindows.of(window.window.sizeMs, window.window.slideMs, window.window.offsetMs)
            : fail(from, 'window top-N over this window is not supported; use TUMBLE or HOP');
    const windowed = 'windowAll' in keyed && keyCols.length === 0 ? (keyed as DataStream<Row>).windowAll(assigner) : (keyed as KeyedStream<Row, object>).window(assigner);
    const ranked = windowed.process(rank as never, outSpec as SchemaSpec) as unknown as DataStream<Row>;
    return catalog.tEnv.fromDataStream(ranked);
  };
  // Whether the query reads the rank (else the updating top-N does not emit shifted rows).
  const rankUsed = !updating || mentions(outerSelect, rankName) || rest.some((c) => mentions(c, rankName));
  const rankedTable = updating
    ? tableAt(over, () => base.table.rank({ fn: rankFn, partitionFields: partCols, order: order.map((o) => ({ field: o.col, desc: o.desc, nullsFirst: o.nullsFirst })), lo, hi, rankField: rankUsed ? RANK : null }))
    : windowRanked(innerFrom);

  // The ranking query's select list over the ranked rows (window_start / window_end are columns now).
  const rankedNames = rankedTable.getSchema().names();
  const t = new ExprTranslator({ columns: rankedNames.filter((c) => c !== RANK), qualifiers: base.qualifiers, window: null });
  const exprs: Expression[] = [];
  const outNames: string[] = [];
  for (const it of items) {
    if (it === overItem) {
      if (!rankUsed) continue;
      exprs.push(new Expression({ k: 'alias', e: { k: 'ref', name: RANK }, name: rankName }));
      outNames.push(rankName);
      continue;
    }
    const all = find(it, 'TableAllColumns');
    if (all !== null) {
      // A TVF's rows have its window's bounds too (Flink's window_time is not supported).
      for (const c of window !== null ? [...inCols, 'window_start', 'window_end'] : inCols) {
        exprs.push(new Expression({ k: 'ref', name: c }));
        outNames.push(c);
      }
      continue;
    }
    const body = it.kids.find((k) => k.kind !== 'ColumnAlias' && k.kind !== 'tok')!;
    const alias = kids(it, 'ColumnAlias')[0];
    const e: ExprNode = t.expr(body);
    const plain = nameParts(body);
    const name = alias !== undefined ? nameParts(alias.kids[alias.kids.length - 1]!).join('.') : e.k === 'ref' ? e.name : body.kind === 'SelectLiteralColumnName' || body.kind === 'ColumnName' ? plain[plain.length - 1]! : `EXPR$${exprs.length}`;
    exprs.push(new Expression({ k: 'alias', e, name }));
    outNames.push(name);
  }
  let table: Table = tableAt(list, () => rankedTable.select(...exprs));
  // The enclosing WHERE's other conditions, over the ranking query's columns.
  const alias = kids(primary, 'TableAlias')[0] ?? kids(ref, 'TableAlias')[0];
  const qualifier = alias !== undefined ? nameParts(alias.kids[alias.kids.length - 1]!).join('.') : path !== undefined ? nameParts(path).join('.') : null;
  const outer = new ExprTranslator({ columns: outNames, qualifiers: new Set(qualifier === null ? [] : [qualifier]), window: null });
  for (const c of rest) {
    const pred = new Expression(outer.expr(c));
    table = tableAt(c, () => table.where(pred));
  }
  // The ranked rows keep their window's end as event time (window_end - 1): a later window
  // aggregation grouped by it (window propagation) or a window join finds them.
  const endName = updating ? undefined : window !== null ? (items.some((it) => find(it, 'TableAllColumns') !== null) || outNames.includes('window_end') ? 'window_end' : undefined) : outNames.includes(base.windowEnd!) ? base.windowEnd : undefined;
  return { table, qualifiers: new Set(qualifier === null ? [] : [qualifier]), rowtime: null, ...(endName !== undefined ? { windowEnd: endName } : {}) };
}

/** Whether `n` may read the column `name`: it names it, or selects `*`. */
function mentions(n: SqlNode, name: string): boolean {
  const words = n.text.toLowerCase().split(/[^a-z0-9_$*]+/);
  return words.includes(name.toLowerCase()) || n.text.includes('*');
}

function tableAt<T>(n: SqlNode, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TableError) fail(n, e.message.replace(/^(select|where|window|groupBy): /, ''));
    throw e;
  }
}
