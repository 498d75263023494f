/**
 * A grouped select's expressions split into what the aggregation computes (Flink's
 * AggregateCall) and what is computed from its results: shared by the window aggregation and
 * the updating one, which differ only in what a reference to the window means.
 */

import type { AggKind } from '../engine/engine.js';
import type { Expression, ExprNode } from './expression.js';
import { TableError } from './resolve.js';

export interface AggregateCall {
  readonly name: string;
  readonly kind: AggKind;
  /** The input column aggregated; null for COUNT(*). */
  readonly arg: string | null;
}

export interface AggregateSplit {
  readonly aggs: readonly AggregateCall[];
  /** Arguments that are expressions, as columns `$argN` computed before the aggregation. */
  readonly argCols: readonly { readonly name: string; readonly expr: ExprNode }[];
  /** The select's columns over the keys and the aggregates' results (`EXPR$aggN`). */
  readonly post: readonly { readonly name: string; readonly expr: ExprNode }[];
}

/**
 * Splits `exprs` grouped by `keys` over `columns`. `windowCall` rewrites `windowStart` /
 * `windowEnd` calls (or throws when there is no window); `windowAlias` names the window, which
 * is not a value itself.
 */
export function splitAggregates(
  exprs: readonly Expression[],
  keys: readonly string[],
  columns: readonly string[],
  windowCall: (n: Extract<ExprNode, { k: 'call' }>) => ExprNode,
  windowAlias: string | null,
): AggregateSplit {
  const names = new Set(columns);
  const argCols: { name: string; expr: ExprNode }[] = [];
  const aggs: AggregateCall[] = [];
  const rewrite = (n: ExprNode): ExprNode => {
    switch (n.k) {
      case 'ref':
        if (keys.includes(n.name)) return n;
        if (n.name === windowAlias) throw new TableError(`select: the window '${windowAlias}' is not a value; use $('${windowAlias}').start() or .end()`);
        if (!names.has(n.name)) throw new TableError(`select: unknown column '${n.name}'; the columns are: ${columns.join(', ')}`);
        throw new TableError(`select: the column '${n.name}' is neither grouped nor aggregated; add it to groupBy or aggregate it (e.g. $('${n.name}').max())`);
      case 'alias':
        return { ...n, e: rewrite(n.e) };
      case 'call': {
        if (n.op === 'windowStart' || n.op === 'windowEnd') return windowCall(n);
        if (n.op === 'agg') {
          const a = n.args[0]!;
          const kind = n.s as AggKind;
          let arg: string | null;
          if (kind === 'count' && a.k === 'lit' && a.v !== null) arg = null;
          else if (a.k === 'ref' && names.has(a.name)) arg = a.name;
          else {
            arg = `$arg${argCols.length}`;
            argCols.push({ name: arg, expr: a });
          }
          const name = `EXPR$agg${aggs.length}`;
          aggs.push({ name, kind, arg });
          return { k: 'ref', name };
        }
        return { ...n, args: n.args.map(rewrite) };
      }
      default:
        return n;
    }
  };
  const post = exprs.map((x, k) => {
    const n = x.node;
    const name = n.k === 'alias' ? n.name : n.k === 'ref' ? n.name : `EXPR$${k}`;
    return { name, expr: rewrite(n.k === 'alias' ? n.e : n) };
  });
  return { aggs, argCols, post };
}
