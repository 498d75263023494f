/**
 * Record functions that are single expressions over the record's fields, compiled into calc
 * specs: `map((b) => ({ auction: b.auction, price: 0.908 * b.price }), schema)` and
 * `filter((b) => b.auction % 123 === 0)` then run as the engine's calc kernels over whole
 * columns, and the source reads only the fields they name, as SQL's would. No record object
 * is made and the function is not called.
 *
 * Only what has exactly JavaScript's result in the calc's semantics is compiled (anything else
 * runs the function per record, as before):
 * - the function is an arrow function of one parameter whose body is an expression, and it
 *   names nothing but that parameter (no closure variables, globals or calls);
 * - fields are read as `r.name`; a map returns an object literal with exactly the output's
 *   fields; a filter returns a comparison or a logical combination of comparisons;
 * - a field or literal is returned as it is into a field of the same type, or a number into an
 *   f64 field; `+ - * /` and unary minus compute in doubles (JavaScript numbers are doubles, and
 *   the calc's f64 follows IEEE 754); `%` only as integer % a non-zero integer literal, and
 *   comparisons only between integers (where JavaScript's doubles and the calc's i64 agree).
 * JavaScript reads an i64 beyond ±2^53 as an error and null as null: a batch with a null or
 * such a value in a field the expression reads runs the function per record instead (see
 * `needsRecords`), which gives JavaScript's own result or error.
 */

import { parseExpressionAt, type ArrowFunctionExpression, type Expression, type Node } from 'acorn';
import type { DataType, Schema } from '../batch/schema.js';
import { firstInexact, i32View } from '../batch/i64.js';
import type { CalcExpr, CalcOp, CalcSpec } from '../engine/calc-spec.js';
import type { UserFn } from './graph.js';

/** A compiled map's calc spec (field indices refer to `input`), or null when it does not compile. */
export function compileMapFunction(fn: UserFn, input: Schema, output: Schema, name: string): CalcSpec | null {
  return cached(fn, input, output, () => {
    const body = arrowBody(fn);
    if (body === null || body.node.type !== 'ObjectExpression') return null;
    const c = new Compiler(body.param, input, body.source);
    const byName = new Map<string, CalcExpr>();
    for (const p of body.node.properties) {
      if (p.type !== 'Property' || p.kind !== 'init' || p.computed || p.method || p.shorthand) return null;
      const key = p.key.type === 'Identifier' ? p.key.name : p.key.type === 'Literal' && typeof p.key.value === 'string' ? p.key.value : null;
      // (`__proto__: v` sets the prototype, not a field.)
      if (key === null || key === '__proto__' || byName.has(key) || !output.has(key)) return null;
      const e = c.value(p.value, output.fields[output.indexOf(key)]!.type);
      if (e === null) return null;
      byName.set(key, e);
    }
    if (byName.size !== output.fields.length) return null;
    return { name, filter: null, columns: output.fields.map((f) => ({ name: f.name, expr: byName.get(f.name)! })) };
  });
}

/** A compiled filter's predicate (field indices refer to `input`), or null when it does not compile. */
export function compileFilterFunction(fn: UserFn, input: Schema): CalcExpr | null {
  return cached(fn, input, null, () => {
    const body = arrowBody(fn);
    return body === null ? null : new Compiler(body.param, input, body.source).bool(body.node);
  });
}

/**
 * Whether `columns` (the fields a compiled function reads, with their types) hold a value the
 * calc would not read as JavaScript does: a null, or an i64 beyond ±2^53 (JavaScript's error).
 */
export function needsRecords(columns: readonly { readonly type: DataType; readonly validity: Uint8Array | null; readonly values?: unknown }[], length: number): boolean {
  for (const c of columns) {
    if (c.validity !== null) return true;
    if ((c.type === 'i64' || c.type === 'timestamp') && firstInexact(i32View(c.values as BigInt64Array), length) >= 0) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------

const cache = new WeakMap<UserFn, { input: Schema; output: Schema | null; result: unknown }[]>();

function cached<T>(fn: UserFn, input: Schema, output: Schema | null, compile: () => T): T {
  let entries = cache.get(fn);
  if (entries === undefined) cache.set(fn, (entries = []));
  const hit = entries.find((e) => e.input.equals(input) && (e.output === null ? output === null : output !== null && e.output.equals(output)));
  if (hit !== undefined) return hit.result as T;
  const result = compile();
  entries.push({ input, output, result });
  return result;
}

/** The parameter and body of `fn` if it is `(p) => expression`. */
function arrowBody(fn: UserFn): { param: string; node: Expression; source: string } | null {
  let source: string;
  try {
    source = Function.prototype.toString.call(fn);
  } catch {
    return null;
  }
  let node: Node;
  try {
    node = parseExpressionAt(source, 0, { ecmaVersion: 'latest' });
  } catch {
    return null;
  }
  if (node.end !== source.length || node.type !== 'ArrowFunctionExpression') return null;
  const arrow = node as ArrowFunctionExpression;
  if (arrow.async || arrow.generator || !arrow.expression) return null;
  const param = arrow.params[0];
  if (arrow.params.length !== 1 || param?.type !== 'Identifier') return null;
  return { param: param.name, node: arrow.body as Expression, source };
}

/** An expression's value: a double, an integer (i64 domain), a boolean, or a field as it is. */
type Typed =
  | { readonly dom: 'f64'; readonly e: CalcExpr }
  | { readonly dom: 'int'; readonly e: CalcExpr }
  | { readonly dom: 'bool'; readonly e: CalcExpr }
  | { readonly dom: 'field'; readonly e: CalcExpr & { k: 'field' } }
  | { readonly dom: 'lit'; readonly v: number | string | boolean };

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
const NUMERIC: ReadonlySet<DataType> = new Set(['i32', 'i64', 'f64', 'timestamp']);
const INTEGER: ReadonlySet<DataType> = new Set(['i32', 'i64', 'timestamp']);
const ARITH: Readonly<Record<string, CalcOp>> = { '+': 'add', '-': 'sub', '*': 'mul', '/': 'div' };
const COMPARE: Readonly<Record<string, CalcOp>> = { '===': 'eq', '==': 'eq', '!==': 'ne', '!=': 'ne', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge' };

class Compiler {
  constructor(
    private readonly param: string,
    private readonly input: Schema,
    private readonly source: string,
  ) {}

  /** A map's output value for a field of type `t`. */
  value(n: Node, t: DataType): CalcExpr | null {
    const x = this.typed(n);
    if (x === null) return null;
    switch (x.dom) {
      case 'field':
        if (x.e.t === t) return x.e;
        return t === 'f64' && NUMERIC.has(x.e.t) ? this.f64(x) : null;
      case 'f64':
        return t === 'f64' ? x.e : null;
      case 'lit':
        if (typeof x.v === 'number') {
          if (t === 'f64') return f64Lit(x.v);
          if (t === 'i64' && Number.isSafeInteger(x.v) && !Object.is(x.v, -0)) return { k: 'lit', t, n: false, v: String(x.v) };
          return null;
        }
        // (A lone surrogate has no UTF-8: JavaScript's writer would replace it.)
        if (typeof x.v === 'string') return t === 'utf8' && !LONE_SURROGATE.test(x.v) ? { k: 'lit', t, n: false, v: x.v } : null;
        return t === 'bool' ? { k: 'lit', t, n: false, v: x.v } : null;
      case 'int':
      case 'bool':
        // `%` results (a -0 JavaScript keeps) and booleans computed from numbers: not as values.
        return null;
    }
  }

  /** A filter's predicate: true keeps the row. */
  bool(n: Node): CalcExpr | null {
    const x = this.typed(n);
    if (x === null) return null;
    if (x.dom === 'bool') return x.e;
    if (x.dom === 'field' && x.e.t === 'bool') return x.e;
    return null;
  }

  private text(n: Node): string {
    return this.source.slice(n.start, n.end);
  }

  private typed(n: Node): Typed | null {
    switch (n.type) {
      case 'ParenthesizedExpression':
        return this.typed((n as Node & { expression: Node }).expression);
      case 'Literal': {
        const v = (n as Node & { value: unknown }).value;
        return typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean' ? { dom: 'lit', v } : null;
      }
      case 'MemberExpression': {
        const m = n as Node & { object: Node; property: Node; computed: boolean; optional: boolean };
        if (m.computed || m.optional || m.object.type !== 'Identifier' || (m.object as Node & { name: string }).name !== this.param || m.property.type !== 'Identifier') return null;
        const name = (m.property as Node & { name: string }).name;
        if (!this.input.has(name)) return null;
        const i = this.input.indexOf(name);
        return { dom: 'field', e: { k: 'field', i, t: this.input.fields[i]!.type, n: false } };
      }
      case 'UnaryExpression': {
        const u = n as Node & { operator: string; argument: Node };
        const a = this.typed(u.argument);
        if (a === null) return null;
        if (u.operator === '-') {
          if (a.dom === 'lit') return typeof a.v === 'number' ? { dom: 'lit', v: -a.v } : null;
          const x = this.f64(a);
          return x === null ? null : { dom: 'f64', e: this.call('neg', 'f64', [x], n) };
        }
        if (u.operator === '!') {
          const b = a.dom === 'bool' || (a.dom === 'field' && a.e.t === 'bool') ? a.e : null;
          return b === null ? null : { dom: 'bool', e: this.call('not', 'bool', [b], n) };
        }
        return null;
      }
      case 'BinaryExpression': {
        const b = n as Node & { operator: string; left: Node; right: Node };
        const l = this.typed(b.left);
        const r = this.typed(b.right);
        if (l === null || r === null) return null;
        const arith = ARITH[b.operator];
        if (arith !== undefined) {
          if (l.dom === 'lit' && r.dom === 'lit') return null;
          const x = this.f64(l);
          const y = this.f64(r);
          return x === null || y === null ? null : { dom: 'f64', e: this.call(arith, 'f64', [x, y], n) };
        }
        if (b.operator === '%') {
          const x = this.int(l);
          if (x === null || r.dom !== 'lit' || typeof r.v !== 'number' || !Number.isSafeInteger(r.v) || r.v === 0) return null;
          return { dom: 'int', e: this.call('mod', 'i64', [x, { k: 'lit', t: 'i64', n: false, v: String(r.v) }], n) };
        }
        const cmp = COMPARE[b.operator];
        if (cmp !== undefined) {
          if (l.dom === 'lit' && r.dom === 'lit') return null;
          const x = this.int(l);
          const y = this.int(r);
          return x === null || y === null ? null : { dom: 'bool', e: this.call(cmp, 'bool', [x, y], n) };
        }
        return null;
      }
      case 'LogicalExpression': {
        const b = n as Node & { operator: string; left: Node; right: Node };
        if (b.operator !== '&&' && b.operator !== '||') return null;
        const x = this.bool(b.left);
        const y = this.bool(b.right);
        return x === null || y === null ? null : { dom: 'bool', e: this.call(b.operator === '&&' ? 'and' : 'or', 'bool', [x, y], n) };
      }
      default:
        return null;
    }
  }

  /** As a double: numbers, numeric fields, arithmetic. */
  private f64(x: Typed): CalcExpr | null {
    switch (x.dom) {
      case 'f64':
        return x.e;
      case 'lit':
        return typeof x.v === 'number' ? f64Lit(x.v) : null;
      case 'field':
        if (x.e.t === 'f64') return x.e;
        return INTEGER.has(x.e.t) ? { k: 'call', op: 'cast', t: 'f64', n: false, args: [x.e], text: `${this.param}.${this.input.fields[x.e.i]!.name}` } : null;
      default:
        return null;
    }
  }

  /** As an i64: integer fields, safe integer literals, `%`. */
  private int(x: Typed): CalcExpr | null {
    switch (x.dom) {
      case 'int':
        return x.e;
      case 'lit':
        return typeof x.v === 'number' && Number.isSafeInteger(x.v) ? { k: 'lit', t: 'i64', n: false, v: String(x.v === 0 ? 0 : x.v) } : null;
      case 'field':
        if (x.e.t === 'i64') return x.e;
        return INTEGER.has(x.e.t) ? { k: 'call', op: 'cast', t: 'i64', n: false, args: [x.e], text: `${this.param}.${this.input.fields[x.e.i]!.name}` } : null;
      default:
        return null;
    }
  }

  private call(op: CalcOp, t: DataType, args: readonly CalcExpr[], n: Node): CalcExpr {
    return { k: 'call', op, t, n: false, args, text: this.text(n) };
  }
}

/** A double literal; not -0, which the spec's JSON (how it crosses N-API) would write as 0. */
function f64Lit(v: number): CalcExpr | null {
  if (Object.is(v, -0)) return null;
  return { k: 'lit', t: 'f64', n: false, v: Number.isFinite(v) ? v : String(v) };
}
