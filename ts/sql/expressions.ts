/**
 * SQL expressions (parse-tree nodes) into the Table API's unresolved expressions
 * (table/expression.ts), so SQL and the Table API share resolution, typing, constant folding
 * and the calc operator. Column references are checked here, against the columns in scope, so
 * that an unknown column is reported at its line and column with the columns there are.
 */

import type { DataType } from '../batch/schema.js';
import type { ExprNode } from '../table/expression.js';
import { nearest } from './errors.js';
import { fail, find, kids, nameParts, unquote, type SqlNode } from './parser.js';

/** What an expression may refer to. */
export interface Scope {
  /** The columns of the input, in order. */
  readonly columns: readonly string[];
  /** Names a column may be qualified with (the table's name and alias). */
  readonly qualifiers: ReadonlySet<string>;
  /** In a grouped window's select: the window's alias; aggregates and window_start/end allowed. */
  readonly window: string | null;
  /** In a GROUP BY's select without a window (an updating aggregation): aggregates allowed. */
  readonly grouped?: boolean;
  /** After a join: each qualifier's columns by their names there -> the joined column. */
  readonly columnsBy?: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** After a join: names both sides have (they must be qualified). */
  readonly ambiguous?: ReadonlySet<string>;
}

const AGGREGATES: Readonly<Record<string, string>> = { COUNT: 'count', SUM: 'sum', MIN: 'min', MAX: 'max', AVG: 'avg', FIRST_VALUE: 'first', LAST_VALUE: 'last' };
const SCALARS: Readonly<Record<string, { op: string; arity: readonly number[] }>> = {
  UPPER: { op: 'upper', arity: [1] },
  LOWER: { op: 'lower', arity: [1] },
  TRIM: { op: 'trim', arity: [1] },
  CHAR_LENGTH: { op: 'charLength', arity: [1] },
  CHARACTER_LENGTH: { op: 'charLength', arity: [1] },
  SUBSTRING: { op: 'substring', arity: [2, 3] },
  SUBSTR: { op: 'substring', arity: [2, 3] },
  CONCAT: { op: 'concat', arity: [] },
  COALESCE: { op: 'coalesce', arity: [] },
  ABS: { op: 'abs', arity: [1] },
  FLOOR: { op: 'floor', arity: [1] },
  CEIL: { op: 'ceil', arity: [1] },
  CEILING: { op: 'ceil', arity: [1] },
  ROUND: { op: 'round', arity: [1, 2] },
  MOD: { op: 'mod', arity: [2] },
};
/** Flink's time-unit functions (HOUR(ts) = EXTRACT(HOUR FROM ts)), UTC. */
const EXTRACTS: Readonly<Record<string, string>> = { YEAR: 'year', QUARTER: 'quarter', MONTH: 'month', WEEK: 'week', DAYOFMONTH: 'day', DAYOFWEEK: 'dayOfWeek', DAYOFYEAR: 'dayOfYear', HOUR: 'hour', MINUTE: 'minute', SECOND: 'second' };
const WINDOW_FNS: Readonly<Record<string, 'windowStart' | 'windowEnd'>> = {
  TUMBLE_START: 'windowStart',
  TUMBLE_END: 'windowEnd',
  HOP_START: 'windowStart',
  HOP_END: 'windowEnd',
  SESSION_START: 'windowStart',
  SESSION_END: 'windowEnd',
};
export const FUNCTIONS: readonly string[] = [...Object.keys(SCALARS), ...Object.keys(AGGREGATES), ...Object.keys(EXTRACTS), ...Object.keys(WINDOW_FNS)];

const UNITS_MS: Readonly<Record<string, number>> = { MILLISECOND: 1, SECOND: 1000, MINUTE: 60_000, HOUR: 3_600_000, DAY: 86_400_000 };

/** An INTERVAL 'n' UNIT literal in ms. */
export function intervalMs(n: SqlNode): number {
  const value = find(n, 'IntervalValue');
  const unit = find(n, 'TimeIntervalUnit');
  if (value === null || unit === null) fail(n, `write an interval as INTERVAL '10' SECOND; got ${n.text}`);
  const v = Number(value.text.replace(/^'|'$/g, ''));
  const u = unit.text.toUpperCase().replace(/S$/, '');
  const ms = UNITS_MS[u];
  if (ms === undefined) fail(unit, `interval unit ${unit.text} is not supported; use one of ${Object.keys(UNITS_MS).join(', ')}`);
  if (!Number.isSafeInteger(v) || v < 0) fail(value, `an interval needs a whole number >= 0, got ${value.text}`);
  return v * ms;
}

/** A SQL type name as a Sluice type. */
export function dataType(n: SqlNode): DataType {
  const name = n.text.trim().toUpperCase().replace(/\s*\(.*$/s, '').replace(/\s+NOT\s+NULL$/, '');
  switch (name) {
    case 'INT':
    case 'INTEGER':
      return 'i32';
    case 'BIGINT':
      return 'i64';
    case 'DOUBLE':
    case 'DOUBLE PRECISION':
      return 'f64';
    case 'BOOLEAN':
      return 'bool';
    case 'STRING':
    case 'VARCHAR':
    case 'CHAR':
      return 'utf8';
    case 'TIMESTAMP':
    case 'TIMESTAMP_LTZ':
      return 'timestamp';
    default: {
      const near: Readonly<Record<string, string>> = { TINYINT: 'INT', SMALLINT: 'INT', FLOAT: 'DOUBLE', REAL: 'DOUBLE', DECIMAL: 'DOUBLE (decimal is not supported)', NUMERIC: 'DOUBLE (decimal is not supported)', DATE: 'TIMESTAMP(3)', TIME: 'TIMESTAMP(3)' };
      fail(n, `type ${n.text} is not supported; the nearest supported type is ${near[name] ?? nearest(name, ['INT', 'BIGINT', 'DOUBLE', 'BOOLEAN', 'STRING', 'TIMESTAMP(3)'])} (supported: INT, BIGINT, DOUBLE, BOOLEAN, STRING/VARCHAR, TIMESTAMP(3))`);
    }
  }
}

const call = (op: string, args: ExprNode[], extra: { s?: string; esc?: string; t?: DataType } = {}): ExprNode => ({ k: 'call', op, args, ...extra });

function stringLit(text: string): string {
  return text.slice(1, -1).replace(/''/g, "'");
}

function number(n: SqlNode, text: string): ExprNode {
  if (/^\d+$/.test(text)) {
    const b = BigInt(text);
    if (b <= 2147483647n) return { k: 'lit', v: Number(b) };
    if (b >= 2n ** 63n) fail(n, `${text} does not fit in BIGINT`);
    return { k: 'lit', v: b, t: 'i64' };
  }
  const v = Number(text);
  if (!Number.isFinite(v)) fail(n, `${text} is not a number`);
  // A decimal literal (0.908) is a DOUBLE here: Sluice has no DECIMAL type.
  return { k: 'lit', v, t: 'f64' };
}

export class ExprTranslator {
  /** Set when an aggregate was translated (a select without GROUP BY may not have one). */
  sawAggregate: SqlNode | null = null;

  constructor(private readonly scope: Scope) {}

  /** A column by its (possibly qualified) name parts. */
  column(n: SqlNode, parts: string[]): ExprNode {
    let name = parts[parts.length - 1]!;
    if (parts.length > 2) fail(n, `${parts.join('.')}: write a column as name or table.name`);
    if (parts.length === 2 && !this.scope.qualifiers.has(parts[0]!)) {
      fail(n, `unknown table '${parts[0]}' in ${parts.join('.')}; the tables here are: ${[...this.scope.qualifiers].join(', ')}`);
    }
    const side = parts.length === 2 ? this.scope.columnsBy?.get(parts[0]!) : undefined;
    if (side !== undefined) {
      const mapped = side.get(name);
      if (mapped === undefined) fail(n, `unknown column '${parts.join('.')}'; the columns of ${parts[0]} are: ${[...side.keys()].join(', ')}`);
      return { k: 'ref', name: mapped };
    }
    if (parts.length === 1 && this.scope.ambiguous?.has(name)) {
      fail(n, `the column '${name}' is on both sides of the join; qualify it (${[...(this.scope.columnsBy?.keys() ?? [])].map((q) => `${q}.${name}`).join(' or ')})`);
    }
    if (this.scope.window !== null) {
      const lower = name.toLowerCase();
      if (lower === 'window_start') return call('windowStart', [{ k: 'ref', name: this.scope.window }]);
      if (lower === 'window_end') return call('windowEnd', [{ k: 'ref', name: this.scope.window }]);
      // The window's last millisecond: its rows' event time (a later window may run on it).
      if (lower === 'window_time' && !this.scope.columns.includes(name)) return call('sub', [call('windowEnd', [{ k: 'ref', name: this.scope.window }]), { k: 'interval', ms: 1 }]);
    }
    if (!this.scope.columns.includes(name)) {
      const ci = this.scope.columns.find((c) => c.toLowerCase() === name.toLowerCase());
      if (ci === undefined) fail(n, `unknown column '${name}'; the columns are: ${this.scope.columns.join(', ')}`);
      name = ci;
    }
    return { k: 'ref', name };
  }

  expr(n: SqlNode): ExprNode {
    switch (n.kind) {
      case 'Expression':
      case 'ValueExpressionDefault':
      case 'ConstantDefault':
      case 'SelectExpressionColumnName':
      case 'FunctionParam':
        if (n.kids.length !== 1) return this.unsupported(n);
        return this.expr(n.kids[0]!);
      case 'ParenthesizedExpression':
        return this.expr(n.kids.find((k) => k.kind !== 'tok')!);
      case 'Predicated': {
        const value = this.expr(n.kids[0]!);
        const p = kids(n, 'Predicate')[0];
        return p === undefined ? value : this.predicate(p, value);
      }
      case 'LogicalBinary': {
        const op = n.kids[1]!.text.toUpperCase();
        if (op !== 'AND' && op !== 'OR') return this.unsupported(n);
        return call(op === 'AND' ? 'and' : 'or', [this.expr(n.kids[0]!), this.expr(n.kids[2]!)]);
      }
      case 'LogicalNot':
        return call('not', [this.expr(n.kids[1]!)]);
      case 'Comparison': {
        const op = n.kids[1]!.text;
        const ops: Record<string, string> = { '=': 'eq', '==': 'eq', '<>': 'ne', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' };
        const o = ops[op];
        if (o === undefined) fail(n.kids[1]!, `comparison ${op} is not supported; use one of =, <>, <, <=, >, >=`);
        return call(o, [this.expr(n.kids[0]!), this.expr(n.kids[2]!)]);
      }
      case 'ArithmeticBinary': {
        const op = n.kids[1]!.text;
        const ops: Record<string, string> = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '%': 'mod', '||': 'concat' };
        const o = ops[op];
        if (o === undefined) fail(n.kids[1]!, `operator ${op} is not supported; use one of +, -, *, /, %, ||`);
        return call(o, [this.expr(n.kids[0]!), this.expr(n.kids[2]!)]);
      }
      case 'ArithmeticUnary': {
        const x = this.expr(n.kids[1]!);
        if (n.kids[0]!.text === '+') return x;
        if (x.k === 'lit' && (typeof x.v === 'number' || typeof x.v === 'bigint')) return { ...x, v: typeof x.v === 'number' ? -x.v : -x.v };
        return call('neg', [x]);
      }
      case 'ColumnReference':
        return this.column(n, nameParts(n));
      case 'SelectLiteralColumnName':
      case 'ColumnName':
        return this.nameOrLiteral(n);
      case 'Constant':
        return this.constant(n);
      case 'SearchedCase':
      case 'SimpleCase':
        return this.caseWhen(n);
      case 'Cast':
        return call('cast', [this.expr(find(n, 'Expression')!)], { t: dataType(kids(n, 'ColumnType')[0]!) });
      case 'FunctionCall':
        return this.expr(n.kids[0]!);
      case 'FunctionCallExpression':
        return this.functionCall(n);
      default:
        return this.unsupported(n);
    }
  }

  private unsupported(n: SqlNode): never {
    const t = n.text.length > 40 ? `${n.text.slice(0, 40)}...` : n.text;
    // Supported units were rewritten into functions before parsing (function-forms.ts).
    if (n.kind === 'Extract') fail(n, `${t}: EXTRACT takes one of the units YEAR, QUARTER, MONTH, WEEK, DAY, DOY, DOW, HOUR, MINUTE, SECOND: EXTRACT(HOUR FROM ts)`);
    fail(n, `'${t}' (${n.kind}) is not supported in Sluice's SQL; supported: columns, literals, + - * / % ||, comparisons, AND/OR/NOT, IS [NOT] NULL, [NOT] IN, [NOT] BETWEEN, [NOT] LIKE, CASE, CAST and the functions ${FUNCTIONS.join(', ')}`);
  }

  /** The grammar reads some select items as a column name: a quoted string or a number there is a literal. */
  private nameOrLiteral(n: SqlNode): ExprNode {
    const text = n.text.trim();
    if (text.startsWith("'")) return { k: 'lit', v: stringLit(text) };
    if (/^\d/.test(text)) return number(n, text);
    return this.column(n, nameParts(n));
  }

  private constant(n: SqlNode): ExprNode {
    const k = n.kids[0]!;
    switch (k.kind) {
      case 'DecimalLiteral':
        return number(k, k.text);
      case 'StringLiteral':
        // The grammar reads a backquoted name in an expression as a string literal.
        if (k.text.startsWith('`')) return this.column(k, [unquote(k.text)]);
        return { k: 'lit', v: stringLit(k.text) };
      case 'BooleanLiteral':
        return { k: 'lit', v: k.text.toUpperCase() === 'TRUE' };
      case 'TimeIntervalExpression':
        return { k: 'interval', ms: intervalMs(k) };
      case 'tok': {
        const t = k.text.toUpperCase();
        if (t === 'NULL') return { k: 'lit', v: null };
        if (/^[\d.]/.test(t)) return number(k, k.text);
        if (t.startsWith('`')) return this.column(k, [unquote(k.text)]);
        return this.unsupported(n);
      }
      default:
        return this.unsupported(n);
    }
  }

  private predicate(p0: SqlNode, value: ExprNode): ExprNode {
    // [NOT] LIKE comes as Predicate(LikePredicate(...)).
    const like = kids(p0, 'LikePredicate')[0];
    const p = like === undefined ? p0 : { ...like, kids: [...p0.kids.filter((k) => k.kind === 'tok'), ...like.kids] };
    const toks = p.kids.filter((k) => k.kind === 'tok').map((k) => k.text.toUpperCase());
    const not = toks.includes('NOT');
    const neg = (e: ExprNode): ExprNode => (not ? call('not', [e]) : e);
    const exprs = p.kids.filter((k) => k.kind !== 'tok');
    if (toks[0] === 'IS') {
      if (toks.includes('NULL')) return call(not ? 'isNotNull' : 'isNull', [value]);
      if (toks.includes('TRUE') || toks.includes('FALSE')) {
        // IS TRUE / IS FALSE are never null.
        const want = toks.includes('TRUE');
        const isIt = call('and', [call('isNotNull', [value]), want ? value : call('not', [value])]);
        return neg(call('coalesce', [isIt, { k: 'lit', v: false }]));
      }
    }
    if (toks.includes('BETWEEN')) {
      if (toks.includes('SYMMETRIC')) fail(p, 'BETWEEN SYMMETRIC is not supported; use BETWEEN low AND high');
      const lo = this.expr(exprs[0]!);
      const hi = this.expr(exprs[1]!);
      return neg(call('and', [call('ge', [value, lo]), call('le', [value, hi])]));
    }
    if (toks.includes('IN')) {
      if (find(p, 'QueryStatement') !== null) fail(p, 'IN (subquery) is not supported; list the values: x IN (1, 2, 3)');
      return neg(call('in', [value, ...exprs.map((e) => this.expr(e))]));
    }
    if (toks.includes('LIKE')) {
      const pattern = this.expr(exprs[0]!);
      if (pattern.k !== 'lit' || typeof pattern.v !== 'string') fail(exprs[0]!, 'LIKE needs a string literal pattern');
      let esc = '';
      if (toks.includes('ESCAPE')) {
        const e = this.expr(exprs[1]!);
        if (e.k !== 'lit' || typeof e.v !== 'string' || [...e.v].length !== 1) fail(exprs[1]!, 'ESCAPE needs one character');
        esc = e.v;
      }
      return neg(call('like', [value], { s: pattern.v, esc }));
    }
    fail(p, `'${p.text}' is not supported; supported predicates: IS [NOT] NULL, IS [NOT] TRUE/FALSE, [NOT] BETWEEN, [NOT] IN (values), [NOT] LIKE`);
  }

  private caseWhen(n: SqlNode): ExprNode {
    const whens = kids(n, 'WhenClause');
    const elseIdx = n.kids.findIndex((k) => k.kind === 'tok' && k.text.toUpperCase() === 'ELSE');
    let out: ExprNode = elseIdx < 0 ? { k: 'lit', v: null } : this.expr(n.kids[elseIdx + 1]!);
    // CASE x WHEN v ...: the operand comes before the first WHEN.
    const operand = n.kind === 'SimpleCase' ? this.expr(n.kids[1]!) : null;
    for (let i = whens.length - 1; i >= 0; i--) {
      const w = whens[i]!.kids.filter((k) => k.kind !== 'tok');
      const cond0 = this.expr(w[0]!);
      const cond = operand === null ? cond0 : call('eq', [operand, cond0]);
      out = call('if', [cond, this.expr(w[1]!), out]);
    }
    return out;
  }

  private functionCall(n: SqlNode): ExprNode {
    const nameNode = n.kids[0]!;
    const name = nameParts(nameNode).join('.').toUpperCase();
    const params = kids(n, 'FunctionParam');
    const distinct = kids(n, 'SetQuantifier').some((q) => q.text.toUpperCase() === 'DISTINCT');
    const agg = AGGREGATES[name];
    if (agg !== undefined) {
      if (this.scope.window === null && this.scope.grouped !== true) {
        fail(n, `${name}(...) without GROUP BY: add GROUP BY keys (an updating aggregation), or aggregate over a window TVF, e.g. FROM TABLE(TUMBLE(TABLE t, DESCRIPTOR(ts), INTERVAL '10' SECOND)) GROUP BY window_start, window_end`);
      }
      this.sawAggregate ??= n;
      if (params.length !== 1) fail(n, `${name} takes one argument`);
      const star = params[0]!.text.trim() === '*';
      if (star) {
        if (name !== 'COUNT') fail(params[0]!, `${name}(*) is not valid; only COUNT(*)`);
        return { k: 'call', op: 'agg', args: [{ k: 'lit', v: 1 }], s: 'count' };
      }
      const arg = this.expr(params[0]!);
      if (distinct && name !== 'COUNT') fail(n, `${name}(DISTINCT ...) is not supported; only COUNT(DISTINCT x)`);
      return { k: 'call', op: 'agg', args: [arg], s: distinct ? 'countDistinct' : agg };
    }
    if (distinct) fail(n, `DISTINCT is only supported in COUNT(DISTINCT x)`);
    const win = WINDOW_FNS[name];
    if (win !== undefined) {
      if (this.scope.window === null) fail(n, `${name} belongs to a GROUP BY ${name.replace(/_(START|END)$/, '')}(...) window`);
      return call(win, [{ k: 'ref', name: this.scope.window }]);
    }
    const args = params.map((p) => this.expr(p));
    const ex = EXTRACTS[name];
    if (ex !== undefined) {
      if (args.length !== 1) fail(n, `${name} takes one argument (a timestamp)`);
      return call('extract', args, { s: ex });
    }
    const s = SCALARS[name];
    if (s === undefined) {
      fail(nameNode, `unknown function ${name}; the nearest supported one is ${nearest(name, FUNCTIONS)} (supported: ${FUNCTIONS.join(', ')})`);
    }
    if (s.arity.length > 0 && !s.arity.includes(args.length)) fail(n, `${name} takes ${s.arity.join(' or ')} arguments, got ${args.length}`);
    if (s.op === 'round' && args.length === 2) {
      const d = args[1]!;
      if (d.k !== 'lit' || typeof d.v !== 'number') fail(params[1]!, 'ROUND(x, digits): digits must be an integer literal');
    }
    return call(s.op, args);
  }
}
