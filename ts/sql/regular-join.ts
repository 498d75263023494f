/**
 * Regular joins in SQL (Flink's StreamingJoin): `FROM a [INNER | LEFT | RIGHT | FULL [OUTER]]
 * JOIN b ON a.k = b.k [AND ...]` without time bounds on both sides. Both sides' rows are kept
 * per key (Table.regularJoin); outer joins and updating inputs give an updating table. An inner
 * join's conditions on one side only filter that side before the join (less state); the
 * others filter the joined rows. An outer join takes only key equalities in ON (its WHERE
 * filters its result).
 */

import type { ExprNode } from '../table/expression.js';
import { Expression } from '../table/expression.js';
import { TableError } from '../table/resolve.js';
import type { Table } from '../table/table.js';
import type { JoinType } from '../engine/regular-join-spec.js';
import { fail, type SqlNode } from './parser.js';
import type { Relation } from './relation.js';

export interface RegularJoinInput {
  readonly left: Relation;
  readonly right: Relation;
  /** Equal columns: [left column, right column] (the sides' own names). */
  readonly keys: readonly (readonly [string, string])[];
  /** Other ON (and, for an inner join, WHERE) conditions, over the joined names. */
  readonly residual: readonly ExprNode[];
  /** An outer join's WHERE, over the joined names. */
  readonly where: ExprNode | null;
  /** The right's columns as joined (renamed where the left has the name). */
  readonly rightNames: ReadonlyMap<string, string>;
  readonly type: JoinType;
  readonly on: SqlNode;
  readonly at: SqlNode;
  readonly qualifiers: ReadonlySet<string>;
  readonly columnsBy: ReadonlyMap<string, ReadonlyMap<string, string>>;
  readonly ambiguous: ReadonlySet<string>;
}

function refs(e: ExprNode, out: Set<string> = new Set()): Set<string> {
  if (e.k === 'ref') out.add(e.name);
  else if (e.k === 'call') e.args.forEach((a) => refs(a, out));
  else if (e.k === 'alias') refs(e.e, out);
  return out;
}

function rename(e: ExprNode, to: (name: string) => string): ExprNode {
  switch (e.k) {
    case 'ref':
      return { k: 'ref', name: to(e.name) };
    case 'call':
      return { ...e, args: e.args.map((a) => rename(a, to)) };
    case 'alias':
      return { ...e, e: rename(e.e, to) };
    default:
      return e;
  }
}

const and = (cs: readonly ExprNode[]): Expression => new Expression(cs.reduce((a, b) => ({ k: 'call', op: 'and', args: [a, b] })));

function tableAt<T>(n: SqlNode, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof TableError) fail(n, e.message.replace(/^(select|where|join): /, ''));
    throw e;
  }
}

export function regularJoin(j: RegularJoinInput): Relation {
  const ls = j.left.table.getSchema();
  const rs = j.right.table.getSchema();
  for (const [a, b] of j.keys) {
    const ta = ls.field(a).type;
    const tb = rs.field(b).type;
    if (ta !== tb) fail(j.on, `join keys ${a} (${ta}) and ${b} (${tb}) have different types; CAST one of them in a subquery`);
  }
  const rightOf = new Map([...j.rightNames].map(([from, to]) => [to, from]));
  let lt: Table = j.left.table;
  let rt: Table = j.right.table;
  const after: ExprNode[] = [];
  if (j.type !== 'inner' && j.residual.length > 0) {
    fail(j.on, `an outer join's ON takes only equalities between the sides' columns (a.k = b.k AND ...); filter a side in a subquery, or the result with WHERE`);
  }
  for (const c of j.residual) {
    const used = [...refs(c)];
    if (used.length > 0 && used.every((n) => ls.has(n))) lt = tableAt(j.on, () => lt.where(new Expression(c)));
    else if (used.length > 0 && used.every((n) => rightOf.has(n) && !ls.has(n))) rt = tableAt(j.on, () => rt.where(new Expression(rename(c, (n) => rightOf.get(n)!))));
    else after.push(c);
  }
  const names = [...ls.names(), ...rs.names().map((n) => j.rightNames.get(n)!)];
  let table = tableAt(j.at, () => lt.regularJoin(rt, j.type, [j.keys.map((k) => k[0]), j.keys.map((k) => k[1])], names));
  if (after.length > 0) table = tableAt(j.on, () => table.where(and(after)));
  if (j.where !== null) {
    const w = j.where;
    table = tableAt(j.at, () => table.where(new Expression(w)));
  }
  return { table, qualifiers: j.qualifiers, rowtime: null, columnsBy: j.columnsBy, ambiguous: j.ambiguous };
}
