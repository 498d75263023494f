/**
 * Interval joins in SQL: `FROM a JOIN b ON a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL ... AND
 * a.ts + INTERVAL ...` planned onto the DataStream API's interval join (keyed by the equality
 * columns, right rows whose event time lies in [left time + lower, left time + upper]). The
 * joined rows have the left columns, then the right ones (a name both have gets `0` appended
 * on the right, as Flink does); other ON conditions filter the joined rows. A side's time is
 * its WATERMARK column, or after a window aggregation its window_end (rows' event time
 * window_end - 1): two window aggregations equated on window_end join as a window join
 * (bounds [0, 0]); WHERE conditions count as ON conditions (Nexmark q7 bounds time there).
 */

import type { Row } from '../batch/record-batch.js';
import { Schema, type FieldType, type SchemaSpec } from '../batch/schema.js';
import { Expression, type ExprNode } from '../table/expression.js';
import type { TableEnvironment } from '../table/table.js';
import { ExprTranslator } from './expressions.js';
import { fail, type SqlNode } from './parser.js';
import type { JoinType } from '../engine/regular-join-spec.js';
import { regularJoin } from './regular-join.js';
import type { Relation } from './relation.js';

function conjuncts(e: ExprNode): ExprNode[] {
  return e.k === 'call' && e.op === 'and' ? e.args.flatMap(conjuncts) : [e];
}

/** `ref` or `ref +/- interval` as [column, offset ms]. */
function timeTerm(e: ExprNode): [string, number] | null {
  if (e.k === 'ref') return [e.name, 0];
  if (e.k === 'call' && (e.op === 'add' || e.op === 'sub') && e.args[0]!.k === 'ref' && e.args[1]!.k === 'interval') {
    return [e.args[0]!.name, e.op === 'add' ? e.args[1]!.ms : -e.args[1]!.ms];
  }
  return null;
}

export function intervalJoin(tEnv: TableEnvironment, left: Relation, right: Relation, on: SqlNode, where: SqlNode | null, at: SqlNode, type: JoinType = 'inner'): Relation {
  const ls = left.table.getSchema();
  const rs = right.table.getSchema();
  const lq = [...left.qualifiers];
  const rq = [...right.qualifiers];
  for (const q of rq) if (lq.includes(q)) fail(at, `both sides of the join are called '${q}'; give one an alias (FROM ${q} AS x JOIN ...)`);
  // Joined column names: the left's, then the right's (renamed with a 0 where both have one).
  const taken = new Set(ls.names());
  const rightNames = new Map<string, string>();
  for (const n of rs.names()) {
    let out = n;
    while (taken.has(out)) out += '0';
    taken.add(out);
    rightNames.set(n, out);
  }
  const leftNames = new Map(ls.names().map((n) => [n, n]));
  const columnsBy = new Map<string, ReadonlyMap<string, string>>([...lq.map((q) => [q, leftNames] as const), ...rq.map((q) => [q, rightNames] as const)]);
  const ambiguous = new Set(ls.names().filter((n) => rs.has(n)));
  const joinedCols = [...ls.names(), ...rightNames.values()];
  const scope = { columns: joinedCols, qualifiers: new Set([...lq, ...rq]), window: null, columnsBy, ambiguous };
  // WHERE conditions join the ON ones (a time bound may be written in either).
  const tr = new ExprTranslator(scope);
  const onCond = tr.expr(on);
  // An outer join's WHERE filters its result (it is not part of the join condition).
  const cond: ExprNode = where === null || type !== 'inner' ? onCond : { k: 'call', op: 'and', args: [onCond, tr.expr(where)] };

  const sideOf = (c: string): 'L' | 'R' => (ls.has(c) ? 'L' : 'R');
  const leftOf = (c: string): string => c;
  const rightOf = (c: string): string => [...rightNames].find(([, v]) => v === c)![0];

  const keys: [string, string][] = [];
  let lower = -Infinity;
  let upper = Infinity;
  const residual: ExprNode[] = [];
  /** The conditions taken as time bounds (a regular join filters on them instead). */
  const timeConds: ExprNode[] = [];
  // Each side's time: its WATERMARK column (the rows' event time), or after a window
  // aggregation its window_end column (the rows' event time is window_end - 1: delta 1).
  const lt = left.rowtime ?? left.windowEnd ?? null;
  const ld = left.rowtime !== null ? 0 : 1;
  const rt0 = right.rowtime ?? right.windowEnd ?? null;
  const rt = rt0 === null ? null : rightNames.get(rt0)!;
  const rd = right.rowtime !== null ? 0 : 1;
  for (const c of conjuncts(cond)) {
    if (c.k === 'call' && c.op === 'eq' && c.args[0]!.k === 'ref' && c.args[1]!.k === 'ref') {
      const [a, b] = [c.args[0]!.name, c.args[1]!.name];
      if (sideOf(a) !== sideOf(b) && a !== lt && a !== rt && b !== lt && b !== rt) {
        keys.push(sideOf(a) === 'L' ? [leftOf(a), rightOf(b)] : [leftOf(b), rightOf(a)]);
        continue;
      }
    }
    if (c.k === 'call' && ['eq', 'ge', 'gt', 'le', 'lt'].includes(c.op) && lt !== null && rt !== null) {
      const x = timeTerm(c.args[0]!);
      const y = timeTerm(c.args[1]!);
      if (x !== null && y !== null) {
        // A term col + o is event time + delta + o; d = right event time - left event time.
        const [xc, xo0] = x;
        const [yc, yo0] = y;
        let bound: { lo?: number; hi?: number } | null = null;
        if (xc === lt && yc === rt) {
          // L + xo op R + yo  <=>  d op' xo - yo
          const v = xo0 + ld - (yo0 + rd);
          bound = c.op === 'eq' ? { lo: v, hi: v } : c.op === 'ge' ? { hi: v } : c.op === 'gt' ? { hi: v - 1 } : c.op === 'le' ? { lo: v } : { lo: v + 1 };
        } else if (xc === rt && yc === lt) {
          // R + xo op L + yo  <=>  d op yo - xo
          const v = yo0 + ld - (xo0 + rd);
          bound = c.op === 'eq' ? { lo: v, hi: v } : c.op === 'ge' ? { lo: v } : c.op === 'gt' ? { lo: v + 1 } : c.op === 'le' ? { hi: v } : { hi: v - 1 };
        }
        if (bound !== null) {
          timeConds.push(c);
          if (bound.lo !== undefined) lower = Math.max(lower, bound.lo);
          if (bound.hi !== undefined) upper = Math.min(upper, bound.hi);
          continue;
        }
      }
    }
    residual.push(c);
  }
  const form = "a.k = b.k AND b.ts BETWEEN a.ts - INTERVAL '10' SECOND AND a.ts + INTERVAL '10' SECOND";
  if (keys.length === 0) fail(on, `the join needs an equality between a column of each side (ON a.k = b.k${lt !== null && rt !== null ? `, or an interval join: ON ${form}` : ''})`);
  // Without time bounds on both ends (or event time on both sides), or an outer join: a regular join.
  if (lt === null || rt === null || lower === -Infinity || upper === Infinity || type !== 'inner') {
    const wherePred = where !== null && type !== 'inner' ? tr.expr(where) : null;
    return regularJoin({ left, right, keys, residual: [...timeConds, ...residual], where: wherePred, rightNames, type, on, at, columnsBy, ambiguous, qualifiers: new Set([...lq, ...rq]) });
  }
  if (lower > upper) fail(on, `the time bounds leave no interval: the right side's time minus the left's must lie in [${lower}, ${upper}] ms`);
  for (const [a, b] of keys) {
    const ta = ls.field(a).type;
    const tb = rs.field(b).type;
    if (ta !== tb) fail(on, `join keys ${a} (${ta}) and ${b} (${tb}) have different types; CAST one of them in a subquery`);
  }
  const spec: Record<string, FieldType> = {};
  for (const f of ls.fields) spec[f.name] = f.nullable ? `${f.type}?` : f.type;
  for (const f of rs.fields) spec[rightNames.get(f.name)!] = f.nullable ? `${f.type}?` : f.type;
  // The joined rows are the left's columns, then the right's: gathered column by column.
  const joined = left.table
    .toDataStream<Row>()
    .keyBy(keys.map((k) => k[0]))
    .intervalJoin(right.table.toDataStream<Row>().keyBy(keys.map((k) => k[1])))
    .between(lower, upper)
    .concatColumns(Schema.from(spec as SchemaSpec));
  let table = tEnv.fromDataStream(joined);
  if (residual.length > 0) table = table.where(new Expression(residual.reduce((a, b) => ({ k: 'call', op: 'and', args: [a, b] }))));
  return { table, qualifiers: new Set([...lq, ...rq]), rowtime: null, columnsBy, ambiguous };
}
