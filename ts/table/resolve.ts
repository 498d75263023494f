/**
 * Resolution: an unresolved expression (table/expression.ts) against a schema becomes a typed
 * calc expression (engine/calc-spec.ts). Types follow the record schema: integer arithmetic
 * widens i32 -> i64 -> f64, comparisons promote to a common type, timestamps take intervals,
 * and the engines only ever see operands of one type (the casts are explicit in the tree).
 * Constant sub-expressions are folded here, except where folding would hide a runtime error.
 */

import { Buffer } from 'node:buffer';
import type { DataType, Schema } from '../batch/schema.js';
import { EXTRACT_UNITS, type CalcExpr, type CalcOp, type ExtractUnit } from '../engine/calc-spec.js';
import { render, type ExprNode } from './expression.js';

export class TableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TableError';
  }
}

type Call = CalcExpr & { k: 'call' };

const NUMERIC: readonly DataType[] = ['i32', 'i64', 'f64'];
const isNum = (t: DataType): boolean => NUMERIC.includes(t);
const isInt = (t: DataType): boolean => t === 'i32' || t === 'i64';

function wider(a: DataType, b: DataType): DataType {
  return NUMERIC[Math.max(NUMERIC.indexOf(a), NUMERIC.indexOf(b))]!;
}

const nullable = (args: readonly CalcExpr[]): boolean => args.some((a) => a.n);

function litOf(v: number | bigint | string | boolean | null, t: DataType | undefined, text: string): CalcExpr {
  if (v === null) return { k: 'lit', t: t ?? 'i32', n: true, v: null };
  if (t !== undefined) {
    switch (t) {
      case 'i64':
      case 'timestamp':
        if (typeof v !== 'bigint' && !(typeof v === 'number' && Number.isSafeInteger(v))) throw new TableError(`${text}: lit(${String(v)}, '${t}') needs a whole number`);
        return { k: 'lit', t, n: false, v: String(v) };
      case 'i32':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) throw new TableError(`${text}: ${String(v)} is not an i32`);
        return { k: 'lit', t, n: false, v };
      case 'f64':
        if (typeof v !== 'number') throw new TableError(`${text}: ${String(v)} is not an f64`);
        return f64Lit(v);
      case 'bool':
        if (typeof v !== 'boolean') throw new TableError(`${text}: ${String(v)} is not a bool`);
        return { k: 'lit', t, n: false, v };
      case 'utf8':
        if (typeof v !== 'string') throw new TableError(`${text}: ${String(v)} is not a string`);
        return { k: 'lit', t, n: false, v };
    }
  }
  if (typeof v === 'bigint') {
    if (v < -(2n ** 63n) || v >= 2n ** 63n) throw new TableError(`${text}: ${v} does not fit in i64`);
    return { k: 'lit', t: 'i64', n: false, v: String(v) };
  }
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= -2147483648 && v <= 2147483647 && !Object.is(v, -0)) return { k: 'lit', t: 'i32', n: false, v };
    if (Number.isSafeInteger(v)) return { k: 'lit', t: 'i64', n: false, v: String(v) };
    return f64Lit(v);
  }
  if (typeof v === 'string') return { k: 'lit', t: 'utf8', n: false, v };
  return { k: 'lit', t: 'bool', n: false, v };
}

function f64Lit(v: number): CalcExpr {
  return { k: 'lit', t: 'f64', n: false, v: Number.isFinite(v) ? v : String(v) };
}

/** `e` as type `t` (a cast node unless it already is; literals convert at once). */
export function castTo(e: CalcExpr, t: DataType, text: string): CalcExpr {
  if (e.t === t) return e;
  if (e.k === 'lit') {
    if (e.v === null) return { ...e, t };
    if (t === 'f64' && (e.t === 'i32' || e.t === 'i64')) return f64Lit(Number(e.v));
    if (t === 'i64' && e.t === 'i32') return { k: 'lit', t, n: false, v: String(e.v) };
  }
  return { k: 'call', op: 'cast', t, n: e.n, args: [e], text };
}

const CASTS: Readonly<Record<DataType, readonly DataType[]>> = {
  i32: ['i64', 'f64', 'bool', 'utf8', 'timestamp'],
  i64: ['i32', 'f64', 'bool', 'utf8', 'timestamp'],
  f64: ['i32', 'i64', 'bool', 'utf8', 'timestamp'],
  bool: ['i32', 'i64', 'f64', 'utf8'],
  utf8: ['i32', 'i64', 'f64', 'bool', 'timestamp'],
  timestamp: ['i64', 'utf8', 'f64'],
};

/** Resolves `node` against `schema`; `where` names the operation in errors. */
export function resolve(node: ExprNode, schema: Schema, where: string): CalcExpr {
  return new Resolver(schema, where).go(node);
}

class Resolver {
  constructor(
    private readonly schema: Schema,
    private readonly where: string,
  ) {}

  fail(n: ExprNode, what: string): never {
    throw new TableError(`${this.where}: ${render(n)}: ${what}`);
  }

  go(n: ExprNode): CalcExpr {
    switch (n.k) {
      case 'ref': {
        if (!this.schema.has(n.name)) {
          throw new TableError(`${this.where}: unknown column '${n.name}'; the columns are: ${this.schema.names().join(', ')}`);
        }
        const i = this.schema.indexOf(n.name);
        const f = this.schema.fields[i]!;
        return { k: 'field', i, t: f.type, n: f.nullable };
      }
      case 'lit':
        return litOf(n.v, n.t, `${this.where}: ${render(n)}`);
      case 'interval':
        return { k: 'lit', t: 'i64', n: false, v: String(n.ms) };
      case 'alias':
        return this.go(n.e);
      case 'call':
        return fold(this.call(n));
    }
  }

  private call(n: ExprNode & { k: 'call' }): CalcExpr {
    const text = render(n);
    const args = n.args.map((a) => this.go(a));
    const op = n.op;
    const mk = (o: CalcOp, t: DataType, as: readonly CalcExpr[], nul = nullable(as), extra: { s?: string; esc?: string } = {}): Call => ({ k: 'call', op: o, t, n: nul, args: as, text, ...extra });
    const types = args.map((a) => a.t).join(', ');
    switch (op) {
      case 'add':
      case 'sub': {
        const [a, b] = args as [CalcExpr, CalcExpr];
        // Timestamp plus or minus an interval (ms): in i64, then back.
        if (a.t === 'timestamp' && isInt(b.t) && n.args[1]!.k === 'interval') {
          const sum = mk(op, 'i64', [castTo(a, 'i64', text), castTo(b, 'i64', text)]);
          return castTo(sum, 'timestamp', text);
        }
        if (a.t === 'timestamp' && b.t === 'timestamp' && op === 'sub') return mk('sub', 'i64', [castTo(a, 'i64', text), castTo(b, 'i64', text)]);
        return this.arith(n, op, args, mk);
      }
      case 'mul':
      case 'div':
      case 'mod':
        return this.arith(n, op, args, mk);
      case 'neg':
      case 'abs':
        if (!isNum(args[0]!.t)) this.fail(n, `needs a number, got ${types}`);
        return mk(op, args[0]!.t, args);
      case 'floor':
      case 'ceil':
        if (!isNum(args[0]!.t)) this.fail(n, `needs a number, got ${types}`);
        return mk(op, args[0]!.t, args);
      case 'round': {
        const [x, d] = args as [CalcExpr, CalcExpr];
        if (!isNum(x.t)) this.fail(n, `needs a number, got ${x.t}`);
        if (d.k !== 'lit' || d.t !== 'i32' || typeof d.v !== 'number' || Math.abs(d.v) > 15) this.fail(n, 'the digits must be an integer literal between -15 and 15');
        if (x.t !== 'f64' && d.v < 0) this.fail(n, 'rounding an integer to negative digits is not supported; cast it to f64 first');
        return mk('round', x.t, [x, d], x.n);
      }
      case 'eq':
      case 'ne':
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge': {
        const [a, b] = this.common(n, args) as [CalcExpr, CalcExpr];
        if (a.t === 'bool' && op !== 'eq' && op !== 'ne') this.fail(n, 'booleans compare only with = and <>');
        return mk(op, 'bool', [a, b]);
      }
      case 'and':
      case 'or':
      case 'not':
        for (const a of args) if (a.t !== 'bool') this.fail(n, `needs bool operands, got ${types}`);
        return mk(op, 'bool', args);
      case 'isNull':
      case 'isNotNull':
        return mk(op, 'bool', args, false);
      case 'in': {
        const all = this.common(n, args);
        return mk('in', 'bool', all);
      }
      case 'like':
        if (args[0]!.t !== 'utf8') this.fail(n, `LIKE needs a string, got ${args[0]!.t}`);
        if ((n.esc ?? '').length > 1) this.fail(n, 'the escape must be one character');
        return mk('like', 'bool', args, args[0]!.n, { s: n.s!, esc: n.esc ?? '' });
      case 'cast': {
        const to = n.t!;
        const from = args[0]!.t;
        if (from !== to && !CASTS[from].includes(to)) this.fail(n, `no cast from ${from} to ${to}; casts from ${from} go to ${CASTS[from].join(', ')}`);
        if (from === to) return args[0]!;
        // A cast to timestamp from a number goes through i64 (epoch ms).
        if (to === 'timestamp' && from !== 'i64' && from !== 'utf8') return mk('cast', 'timestamp', [mk('cast', 'i64', args)]);
        if (to === 'timestamp' && from === 'utf8') this.fail(n, 'text to timestamp is not supported yet; parse it as i64 epoch ms');
        return mk('cast', to, args);
      }
      case 'if': {
        const [c, a, b] = args as [CalcExpr, CalcExpr, CalcExpr];
        if (c.t !== 'bool') this.fail(n, `the condition must be bool, got ${c.t}`);
        const [x, y] = this.common(n, [a, b]) as [CalcExpr, CalcExpr];
        return mk('if', x.t, [c, x, y], x.n || y.n);
      }
      case 'coalesce': {
        const all = this.common(n, args);
        return mk('coalesce', all[0]!.t, all, all.every((a) => a.n));
      }
      case 'upper':
      case 'lower':
      case 'trim':
        if (args[0]!.t !== 'utf8') this.fail(n, `needs a string, got ${types}`);
        return mk(op, 'utf8', args);
      case 'charLength':
        if (args[0]!.t !== 'utf8') this.fail(n, `needs a string, got ${types}`);
        return mk(op, 'i32', args);
      case 'concat':
        if (args.length === 0) this.fail(n, 'needs at least one operand');
        for (const a of args) if (a.t !== 'utf8') this.fail(n, `needs strings, got ${types}; CAST the others to utf8`);
        return mk(op, 'utf8', args);
      case 'substring': {
        if (args[0]!.t !== 'utf8') this.fail(n, `needs a string, got ${args[0]!.t}`);
        for (const a of args.slice(1)) if (a.t !== 'i32') this.fail(n, `the start and length must be i32, got ${types}`);
        return mk(op, 'utf8', args);
      }
      case 'extract': {
        if (args[0]!.t !== 'timestamp') this.fail(n, `needs a timestamp, got ${types}`);
        if (!EXTRACT_UNITS.includes(n.s as ExtractUnit)) this.fail(n, `unknown unit '${n.s}'; use one of ${EXTRACT_UNITS.join(', ')}`);
        return mk('extract', 'i64', args, args[0]!.n, { s: n.s! });
      }
    }
    if (op === 'agg' || op === 'windowStart' || op === 'windowEnd') this.fail(n, "aggregates and window bounds belong in a grouped window's select: table.window(...).groupBy($('w'), ...).select(...)");
    return this.fail(n, `unknown function '${op}'`);
  }

  private arith(n: ExprNode, op: string, args: readonly CalcExpr[], mk: (o: CalcOp, t: DataType, as: readonly CalcExpr[]) => Call): CalcExpr {
    const [a, b] = args as [CalcExpr, CalcExpr];
    if (!isNum(a.t) || !isNum(b.t)) this.fail(n, `needs numbers, got ${a.t} and ${b.t}`);
    const t = wider(a.t, b.t);
    const text = render(n);
    return mk(op as CalcOp, t, [castTo(a, t, text), castTo(b, t, text)]);
  }

  /** Operands promoted to one type (numbers widen; other types must agree; a null literal takes the others' type). */
  private common(n: ExprNode, args: readonly CalcExpr[]): CalcExpr[] {
    const typed = args.filter((a) => !(a.k === 'lit' && a.v === null));
    if (typed.length === 0) return [...args];
    let t = typed[0]!.t;
    for (const a of typed) {
      if (a.t === t) continue;
      if (isNum(a.t) && isNum(t)) t = wider(a.t, t);
      else this.fail(n, `cannot compare or combine ${t} with ${a.t}; CAST one of them`);
    }
    const text = render(n);
    return args.map((a) => castTo(a, t, text));
  }
}

const isLit = (e: CalcExpr): e is CalcExpr & { k: 'lit' } => e.k === 'lit';
const isTrue = (e: CalcExpr): boolean => isLit(e) && e.v === true;
const isFalse = (e: CalcExpr): boolean => isLit(e) && e.v === false;

/**
 * Constant folding of what cannot fail: logic with a constant side, comparisons and string
 * functions of literals, IF with a constant condition. Arithmetic on literals is folded only
 * when exact (integer overflow and division by zero stay runtime errors, as SQL has them).
 */
function fold(e: CalcExpr): CalcExpr {
  if (e.k !== 'call') return e;
  const a = e.args;
  switch (e.op) {
    case 'and':
      if (isFalse(a[0]!) || isFalse(a[1]!)) return { k: 'lit', t: 'bool', n: false, v: false };
      if (isTrue(a[0]!)) return a[1]!;
      if (isTrue(a[1]!)) return a[0]!;
      return e;
    case 'or':
      if (isTrue(a[0]!) || isTrue(a[1]!)) return { k: 'lit', t: 'bool', n: false, v: true };
      if (isFalse(a[0]!)) return a[1]!;
      if (isFalse(a[1]!)) return a[0]!;
      return e;
    case 'if':
      if (isTrue(a[0]!)) return a[1]!;
      if (isFalse(a[0]!) || (isLit(a[0]!) && a[0].v === null)) return a[2]!;
      return e;
    case 'isNull':
    case 'isNotNull':
      if (!a[0]!.n) return { k: 'lit', t: 'bool', n: false, v: e.op === 'isNotNull' };
      return e;
  }
  if (!a.every(isLit) || a.some((x) => (x as { v: unknown }).v === null)) return e;
  const v = a.map((x) => (x as { v: number | string | boolean }).v);
  const num = (x: number | string | boolean): number => Number(x);
  const bool = (b: boolean): CalcExpr => ({ k: 'lit', t: 'bool', n: false, v: b });
  const at = a[0]!.t;
  switch (e.op) {
    case 'not':
      return bool(!v[0]);
    case 'eq':
    case 'ne':
    case 'lt':
    case 'le':
    case 'gt':
    case 'ge': {
      let c: number;
      if (at === 'i64' || at === 'timestamp') {
        const x = BigInt(v[0] as string);
        const y = BigInt(v[1] as string);
        c = x < y ? -1 : x > y ? 1 : 0;
      } else if (at === 'utf8') {
        const x = Buffer.from(v[0] as string);
        c = x.compare(Buffer.from(v[1] as string));
      } else if (at === 'f64') {
        const x = num(v[0]!);
        const y = num(v[1]!);
        if (Number.isNaN(x) || Number.isNaN(y)) return bool(e.op === 'ne');
        c = x < y ? -1 : x > y ? 1 : 0;
      } else c = num(v[0]!) - num(v[1]!);
      return bool({ eq: c === 0, ne: c !== 0, lt: c < 0, le: c <= 0, gt: c > 0, ge: c >= 0 }[e.op]);
    }
    case 'add':
    case 'sub':
    case 'mul': {
      if (e.t === 'f64') {
        const x = num(v[0]!);
        const y = num(v[1]!);
        return f64Lit(e.op === 'add' ? x + y : e.op === 'sub' ? x - y : x * y);
      }
      const x = BigInt(v[0] as string | number);
      const y = BigInt(v[1] as string | number);
      const r = e.op === 'add' ? x + y : e.op === 'sub' ? x - y : x * y;
      const [lo, hi] = e.t === 'i32' ? [-(2n ** 31n), 2n ** 31n - 1n] : [-(2n ** 63n), 2n ** 63n - 1n];
      if (r < lo || r > hi) return e;
      return e.t === 'i32' ? { k: 'lit', t: 'i32', n: false, v: Number(r) } : { k: 'lit', t: e.t, n: false, v: String(r) };
    }
    case 'upper':
      return { k: 'lit', t: 'utf8', n: false, v: (v[0] as string).toUpperCase() };
    case 'lower':
      return { k: 'lit', t: 'utf8', n: false, v: (v[0] as string).toLowerCase() };
    case 'concat':
      return { k: 'lit', t: 'utf8', n: false, v: v.join('') };
  }
  return e;
}
