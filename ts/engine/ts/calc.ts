/**
 * The calc operator in the TS engine: a spec (engine/calc-spec.ts) compiled once into
 * JavaScript source, one fused loop over the rows of a batch that reads the typed arrays,
 * evaluates the filter and every computed column with locals, and writes the output arrays
 * (as Flink generates Java for a Calc). No tree is walked per row.
 *
 * i64 values are numbers while they fit ±2^53 (the fast form); a value or result beyond
 * throws BAIL and the batch runs again in a second generated form with BigInts, exact for all
 * 64 bits. Both forms come from the same generator.
 */

import { bitmapBytes, takeColumn, takeEventTime, type Column } from '../../batch/column.js';
import { outputBytes, type Lease } from '../../batch/lease.js';
import { RecordBatch } from '../../batch/record-batch.js';
import { Schema } from '../../batch/schema.js';
import type { DataType } from '../../batch/schema.js';
import type { Calc } from '../engine.js';
import type { CalcExpr, CalcSpec } from '../calc-spec.js';
import { calcOutputSchema, checkCalcSpec, exprFields } from '../calc-spec.js';
import * as rt from './calc-rt.js';

type Val = { readonly v: string; readonly n: string };

const MAX_SAFE = 'MAXS';
const I32 = (t: DataType): boolean => t === 'i32';
const IS64 = (t: DataType): boolean => t === 'i64' || t === 'timestamp';

/** Source of one form (big: i64 as BigInt) of the generated function. */
class Gen {
  private lines: string[] = [];
  private tmp = 0;
  /** How deep in nested (conditional) blocks the code now emitted is; 0: the row loop's body. */
  private depth = 0;
  /**
   * Fields read in the row loop's body, not in a nested block: later reads in the same row (a
   * column the filter read, or one read twice) reuse their locals instead of reading and, for
   * i64, decoding again. A read in a nested block may not have run, so it is not reused.
   */
  private readonly rowFields = new Map<number, Val>();
  /** Constants the code refers to by name (regular expressions, BigInts, texts). */
  readonly consts: unknown[] = [];

  constructor(
    private readonly big: boolean,
    private readonly input: Schema,
    private readonly name: string,
  ) {}

  emit(line: string): void {
    this.lines.push(line);
  }

  fresh(): string {
    return `t${this.tmp++}`;
  }

  konst(x: unknown): string {
    this.consts.push(x);
    return `K[${this.consts.length - 1}]`;
  }

  /** Statements emitted by `f` (a nested block), returned instead of emitted. */
  block(f: () => void): string[] {
    const saved = this.lines;
    this.lines = [];
    this.depth++;
    try {
      f();
    } finally {
      this.depth--;
    }
    const out = this.lines;
    this.lines = saved;
    return out;
  }

  take(): string[] {
    const out = this.lines;
    this.lines = [];
    return out;
  }

  /** Declares `let v, n;` and returns them. */
  slot(): Val {
    const v = this.fresh();
    const n = this.fresh();
    this.emit(`let ${v}, ${n} = false;`);
    return { v, n };
  }

  err(kind: 'div' | 'ovf', e: CalcExpr & { k: 'call' }, type?: string): string {
    const text = this.konst(e.text);
    return kind === 'div' ? `throw rt.divByZero(NAME, ${text}, i);` : `throw rt.overflow(NAME, ${text}, i, '${type}');`;
  }

  /** Checks an i64 result: beyond ±2^63 an error (BigInt form); beyond ±2^53 the fast form hands over to the BigInt form. */
  fit64(x: string, e: CalcExpr & { k: 'call' }): string {
    return this.big ? `if (${x} > I64MAX || ${x} < I64MIN) ${this.err('ovf', e, 'i64')}` : `if (${x} > ${MAX_SAFE} || ${x} < -${MAX_SAFE}) throw BAIL;`;
  }

  expr(e: CalcExpr): Val {
    switch (e.k) {
      case 'field':
        return this.field(e);
      case 'lit':
        return this.lit(e);
      case 'call':
        return this.call(e);
    }
  }

  private field(e: CalcExpr & { k: 'field' }): Val {
    const i = e.i;
    const read = this.rowFields.get(i);
    if (read !== undefined) return read;
    const nul = this.input.fields[i]!.nullable || e.n;
    const slot = this.slot();
    // A field that cannot be null has no null flag: the operators above it drop their null checks.
    const out: Val = nul ? slot : { v: slot.v, n: 'false' };
    if (nul) this.emit(`${out.n} = V${i} !== null && (V${i}[i >>> 3] & (1 << (i & 7))) === 0;`);
    switch (e.t) {
      case 'i32':
      case 'f64':
        this.emit(`${out.v} = C${i}[i];`);
        break;
      case 'bool':
        this.emit(`${out.v} = (C${i}[i >>> 3] & (1 << (i & 7))) !== 0;`);
        break;
      case 'utf8':
        this.emit(`${out.v} = ${nul ? `${out.n} ? '' : ` : ''}rt.utf8(D${i}, C${i}[i], C${i}[i + 1]);`);
        break;
      case 'i64':
      case 'timestamp':
        if (this.big) this.emit(`${out.v} = B${i}[i];`);
        else {
          // Values within int32 (the high word is the low word's sign) skip the two-word
          // decode, and the integer operators below keep them in int32 arithmetic.
          const hi = this.fresh();
          const lo = this.fresh();
          this.emit(`const ${hi} = C${i}[2 * i + 1], ${lo} = C${i}[2 * i];`);
          this.emit(`if ((${lo} >> 31) === ${hi}) ${out.v} = ${lo};`);
          this.emit(`else { if (${hi} < -2097152 || ${hi} >= 2097152) throw BAIL; ${out.v} = ${hi} * 4294967296 + (${lo} >>> 0); }`);
        }
        break;
    }
    if (this.depth === 0) this.rowFields.set(i, out);
    return out;
  }

  private lit(e: CalcExpr & { k: 'lit' }): Val {
    if (e.v === null) return { v: zero(e.t, this.big), n: 'true' };
    switch (e.t) {
      case 'i32':
        return { v: `(${String(e.v)})`, n: 'false' };
      case 'f64':
        return { v: typeof e.v === 'string' ? `(${e.v === 'NaN' ? 'NaN' : e.v === 'Infinity' ? 'Infinity' : '-Infinity'})` : `(${String(e.v)})`, n: 'false' };
      case 'bool':
        return { v: String(e.v), n: 'false' };
      case 'utf8':
        return { v: JSON.stringify(e.v), n: 'false' };
      case 'i64':
      case 'timestamp': {
        const b = BigInt(e.v as string);
        if (this.big) return { v: this.konst(b), n: 'false' };
        if (b > BigInt(Number.MAX_SAFE_INTEGER) || b < -BigInt(Number.MAX_SAFE_INTEGER)) return { v: '(BAILV())', n: 'false' };
        return { v: `(${String(b)})`, n: 'false' };
      }
    }
  }

  /** Strict operators: null when any operand is null; `body` computes from the values. */
  private strict(e: CalcExpr & { k: 'call' }, body: (args: readonly string[], out: string) => void): Val {
    const args = e.args.map((a) => this.expr(a));
    const out = this.slot();
    const nulls = args.map((a) => a.n).filter((n) => n !== 'false');
    const cond = nulls.length === 0 ? 'false' : nulls.join(' || ');
    if (cond === 'false') {
      body(args.map((a) => a.v), out.v);
      return out;
    }
    this.emit(`${out.n} = ${cond};`);
    this.emit(`${out.v} = ${zero(e.t, this.big)};`);
    const inner = this.block(() => body(args.map((a) => a.v), out.v));
    this.emit(`if (!${out.n}) {`);
    for (const l of inner) this.emit('  ' + l);
    this.emit('}');
    return out;
  }

  private call(e: CalcExpr & { k: 'call' }): Val {
    const t = e.t;
    const at = e.args[0]?.t;
    switch (e.op) {
      case 'add':
      case 'sub':
      case 'mul':
        return this.strict(e, ([a, b], o) => {
          const sym = e.op === 'add' ? '+' : e.op === 'sub' ? '-' : '*';
          if (t === 'f64') this.emit(`${o} = ${a} ${sym} ${b};`);
          else if (I32(t)) {
            this.emit(`${o} = ${a} ${sym} ${b}${e.op === 'mul' ? ' + 0' : ''};`);
            this.emit(`if (${o} > 2147483647 || ${o} < -2147483648) ${this.err('ovf', e, 'i32')}`);
          } else {
            this.emit(`${o} = ${a} ${sym} ${b}${e.op === 'mul' && !this.big ? ' + 0' : ''};`);
            this.emit(this.fit64(o, e));
          }
        });
      case 'div':
        return this.strict(e, ([a, b], o) => {
          if (t === 'f64') return this.emit(`${o} = ${a} / ${b};`);
          this.emit(`if (${b} == 0) ${this.err('div', e)}`);
          if (I32(t)) {
            this.emit(`${o} = Math.trunc(${a} / ${b}) + 0;`);
            this.emit(`if (${o} > 2147483647) ${this.err('ovf', e, 'i32')}`);
          } else if (this.big) {
            this.emit(`${o} = ${a} / ${b};`);
            this.emit(`if (${o} > I64MAX) ${this.err('ovf', e, 'i64')}`);
          } else if (int32Divisor(e.args[1]!)) this.emit(`if ((${a} | 0) === ${a}) ${o} = ((${a} | 0) / ${b}) | 0; else ${o} = Math.trunc(${a} / ${b}) + 0;`);
          else this.emit(`${o} = Math.trunc(${a} / ${b}) + 0;`);
        });
      case 'mod':
        return this.strict(e, ([a, b], o) => {
          if (t === 'f64') return this.emit(`${o} = ${a} % ${b};`);
          this.emit(`if (${b} == 0) ${this.err('div', e)}`);
          if (this.big && IS64(t)) this.emit(`${o} = ${a} % ${b};`);
          // An int32 dividend and constant divisor: V8's int32 % by a constant is a multiply.
          else if (IS64(t) && int32Divisor(e.args[1]!)) this.emit(`if ((${a} | 0) === ${a}) ${o} = ((${a} | 0) % ${b}) + 0; else ${o} = ${a} - Math.trunc(${a} / ${b}) * ${b};`);
          // Numbers within ±2^53: truncated division is exact, and V8's % on doubles is a call to fmod.
          else if (IS64(t)) this.emit(`${o} = ${a} - Math.trunc(${a} / ${b}) * ${b};`);
          else this.emit(`${o} = ${a} % ${b} + 0;`);
        });
      case 'neg':
        return this.strict(e, ([a], o) => {
          if (t === 'f64') return this.emit(`${o} = -${a};`);
          this.emit(this.big && IS64(t) ? `${o} = -${a};` : `${o} = 0 - ${a};`);
          if (I32(t)) this.emit(`if (${o} > 2147483647) ${this.err('ovf', e, 'i32')}`);
          else this.emit(this.fit64(o, e));
        });
      case 'abs':
        return this.strict(e, ([a], o) => {
          if (t === 'f64') return this.emit(`${o} = Math.abs(${a});`);
          this.emit(`${o} = ${a} < 0 ? -${a} : ${a};`);
          if (I32(t)) this.emit(`if (${o} > 2147483647) ${this.err('ovf', e, 'i32')}`);
          else this.emit(this.fit64(o, e));
        });
      case 'floor':
      case 'ceil':
        return this.strict(e, ([a], o) => this.emit(t === 'f64' ? `${o} = Math.${e.op}(${a});` : `${o} = ${a};`));
      case 'round':
        return this.strict(e, ([a, d], o) => this.emit(t === 'f64' ? `${o} = rt.roundF64(${a}, ${d ?? '0'});` : `${o} = ${a};`));
      case 'eq':
      case 'ne':
      case 'lt':
      case 'le':
      case 'gt':
      case 'ge':
        return this.strict(e, ([a, b], o) => {
          const sym = { eq: '===', ne: '!==', lt: '<', le: '<=', gt: '>', ge: '>=' }[e.op as 'eq'];
          if (at === 'utf8' && e.op !== 'eq' && e.op !== 'ne') this.emit(`${o} = rt.cmpStr(${a}, ${b}) ${sym} 0;`);
          else this.emit(`${o} = ${a} ${sym} ${b};`);
        });
      case 'not':
        return this.strict(e, ([a], o) => this.emit(`${o} = !${a};`));
      case 'isNull':
      case 'isNotNull': {
        const a = this.expr(e.args[0]!);
        return { v: e.op === 'isNull' ? `(${a.n})` : `(!${a.n})`, n: 'false' };
      }
      case 'and':
      case 'or':
        return this.andOr(e);
      case 'if':
        return this.ifThenElse(e);
      case 'coalesce': {
        const out = this.slot();
        this.emit(`${out.n} = true; ${out.v} = ${zero(t, this.big)};`);
        this.nested(e.args, 0, out);
        return out;
      }
      case 'in':
        return this.inList(e);
      case 'like': {
        const re = this.konst(rt.likeRegExp(e.s!, e.esc ?? ''));
        return this.strict(e, ([a], o) => this.emit(`${o} = ${re}.test(${a});`));
      }
      case 'upper':
        return this.strict(e, ([a], o) => this.emit(`${o} = ${a}.toUpperCase();`));
      case 'lower':
        return this.strict(e, ([a], o) => this.emit(`${o} = ${a}.toLowerCase();`));
      case 'trim':
        return this.strict(e, ([a], o) => this.emit(`${o} = rt.trim(${a});`));
      case 'charLength':
        return this.strict(e, ([a], o) => this.emit(`${o} = rt.charLength(${a});`));
      case 'concat':
        return this.strict(e, (args, o) => this.emit(`${o} = ${args.join(' + ')};`));
      case 'substring': {
        const text = this.konst(e.text);
        return this.strict(e, ([s, from, len], o) => this.emit(`${o} = rt.substring(${s}, ${from}, ${len ?? 'null'}, NAME, ${text}, i);`));
      }
      case 'extract': {
        const text = this.konst(e.text);
        return this.strict(e, ([a], o) => {
          const ms = this.big ? `Number(${a})` : a;
          const r = `rt.extract('${e.s!}', ${ms}, NAME, ${text}, i)`;
          this.emit(`${o} = ${this.big ? `BigInt(${r})` : r};`);
        });
      }
      case 'cast':
        return this.cast(e);
    }
  }

  /** coalesce: the first non-null argument, later ones evaluated only when needed. */
  private nested(args: readonly CalcExpr[], k: number, out: Val): void {
    if (k === args.length) return;
    const a = this.expr(args[k]!);
    this.emit(`if (!${a.n}) { ${out.v} = ${a.v}; ${out.n} = false; } else {`);
    const inner = this.block(() => this.nested(args, k + 1, out));
    for (const l of inner) this.emit('  ' + l);
    this.emit('}');
  }

  private andOr(e: CalcExpr & { k: 'call' }): Val {
    const isAnd = e.op === 'and';
    const out = this.slot();
    const l = this.expr(e.args[0]!);
    // The left side decides: false for AND, true for OR.
    const decided = isAnd ? `!${l.n} && ${l.v} === false` : `!${l.n} && ${l.v} === true`;
    this.emit(`if (${decided}) { ${out.v} = ${isAnd ? 'false' : 'true'}; } else {`);
    const inner = this.block(() => {
      const r = this.expr(e.args[1]!);
      if (isAnd) {
        // Left is true or null here.
        this.emit(`if (!${r.n} && ${r.v} === false) { ${out.v} = false; } else if (${l.n} || ${r.n}) { ${out.n} = true; ${out.v} = false; } else { ${out.v} = true; }`);
      } else {
        this.emit(`if (!${r.n} && ${r.v} === true) { ${out.v} = true; } else if (${l.n} || ${r.n}) { ${out.n} = true; ${out.v} = false; } else { ${out.v} = false; }`);
      }
    });
    for (const x of inner) this.emit('  ' + x);
    this.emit('}');
    return out;
  }

  private ifThenElse(e: CalcExpr & { k: 'call' }): Val {
    const out = this.slot();
    const c = this.expr(e.args[0]!);
    this.emit(`if (!${c.n} && ${c.v} === true) {`);
    const th = this.block(() => {
      const v = this.expr(e.args[1]!);
      this.emit(`${out.v} = ${v.v}; ${out.n} = ${v.n};`);
    });
    for (const x of th) this.emit('  ' + x);
    this.emit('} else {');
    const el = this.block(() => {
      const v = this.expr(e.args[2]!);
      this.emit(`${out.v} = ${v.v}; ${out.n} = ${v.n};`);
    });
    for (const x of el) this.emit('  ' + x);
    this.emit('}');
    return out;
  }

  private inList(e: CalcExpr & { k: 'call' }): Val {
    const args = e.args.map((a) => this.expr(a));
    const out = this.slot();
    const [x, ...cands] = args;
    const anyNull = cands.map((c) => c.n).filter((n) => n !== 'false');
    const hit = cands.map((c) => (c.n === 'false' ? `${x!.v} === ${c.v}` : `(!${c.n} && ${x!.v} === ${c.v})`)).join(' || ');
    this.emit(`if (${x!.n}) { ${out.n} = true; ${out.v} = false; }`);
    this.emit(`else if (${hit}) { ${out.v} = true; }`);
    this.emit(`else { ${out.v} = false; ${out.n} = ${anyNull.length === 0 ? 'false' : anyNull.join(' || ')}; }`);
    return out;
  }

  private cast(e: CalcExpr & { k: 'call' }): Val {
    const from = e.args[0]!.t;
    const to = e.t;
    const text = this.konst(e.text);
    return this.strict(e, ([a], o) => {
      const big = this.big;
      if (from === to || (IS64(from) && IS64(to))) return this.emit(`${o} = ${a};`);
      switch (to) {
        case 'i32':
          if (from === 'f64') {
            this.emit(`${o} = Math.trunc(${a}) + 0;`);
            this.emit(`if (!(${o} >= -2147483648 && ${o} <= 2147483647)) throw rt.castRange(NAME, ${text}, i, String(${a}), 'i32');`);
          } else if (IS64(from)) {
            this.emit(`if (${a} > ${big ? '2147483647n' : '2147483647'} || ${a} < ${big ? '-2147483648n' : '-2147483648'}) throw rt.castRange(NAME, ${text}, i, String(${a}), 'i32');`);
            this.emit(`${o} = Number(${a});`);
          } else if (from === 'utf8') {
            this.emit(`{ const p = rt.parseIntText(${a}); if (p === null) throw rt.castText(NAME, ${text}, i, ${a}, 'i32');`);
            this.emit(`  if (p > 2147483647n || p < -2147483648n) throw rt.castRange(NAME, ${text}, i, String(p), 'i32'); ${o} = Number(p); }`);
          } else this.emit(`${o} = ${a} ? 1 : 0;`);
          return;
        case 'i64':
        case 'timestamp':
          if (from === 'i32') this.emit(`${o} = ${big ? `BigInt(${a})` : a};`);
          else if (from === 'f64') {
            this.emit(`if (!(${a} >= -9223372036854775808 && ${a} < 9223372036854775808)) throw rt.castRange(NAME, ${text}, i, String(${a}), '${to}');`);
            if (big) this.emit(`${o} = BigInt(Math.trunc(${a}));`);
            else this.emit(`${o} = Math.trunc(${a}) + 0; if (${o} > ${MAX_SAFE} || ${o} < -${MAX_SAFE}) throw BAIL;`);
          } else if (from === 'utf8') {
            this.emit(`{ const p = rt.parseIntText(${a}); if (p === null) throw rt.castText(NAME, ${text}, i, ${a}, '${to}');`);
            this.emit(`  if (p > I64MAX || p < I64MIN) throw rt.castRange(NAME, ${text}, i, String(p), '${to}');`);
            this.emit(big ? `  ${o} = p; }` : `  if (p > 9007199254740991n || p < -9007199254740991n) throw BAIL; ${o} = Number(p); }`);
          } else this.emit(`${o} = ${big ? `(${a} ? 1n : 0n)` : `(${a} ? 1 : 0)`};`);
          return;
        case 'f64':
          if (from === 'utf8') this.emit(`{ const p = rt.parseF64Text(${a}); if (p === null) throw rt.castText(NAME, ${text}, i, ${a}, 'f64'); ${o} = p; }`);
          else if (from === 'bool') this.emit(`${o} = ${a} ? 1 : 0;`);
          else this.emit(`${o} = Number(${a});`);
          return;
        case 'bool':
          if (from === 'utf8') this.emit(`{ const p = rt.parseBoolText(${a}); if (p === null) throw rt.castText(NAME, ${text}, i, ${a}, 'bool'); ${o} = p; }`);
          else this.emit(`${o} = ${a} != 0;`);
          return;
        case 'utf8':
          if (from === 'bool') this.emit(`${o} = ${a} ? 'TRUE' : 'FALSE';`);
          else if (from === 'timestamp') this.emit(`${o} = rt.timestampText(Number(${a}), NAME, ${text}, i);`);
          else this.emit(`${o} = String(${a});`);
          return;
      }
    });
  }
}

/**
 * An integer literal divisor within int32 other than 0 and -1, for which the int32 forms of `/`
 * and `%` are exact (int32 MIN / -1 is not).
 */
function int32Divisor(e: CalcExpr): boolean {
  if (e.k !== 'lit' || e.v === null || !IS64(e.t)) return false;
  const b = BigInt(e.v as string);
  return b >= -2147483648n && b <= 2147483647n && b !== 0n && b !== -1n;
}

function zero(t: DataType, big: boolean): string {
  switch (t) {
    case 'utf8':
      return "''";
    case 'bool':
      return 'false';
    case 'i64':
    case 'timestamp':
      return big ? '0n' : '0';
    default:
      return '0';
  }
}

/** Output buffers of one run, by column. */
interface Out {
  readonly vals: (Int32Array | Float64Array | BigInt64Array | Uint8Array | string[])[];
  readonly valid: (Uint8Array | null)[];
  readonly nulls: Int32Array;
  readonly sel: Int32Array;
}

type Run = (cols: readonly Column[], n: number, out: Out) => number;

/** Compiles one form of the spec into a function (new Function: generated code, once per operator). */
function compile(spec: CalcSpec, input: Schema, big: boolean, computed: readonly number[]): Run {
  const g = new Gen(big, input, spec.name);
  const body: string[] = [];
  const used = new Set<number>();
  if (spec.filter !== null) exprFields(spec.filter, used);
  for (const k of computed) exprFields(spec.columns[k]!.expr, used);
  for (const i of used) {
    const t = input.fields[i]!.type;
    body.push(`const V${i} = cols[${i}].validity;`);
    if (t === 'utf8') body.push(`const C${i} = cols[${i}].offsets, D${i} = cols[${i}].data;`);
    else if (IS64(t)) body.push(big ? `const B${i} = cols[${i}].values;` : `const C${i} = rt.i32View(cols[${i}].values);`);
    else body.push(`const C${i} = cols[${i}].values;`);
  }
  computed.forEach((k, j) => {
    body.push(`const R${j} = out.vals[${k}], N${j} = out.valid[${k}];`);
    if (IS64(spec.columns[k]!.expr.t) && !big) body.push(`const R${j}v = rt.i32View(R${j});`);
  });
  body.push('const sel = out.sel, nulls = out.nulls;');
  body.push('let m = 0;');
  body.push('for (let i = 0; i < n; i++) {');
  if (spec.filter !== null) {
    const f = g.expr(spec.filter);
    for (const l of g.take()) body.push('  ' + l);
    body.push(`  if (${f.n} || ${f.v} !== true) continue;`);
  }
  computed.forEach((k, j) => {
    const c = spec.columns[k]!;
    const r = g.expr(c.expr);
    for (const l of g.take()) body.push('  ' + l);
    const nullable = c.expr.n && r.n !== 'false';
    if (nullable) body.push(`  if (${r.n}) nulls[${j}]++; else N${j}[m >>> 3] |= 1 << (m & 7);`);
    const v = r.v;
    switch (c.expr.t) {
      case 'bool':
        body.push(`  if (${v}) R${j}[m >>> 3] |= 1 << (m & 7);`);
        break;
      case 'i64':
      case 'timestamp':
        if (big) body.push(`  R${j}[m] = ${v};`);
        else body.push(`  { const x = ${v}; if ((x | 0) === x) { R${j}v[2 * m] = x; R${j}v[2 * m + 1] = x >> 31; } else { const h = Math.floor(x / 4294967296); R${j}v[2 * m] = x - h * 4294967296; R${j}v[2 * m + 1] = h; } }`);
        break;
      default:
        body.push(`  R${j}[m] = ${v};`);
    }
  });
  body.push('  sel[m++] = i;');
  body.push('}');
  body.push('return m;');
  const src = `"use strict";\nreturn function calc(cols, n, out) {\n${body.join('\n')}\n};`;
  const make = new Function('rt', 'K', 'NAME', 'BAIL', 'BAILV', 'MAXS', 'I64MIN', 'I64MAX', src) as (...a: unknown[]) => Run;
  const bailValue = (): never => {
    throw rt.BAIL;
  };
  return make({ ...rt, i32View: (v: BigInt64Array) => new Int32Array(v.buffer, v.byteOffset, v.length * 2) }, g.consts, spec.name, rt.BAIL, bailValue, Number.MAX_SAFE_INTEGER, rt.I64_MIN, rt.I64_MAX);
}

/** The calc operator of the TS engine: one generated function per form, compiled at construction. */
export class TsCalc implements Calc {
  readonly outputSchema: Schema;
  /** Output columns that are an input field unchanged: taken, not computed. */
  private readonly passFrom: readonly (number | null)[];
  private readonly computed: readonly number[];
  private readonly fast: Run;
  private big: Run | null = null;

  constructor(
    private readonly input: Schema,
    private readonly spec: CalcSpec,
  ) {
    checkCalcSpec(input, spec);
    this.outputSchema = calcOutputSchema(spec);
    this.passFrom = spec.columns.map((c) => (c.expr.k === 'field' ? c.expr.i : null));
    this.computed = spec.columns.flatMap((c, k) => (c.expr.k === 'field' ? [] : [k]));
    this.fast = compile(spec, input, false, this.computed);
  }

  process(batch: RecordBatch, lease?: Lease): RecordBatch {
    const n = batch.length;
    // A projection (no filter, nothing computed) keeps every row and computes nothing.
    if (this.spec.filter === null && this.computed.length === 0) {
      return new RecordBatch(this.outputSchema, this.passFrom.map((from) => batch.columns[from!]!), n, batch.eventTime);
    }
    const { out, m } = this.run(batch, lease);
    const all = m === n;
    const columns: Column[] = this.spec.columns.map((c, k) => {
      const from = this.passFrom[k]!;
      if (from !== null) return all ? batch.columns[from]! : takeColumn(batch.columns[from]!, out.sel, m, lease);
      const j = this.computed.indexOf(k);
      const validity = out.nulls[j]! > 0 ? out.valid[k]! : null;
      const vals = out.vals[k]!;
      switch (c.expr.t) {
        case 'utf8': {
          const { offsets, data } = rt.encodeStrings(vals as string[], m);
          return { type: 'utf8', offsets, data, validity };
        }
        case 'bool':
          return { type: 'bool', values: (vals as Uint8Array).subarray(0, bitmapBytes(m)), validity };
        case 'i32':
          return { type: 'i32', values: (vals as Int32Array).subarray(0, m), validity };
        case 'f64':
          return { type: 'f64', values: (vals as Float64Array).subarray(0, m), validity };
        default:
          return { type: c.expr.t, values: (vals as BigInt64Array).subarray(0, m), validity } as Column;
      }
    });
    let et = batch.eventTime;
    if (et !== null && !all) {
      et = takeEventTime(et, out.sel, m, lease);
    }
    return new RecordBatch(this.outputSchema, columns, m, et);
  }

  /**
   * The indices of the rows the filter keeps, ascending, or null when it keeps all: for a
   * filter whose rows are built after it (a pushed filter, over the generator's columns).
   */
  select(batch: RecordBatch): Int32Array | null {
    const { out, m } = this.run(batch, undefined);
    return m === batch.length ? null : out.sel.subarray(0, m);
  }

  /** The generated function over the batch: its outputs and how many rows it kept. */
  private run(batch: RecordBatch, lease: Lease | undefined): { out: Out; m: number } {
    const n = batch.length;
    let out = this.buffers(n, lease);
    try {
      return { out, m: this.fast(batch.columns, n, out) };
    } catch (e) {
      if (e !== rt.BAIL) throw e;
      this.big ??= compile(this.spec, this.input, true, this.computed);
      out = this.buffers(n, lease);
      return { out, m: this.big(batch.columns, n, out) };
    }
  }

  private buffers(n: number, lease: Lease | undefined): Out {
    const vals: Out['vals'] = [];
    const valid: (Uint8Array | null)[] = [];
    this.spec.columns.forEach((c, k) => {
      if (this.passFrom[k] !== null) {
        vals.push(new Uint8Array(0));
        valid.push(null);
        return;
      }
      const t = c.expr.t;
      // Values and the selection are written for every kept row before they are read, so they
      // are not zero-filled; bitmaps (bool values, validity) are set bit by bit and are.
      vals.push(
        t === 'i32' ? unfilled(Int32Array, n, lease) : t === 'f64' ? unfilled(Float64Array, n, lease) : IS64(t) ? unfilled(BigInt64Array, n, lease) : t === 'bool' ? new Uint8Array(bitmapBytes(n)) : new Array<string>(n),
      );
      valid.push(c.expr.n ? new Uint8Array(bitmapBytes(n)) : null);
    });
    return { vals, valid, nulls: new Int32Array(this.computed.length), sel: unfilled(Int32Array, n, lease) };
  }
}

type FixedArray = Int32Array | Float64Array | BigInt64Array;

/** `n` values not zero-filled (`outputBytes`), as the native calc's outputs are. */
function unfilled<A extends FixedArray>(ctor: { new (b: ArrayBufferLike, at: number, n: number): A; readonly BYTES_PER_ELEMENT: number }, n: number, lease: Lease | undefined): A {
  const b = outputBytes(n * ctor.BYTES_PER_ELEMENT, lease);
  return new ctor(b.buffer, b.byteOffset, n);
}
