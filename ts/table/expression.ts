/**
 * Table API expressions, named as in Flink's Java Table API: `$('price').times(lit(0.908))`,
 * `$('name').upperCase()`, `ifThenElse(c, a, b)`. An expression is an unresolved tree; a
 * Table resolves it against its schema (table/resolve.ts), which types it and folds constants.
 */

import type { DataType } from '../batch/schema.js';
import type { ExtractUnit } from '../engine/calc-spec.js';

/** The unresolved tree. */
export type ExprNode =
  | { readonly k: 'ref'; readonly name: string }
  | { readonly k: 'lit'; readonly v: number | bigint | string | boolean | null; readonly t?: DataType }
  /** An interval literal (ms): `lit(10).seconds()`. */
  | { readonly k: 'interval'; readonly ms: number }
  | { readonly k: 'call'; readonly op: string; readonly args: readonly ExprNode[]; readonly s?: string; readonly esc?: string; readonly t?: DataType }
  | { readonly k: 'alias'; readonly e: ExprNode; readonly name: string };

/** A value usable where an expression is: an Expression, or a JavaScript literal. */
export type ExprLike = Expression | number | bigint | string | boolean | null;

export function toNode(x: ExprLike): ExprNode {
  if (x instanceof Expression) return x.node;
  return { k: 'lit', v: x };
}

export class Expression {
  /** @internal */
  constructor(readonly node: ExprNode) {}

  private call(op: string, ...args: ExprLike[]): Expression {
    return new Expression({ k: 'call', op, args: [this.node, ...args.map(toNode)] });
  }

  /** Names the expression's column (`select($('a').plus(1).as('b'))`) or renames one (`renameColumns`). */
  as(name: string): Expression {
    return new Expression({ k: 'alias', e: this.node, name });
  }

  plus(o: ExprLike): Expression {
    return this.call('add', o);
  }
  minus(o: ExprLike): Expression {
    return this.call('sub', o);
  }
  times(o: ExprLike): Expression {
    return this.call('mul', o);
  }
  dividedBy(o: ExprLike): Expression {
    return this.call('div', o);
  }
  mod(o: ExprLike): Expression {
    return this.call('mod', o);
  }
  negate(): Expression {
    return this.call('neg');
  }

  isEqual(o: ExprLike): Expression {
    return this.call('eq', o);
  }
  isNotEqual(o: ExprLike): Expression {
    return this.call('ne', o);
  }
  isLess(o: ExprLike): Expression {
    return this.call('lt', o);
  }
  isLessOrEqual(o: ExprLike): Expression {
    return this.call('le', o);
  }
  isGreater(o: ExprLike): Expression {
    return this.call('gt', o);
  }
  isGreaterOrEqual(o: ExprLike): Expression {
    return this.call('ge', o);
  }

  and(o: ExprLike): Expression {
    return this.call('and', o);
  }
  or(o: ExprLike): Expression {
    return this.call('or', o);
  }
  not(): Expression {
    return this.call('not');
  }
  isNull(): Expression {
    return this.call('isNull');
  }
  isNotNull(): Expression {
    return this.call('isNotNull');
  }
  /** SQL IN: true when equal to one of `values`; null when none is and a value (or this) is null. */
  in(...values: ExprLike[]): Expression {
    return this.call('in', ...values);
  }
  /** lower <= this AND this <= upper. */
  between(lower: ExprLike, upper: ExprLike): Expression {
    return this.isGreaterOrEqual(lower).and(this.isLessOrEqual(upper));
  }
  notBetween(lower: ExprLike, upper: ExprLike): Expression {
    return this.between(lower, upper).not();
  }
  /** SQL LIKE: `%` any run of characters, `_` one; `escape` quotes the next character. */
  like(pattern: string, escape = ''): Expression {
    return new Expression({ k: 'call', op: 'like', args: [this.node], s: pattern, esc: escape });
  }
  cast(type: DataType): Expression {
    return new Expression({ k: 'call', op: 'cast', args: [this.node], t: type });
  }

  upperCase(): Expression {
    return this.call('upper');
  }
  lowerCase(): Expression {
    return this.call('lower');
  }
  /** SQL SUBSTRING: 1-based, `length` code points (to the end when omitted). */
  substring(start: ExprLike, length?: ExprLike): Expression {
    return length === undefined ? this.call('substring', start) : this.call('substring', start, length);
  }
  charLength(): Expression {
    return this.call('charLength');
  }
  trim(): Expression {
    return this.call('trim');
  }

  abs(): Expression {
    return this.call('abs');
  }
  floor(): Expression {
    return this.call('floor');
  }
  ceil(): Expression {
    return this.call('ceil');
  }
  /** Half away from zero at `digits` decimal places (an integer literal). */
  round(digits = 0): Expression {
    return this.call('round', digits);
  }

  /** EXTRACT(unit FROM this), UTC. */
  extract(unit: ExtractUnit): Expression {
    return new Expression({ k: 'call', op: 'extract', args: [this.node], s: unit });
  }
  /** An i64 of epoch milliseconds as a timestamp. */
  toTimestamp(): Expression {
    return this.cast('timestamp');
  }
  /** A timestamp as i64 epoch milliseconds. */
  toEpochMillis(): Expression {
    return this.cast('i64');
  }

  /** Aggregates, for a grouped window's select: `$('price').sum().as('total')`. */
  sum(): Expression {
    return this.agg('sum');
  }
  count(): Expression {
    return this.agg('count');
  }
  min(): Expression {
    return this.agg('min');
  }
  max(): Expression {
    return this.agg('max');
  }
  avg(): Expression {
    return this.agg('avg');
  }
  countDistinct(): Expression {
    return this.agg('countDistinct');
  }
  firstValue(): Expression {
    return this.agg('first');
  }
  lastValue(): Expression {
    return this.agg('last');
  }
  private agg(kind: string): Expression {
    return new Expression({ k: 'call', op: 'agg', args: [this.node], s: kind });
  }

  /** The start of the group window this names (`$('w').start()`), a timestamp. */
  start(): Expression {
    return new Expression({ k: 'call', op: 'windowStart', args: [this.node] });
  }
  /** The end of the group window this names (exclusive), a timestamp. */
  end(): Expression {
    return new Expression({ k: 'call', op: 'windowEnd', args: [this.node] });
  }

  /** An interval of this many milliseconds (this is a number literal). */
  milliseconds(): Expression {
    return this.interval(1);
  }
  seconds(): Expression {
    return this.interval(1000);
  }
  minutes(): Expression {
    return this.interval(60_000);
  }
  hours(): Expression {
    return this.interval(3_600_000);
  }
  days(): Expression {
    return this.interval(86_400_000);
  }

  private interval(unitMs: number): Expression {
    const n = this.node;
    if (n.k !== 'lit' || typeof n.v !== 'number' || !Number.isSafeInteger(n.v * unitMs)) {
      throw new TypeError(`an interval needs a whole-number literal, e.g. lit(10).seconds(); got ${render(n)}`);
    }
    return new Expression({ k: 'interval', ms: n.v * unitMs });
  }
}

/** A column of the table (Flink's `$`). */
export function $(name: string): Expression {
  return new Expression({ k: 'ref', name });
}

/** A literal; `type` fixes its type (e.g. lit(5, 'i64')), else it is inferred (integers: i32 when they fit, else i64; other numbers: f64). */
export function lit(value: number | bigint | string | boolean | null, type?: DataType): Expression {
  return new Expression(type === undefined ? { k: 'lit', v: value } : { k: 'lit', v: value, t: type });
}

/** CASE WHEN condition THEN ifTrue ELSE ifFalse END. */
export function ifThenElse(condition: ExprLike, ifTrue: ExprLike, ifFalse: ExprLike): Expression {
  return new Expression({ k: 'call', op: 'if', args: [toNode(condition), toNode(ifTrue), toNode(ifFalse)] });
}

/** String concatenation; null when any operand is null. */
export function concat(...args: ExprLike[]): Expression {
  return new Expression({ k: 'call', op: 'concat', args: args.map(toNode) });
}

/** The first operand that is not null. */
export function coalesce(...args: ExprLike[]): Expression {
  return new Expression({ k: 'call', op: 'coalesce', args: args.map(toNode) });
}

export function and(...args: ExprLike[]): Expression {
  return args.map((a) => new Expression(toNode(a))).reduce((a, b) => a.and(b));
}

export function or(...args: ExprLike[]): Expression {
  return args.map((a) => new Expression(toNode(a))).reduce((a, b) => a.or(b));
}

const SYMBOL: Readonly<Record<string, string>> = { add: '+', sub: '-', mul: '*', div: '/', mod: '%', eq: '=', ne: '<>', lt: '<', le: '<=', gt: '>', ge: '>=', and: 'AND', or: 'OR' };
const FN: Readonly<Record<string, string>> = { upper: 'UPPER', lower: 'LOWER', trim: 'TRIM', charLength: 'CHAR_LENGTH', abs: 'ABS', floor: 'FLOOR', ceil: 'CEIL', round: 'ROUND', concat: 'CONCAT', coalesce: 'COALESCE', substring: 'SUBSTRING' };

/** An expression as SQL-like text (errors and explain() name expressions this way). */
export function render(n: ExprNode): string {
  switch (n.k) {
    case 'ref':
      return n.name;
    case 'lit':
      return n.v === null ? 'NULL' : typeof n.v === 'string' ? `'${n.v.replace(/'/g, "''")}'` : String(n.v);
    case 'interval':
      return `INTERVAL '${n.ms}' MILLISECOND`;
    case 'alias':
      return `${render(n.e)} AS ${n.name}`;
    case 'call': {
      const a = n.args.map(render);
      const sym = SYMBOL[n.op];
      if (sym !== undefined) return `(${a[0]} ${sym} ${a[1]})`;
      switch (n.op) {
        case 'neg':
          return `-${a[0]}`;
        case 'not':
          return `NOT ${a[0]}`;
        case 'isNull':
          return `${a[0]} IS NULL`;
        case 'isNotNull':
          return `${a[0]} IS NOT NULL`;
        case 'in':
          return `${a[0]} IN (${a.slice(1).join(', ')})`;
        case 'like':
          return `${a[0]} LIKE '${n.s!.replace(/'/g, "''")}'`;
        case 'cast':
          return `CAST(${a[0]} AS ${n.t})`;
        case 'if':
          return `CASE WHEN ${a[0]} THEN ${a[1]} ELSE ${a[2]} END`;
        case 'extract':
          return `EXTRACT(${n.s} FROM ${a[0]})`;
        case 'agg':
          return `${n.s === 'countDistinct' ? 'COUNT(DISTINCT ' : `${n.s!.toUpperCase()}(`}${a[0]})`;
        case 'windowStart':
        case 'windowEnd':
          return `${n.op === 'windowStart' ? 'START' : 'END'}(${a[0]})`;
        default:
          return `${FN[n.op] ?? n.op}(${a.join(', ')})`;
      }
    }
  }
}

/** Counts rows: `count(*)` in a grouped window's select (Flink's `lit(1).count()`). */
export function countStar(): Expression {
  return new Expression({ k: 'call', op: 'agg', args: [{ k: 'lit', v: 1 }], s: 'count' });
}
