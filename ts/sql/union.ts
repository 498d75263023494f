/**
 * UNION ALL of queries: each side's columns are matched by position and named as the first
 * side's (as in Flink), their types must be equal, and the sides become the Table API's
 * unionAll (the DataStream union: an append-only bag union, watermark the minimum of the sides).
 * UNION (distinct), INTERSECT and EXCEPT are updating operations, not supported.
 */

import { sqlType } from './connectors.js';
import { Expression } from '../table/expression.js';
import { TableError } from '../table/resolve.js';
import { fail, kids, type SqlNode } from './parser.js';
import type { Catalog, Relation } from './relation.js';

/** True when `q` is `a UNION ... b` (or INTERSECT / EXCEPT). */
export function isSetOperation(q: SqlNode): boolean {
  return q.kind === 'QueryStatement' && q.kids.some((k) => k.kind === 'tok' && ['UNION', 'INTERSECT', 'EXCEPT'].includes(k.text.toUpperCase()));
}

export function unionAll(q: SqlNode, catalog: Catalog, translate: (q: SqlNode, catalog: Catalog) => Relation): Relation {
  const op = q.kids.find((k) => k.kind === 'tok' && ['UNION', 'INTERSECT', 'EXCEPT'].includes(k.text.toUpperCase()))!;
  const toks = q.kids.filter((k) => k.kind === 'tok').map((k) => k.text.toUpperCase());
  const sides = q.kids.filter((k) => k.kind !== 'tok');
  if (op.text.toUpperCase() !== 'UNION' || !toks.includes('ALL')) {
    fail(op, `${toks.join(' ')} is not supported (it removes duplicates: an updating operation); the nearest supported form is UNION ALL`);
  }
  if (sides.length !== 2 || kids(q, 'OrderByClause').length > 0 || q.kids.some((k) => k.kind === 'LimitClause')) fail(op, 'write UNION ALL between two queries: SELECT ... UNION ALL SELECT ...');
  const left = translate(sides[0]!, catalog);
  const right = translate(sides[1]!, catalog);
  const ls = left.table.getSchema();
  const rs = right.table.getSchema();
  const cols = (s: typeof ls): string => s.fields.map((f) => `${f.name} ${sqlType(f.type)}${f.nullable ? '' : ' NOT NULL'}`).join(', ');
  if (ls.fields.length !== rs.fields.length) {
    fail(op, `UNION ALL: the left query has ${ls.fields.length} columns (${cols(ls)}), the right ${rs.fields.length} (${cols(rs)}); select the same number of columns`);
  }
  for (let i = 0; i < ls.fields.length; i++) {
    const l = ls.fields[i]!;
    const r = rs.fields[i]!;
    if (l.type !== r.type || l.nullable !== r.nullable) {
      const fix = l.type !== r.type ? 'CAST one side to the other\'s type' : 'COALESCE the nullable side, so both are NOT NULL';
      fail(op, `UNION ALL: column ${i + 1} is '${l.name}' ${sqlType(l.type)}${l.nullable ? '' : ' NOT NULL'} on the left and '${r.name}' ${sqlType(r.type)}${r.nullable ? '' : ' NOT NULL'} on the right; ${fix}. The left's columns: (${cols(ls)}); the right's: (${cols(rs)})`);
    }
  }
  // The right side's columns renamed to the left's, by position.
  const renamed = rs.fields.some((f, i) => f.name !== ls.fields[i]!.name)
    ? right.table.select(...rs.fields.map((f, i) => new Expression({ k: 'alias', e: { k: 'ref', name: f.name }, name: ls.fields[i]!.name })))
    : right.table;
  let table;
  try {
    table = left.table.unionAll(renamed);
  } catch (e) {
    if (e instanceof TableError) fail(op, e.message.replace(/^unionAll: /, ''));
    throw e;
  }
  // Event time and window bounds stay known when both sides agree on them.
  const rowtime = left.rowtime !== null && right.rowtime !== null && ls.indexOf(left.rowtime) === rs.indexOf(right.rowtime) ? left.rowtime : null;
  const windowEnd = left.windowEnd !== undefined && right.windowEnd !== undefined && ls.indexOf(left.windowEnd) === rs.indexOf(right.windowEnd) ? left.windowEnd : undefined;
  return { table, qualifiers: new Set(), rowtime, ...(windowEnd !== undefined ? { windowEnd } : {}) };
}
