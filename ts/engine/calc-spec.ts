/**
 * The calc operator's specification, shared by both engines: a filter and a list of computed
 * columns over the input's fields, as resolved, typed expression trees (the Table API and SQL
 * plan them; `ts/table` owns the user-facing expressions). Both engines compile a spec once per
 * operator: the native engine into a tree of column kernels (crates/sluice-core/src/calc), the
 * TS engine into generated JavaScript (engine/ts/calc.ts). The tree crosses N-API as JSON.
 *
 * Semantics both engines share (the tests hold them to it):
 * - SQL three-valued logic: null in, null out, except `isNull`/`isNotNull`, `and`/`or`
 *   (Kleene: false AND null = false, true OR null = true), `if` (a null condition takes the
 *   else branch) and `coalesce`.
 * - Evaluation is lazy where SQL code generators are: the right side of `and`/`or` runs only
 *   for rows the left side does not decide, a branch of `if` only for the rows that take it,
 *   the computed columns only for rows the filter keeps. A failing row reports the first error
 *   in row order (then in evaluation order: filter, columns left to right, operands before
 *   their operator).
 * - Integer arithmetic is exact: i32 and i64 overflow, integer division by zero, and a cast
 *   that does not fit are errors with one message on both engines; f64 follows IEEE 754.
 * - Strings are compared by code point; lengths, substrings and LIKE's `_` count code points.
 */

import { Schema, type DataType } from '../batch/schema.js';
import { EngineError } from './errors.js';

/** The scalar functions and operators, by their name in a spec. */
export type CalcOp =
  | 'add' | 'sub' | 'mul' | 'div' | 'mod' | 'neg'
  | 'eq' | 'ne' | 'lt' | 'le' | 'gt' | 'ge'
  | 'and' | 'or' | 'not' | 'isNull' | 'isNotNull'
  /** args[0] among args[1..] (SQL IN: null when no match and any candidate or the value is null). */
  | 'in'
  /** args[0] LIKE `pattern` (`%` any run, `_` one code point, `escape` quotes the next one). */
  | 'like'
  | 'cast'
  /** if(cond, then, else). */
  | 'if'
  | 'coalesce'
  | 'upper' | 'lower' | 'substring' | 'concat' | 'charLength' | 'trim'
  | 'abs' | 'floor' | 'ceil' | 'round'
  /** extract(`unit`, timestamp) -> i64, in UTC. */
  | 'extract';

export type ExtractUnit = 'year' | 'quarter' | 'month' | 'week' | 'day' | 'dayOfWeek' | 'dayOfYear' | 'hour' | 'minute' | 'second' | 'millisecond';
export const EXTRACT_UNITS: readonly ExtractUnit[] = ['year', 'quarter', 'month', 'week', 'day', 'dayOfWeek', 'dayOfYear', 'hour', 'minute', 'second', 'millisecond'];

/**
 * A typed expression node. `t` is the result type, `n` whether it can be null. A literal's
 * value: a number (i32, f64: non-finite values as the strings 'NaN', 'Infinity',
 * '-Infinity'), a decimal string (i64, timestamp: exact for all 64 bits), a boolean, a string
 * (utf8) or null.
 */
export type CalcExpr =
  | { readonly k: 'field'; readonly i: number; readonly t: DataType; readonly n: boolean }
  | { readonly k: 'lit'; readonly t: DataType; readonly n: boolean; readonly v: number | string | boolean | null }
  | {
      readonly k: 'call';
      readonly op: CalcOp;
      readonly t: DataType;
      readonly n: boolean;
      readonly args: readonly CalcExpr[];
      /** The expression as the user wrote it: errors name it. */
      readonly text: string;
      /** like: the pattern; extract: the unit. */
      readonly s?: string;
      /** like: the escape character ('' for none). */
      readonly esc?: string;
    };

/** One output column: a name and how it is computed. */
export interface CalcColumn {
  readonly name: string;
  readonly expr: CalcExpr;
}

export interface CalcSpec {
  /** Rows for which this is true are kept (null and false drop the row); null keeps every row. */
  readonly filter: CalcExpr | null;
  readonly columns: readonly CalcColumn[];
  /** Names the operator in error messages. */
  readonly name: string;
}

/**
 * A filter a source applies to the rows it reads (filter pushdown): a spec with a filter and no
 * columns, over the schema of `fields` (the source's fields the filter reads, in the source's
 * order). The calc it comes from still runs it downstream; the source only saves building the
 * other columns of the rows it drops.
 */
export interface PushedFilter {
  readonly fields: readonly string[];
  readonly spec: CalcSpec;
}

/** The input fields an expression reads. */
export function exprFields(e: CalcExpr, into: Set<number> = new Set()): Set<number> {
  if (e.k === 'field') into.add(e.i);
  else if (e.k === 'call') for (const a of e.args) exprFields(a, into);
  return into;
}

/** `spec` with each field index `i` its expressions read replaced by `to(i)`. */
export function mapCalcFields(spec: CalcSpec, to: (i: number) => number): CalcSpec {
  const map = (e: CalcExpr): CalcExpr => (e.k === 'field' ? { ...e, i: to(e.i) } : e.k === 'call' ? { ...e, args: e.args.map(map) } : e);
  return { name: spec.name, filter: spec.filter === null ? null : map(spec.filter), columns: spec.columns.map((c) => ({ name: c.name, expr: map(c.expr) })) };
}

/**
 * `spec` over only the input fields it reads: `read` (ascending input indices) and the spec
 * with field `read[j]` renumbered `j`, for an evaluator given those columns alone.
 */
export function narrowCalcSpec(spec: CalcSpec): { readonly read: readonly number[]; readonly spec: CalcSpec } {
  const fields = new Set<number>();
  if (spec.filter !== null) exprFields(spec.filter, fields);
  for (const c of spec.columns) exprFields(c.expr, fields);
  const read = [...fields].sort((a, b) => a - b);
  const at = new Map(read.map((i, j) => [i, j]));
  return { read, spec: mapCalcFields(spec, (i) => at.get(i)!) };
}

/** The calc operator's output: one field per column, typed and nullable as its expression. */
export function calcOutputSchema(spec: CalcSpec): Schema {
  return new Schema(spec.columns.map((c) => ({ name: c.name, type: c.expr.t, nullable: c.expr.n })));
}

/** Checks that a spec's fields exist in `input` with the types it says (the planner's contract with the engines). */
export function checkCalcSpec(input: Schema, spec: CalcSpec): void {
  const walk = (e: CalcExpr): void => {
    if (e.k === 'field') {
      const f = input.fields[e.i];
      if (f === undefined || f.type !== e.t) {
        throw new EngineError('config', `${spec.name}: the expression reads field ${e.i} as ${e.t}, but the input is ${input}`);
      }
    } else if (e.k === 'call') e.args.forEach(walk);
  };
  if (spec.filter !== null) {
    if (spec.filter.t !== 'bool') throw new EngineError('config', `${spec.name}: a filter must be a bool expression, got ${spec.filter.t}`);
    walk(spec.filter);
  }
  for (const c of spec.columns) walk(c.expr);
}
