/**
 * Column builders: JS values appended to one column with exact type checks; a value that does
 * not fit its field is an error naming where it came from, the record position and the field.
 *
 * One class per column type, each with its own `append`: a generated record appender calls
 * `cols[k].append` at one site per field, and a class per type keeps each site monomorphic
 * (one shared `append` dispatching on the type was a fifth of a map's time).
 *
 * Pass-through: a builder may have a source, the input column of the same name and type. While
 * every output row i is input row i with the same value, nothing is written, and `finish`
 * returns the input column itself; the first other value copies rows 0..n-1 over and goes on
 * normally. A string identical to the one the input's reader last returned for the same row
 * is copied as bytes instead of encoded again.
 */

import { Buffer } from 'node:buffer';
import { bitGet, bitmapBytes, type BoolColumn, type Column, type F64Column, type I32Column, type I64Column, type Utf8Column } from './column.js';
import { getI64, I64_MAX, I64_MIN, i32View, i64IsExact, setI64 } from './i64.js';
import type { Utf8Reader } from './row-reader.js';
import type { Field } from './schema.js';

export class BadValueError extends Error {
  constructor(
    readonly where: string,
    readonly position: number,
    readonly field: string,
    readonly detail: string,
    /** What a position counts: records, or lines of a file. */
    unit: 'record' | 'line' = 'record',
  ) {
    super(`${where}, ${unit} ${position}, field '${field}': ${detail}`);
    this.name = 'BadValueError';
  }
}

export function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'bigint') return `bigint ${v}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return `${typeof v} ${String(v)}`;
}

/** The input column an output column may take values from unchanged (see the module docs). */
export interface ColumnSource {
  readonly column: Column;
  /** Rows in the input batch. */
  readonly length: number;
  /** utf8: the reader that decoded the input's strings for the user function. */
  readonly strings: Utf8Reader | null;
}

/** What every column builder does; `columnBuilder` makes the one for a field's type. */
export abstract class ColumnBuilder {
  protected n = 0;
  protected cap: number;
  protected validity: Uint8Array | null = null;
  protected nulls = 0;
  /** Rows 0..n-1 are the source's rows 0..n-1 and nothing is allocated yet. */
  protected pass: boolean;

  constructor(
    readonly field: Field,
    capacity: number,
    protected readonly source: ColumnSource | null,
  ) {
    this.cap = Math.max(8, capacity);
    this.pass = source !== null;
  }

  get length(): number {
    return this.n;
  }

  /**
   * Appends `v`; `where`/`position` only feed the error message. `row`: the input row the value
   * was computed from (-1: none), for taking it from the source unchanged.
   */
  abstract append(v: unknown, where: string, position: number, row?: number): void;

  /** Grows the value arrays to `cap` rows, keeping rows 0..n-1. */
  protected abstract grow(cap: number): void;
  /** Pass-through: the value arrays hold rows 0..n-1 of the source (called right after grow). */
  protected abstract copySource(n: number): void;
  /** The finished column of rows 0..n-1. */
  protected abstract build(n: number, validity: Uint8Array | null): Column;

  /** A null (or missing) value, or an error when the field is not nullable. */
  protected appendNull(v: null | undefined, where: string, position: number): void {
    const f = this.field;
    if (!f.nullable) {
      throw new BadValueError(where, position, f.name, `is ${v === null ? 'null' : 'missing'} but the field is not nullable; declare it as '${f.type}?' to allow nulls`);
    }
    if (this.n === this.cap) this.enlarge();
    const i = this.n;
    if (this.validity === null) {
      this.validity = new Uint8Array(bitmapBytes(this.cap));
      for (let k = 0; k < i; k++) this.validity[k >>> 3]! |= 1 << (k & 7);
    }
    this.nulls++;
    this.nullAt(i);
    this.n++;
  }

  /** Type-specific bookkeeping for a null at row i (utf8: an empty range). */
  protected nullAt(_i: number): void {}

  /** Whether a null at `row` is the source's null there (pass-through of a null). */
  protected sourceNullAt(row: number): boolean {
    const validity = this.source!.column.validity;
    return validity !== null && !bitGet(validity, row) && this.field.nullable;
  }

  protected sourceValidAt(row: number): boolean {
    const validity = this.source!.column.validity;
    return validity === null || bitGet(validity, row);
  }

  protected enlarge(): void {
    this.cap *= 2;
    this.grow(this.cap);
    if (this.validity !== null) this.validity = grown(this.validity, bitmapBytes(this.cap));
  }

  /** Leaves pass-through: rows 0..n-1 copied from the source into this builder's own arrays. */
  protected materialize(): void {
    this.pass = false;
    const n = this.n;
    this.grow(this.cap);
    this.copySource(n);
    const validity = this.source!.column.validity;
    if (validity !== null) {
      let nulls = 0;
      for (let r = 0; r < n; r++) if (!bitGet(validity, r)) nulls++;
      if (nulls > 0) {
        this.validity = new Uint8Array(bitmapBytes(this.cap));
        copyBits(validity, this.validity, n);
        this.nulls = nulls;
      }
    }
  }

  protected setValid(i: number): void {
    if (this.validity !== null) this.validity[i >>> 3]! |= 1 << (i & 7);
  }

  /** Removes the last appended value (so a record that fails half-way leaves no trace). */
  rollbackLast(): void {
    if (this.n === 0) return;
    const i = --this.n;
    if (this.pass) return;
    if (this.validity !== null) {
      if ((this.validity[i >>> 3]! & (1 << (i & 7))) === 0) this.nulls--;
      this.validity[i >>> 3]! &= ~(1 << (i & 7));
    }
    this.clearAt(i);
  }

  /** Type-specific undo of row i (bool: its bit; utf8: its bytes). */
  protected clearAt(_i: number): void {}

  finish(): Column {
    if (this.pass) {
      if (this.n === this.source!.length) return this.source!.column;
      this.materialize();
    }
    const n = this.n;
    return this.build(n, this.nulls > 0 ? this.validity!.slice(0, bitmapBytes(n)) : null);
  }
}

/** i32 and f64: a typed array of numbers; `f64` tells which checks apply. */
class NumberBuilder extends ColumnBuilder {
  private values: Int32Array | Float64Array;
  private readonly f64: boolean;

  constructor(field: Field, capacity: number, source: ColumnSource | null) {
    super(field, capacity, source);
    this.f64 = field.type === 'f64';
    this.values = this.f64 ? new Float64Array(0) : new Int32Array(0);
    if (!this.pass) this.grow(this.cap);
  }

  append(v: unknown, where: string, position: number, row = -1): void {
    if (this.pass) {
      if (row === this.n && (v === null || v === undefined ? this.sourceNullAt(row) : this.sourceValidAt(row) && this.sameAsSource(v, row))) {
        this.n++;
        return;
      }
      this.materialize();
    }
    if (v === null || v === undefined) return this.appendNull(v, where, position);
    if (this.f64 ? typeof v !== 'number' : typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
      const expected = this.f64 ? 'an f64 number' : 'an i32 (integer in ±2^31)';
      throw new BadValueError(where, position, this.field.name, `expected ${expected}, got ${describe(v)}`);
    }
    if (this.n === this.cap) this.enlarge();
    this.values[this.n] = v as number;
    this.setValid(this.n++);
  }

  private sameAsSource(v: unknown, row: number): boolean {
    const x = (this.source!.column as I32Column | F64Column).values[row]!;
    return this.f64 ? sameF64(v, x) : v === x;
  }

  protected grow(cap: number): void {
    this.values = grown(this.values, cap);
  }
  protected copySource(n: number): void {
    this.values.set((this.source!.column as I32Column | F64Column).values.subarray(0, n));
  }
  protected build(n: number, validity: Uint8Array | null): Column {
    return this.f64 ? { type: 'f64', values: (this.values as Float64Array).slice(0, n), validity } : { type: 'i32', values: (this.values as Int32Array).slice(0, n), validity };
  }
}

/** The same f64 bits as far as a number can tell: equal, and -0 is not 0 (NaN never passes). */
function sameF64(v: unknown, x: number): boolean {
  return v === x && (x !== 0 || 1 / x === 1 / v);
}

class I64Builder extends ColumnBuilder {
  private values = new BigInt64Array(0);
  private words = new Int32Array(0);
  /** The source's values as 32-bit words. */
  private readonly source32: Int32Array | null;

  constructor(field: Field, capacity: number, source: ColumnSource | null) {
    super(field, capacity, source);
    this.source32 = source === null ? null : i32View((source.column as I64Column).values);
    if (!this.pass) this.grow(this.cap);
  }

  append(v: unknown, where: string, position: number, row = -1): void {
    if (this.pass) {
      const s = this.source32!;
      if (row === this.n && (v === null || v === undefined ? this.sourceNullAt(row) : typeof v === 'number' && this.sourceValidAt(row) && i64IsExact(s, row) && getI64(s, row) === v)) {
        this.n++;
        return;
      }
      this.materialize();
    }
    if (v === null || v === undefined) return this.appendNull(v, where, position);
    if (this.n === this.cap) this.enlarge();
    if (typeof v === 'number' && Number.isSafeInteger(v)) setI64(this.words, this.n, v);
    else this.values[this.n] = this.exotic(v, where, position);
    this.setValid(this.n++);
  }

  /** A value that is not a safe integer number: a bigint, decimal text, a Date, or an error. */
  private exotic(v: unknown, where: string, position: number): bigint {
    const f = this.field;
    let x: unknown = v;
    if (f.type === 'timestamp' && v instanceof Date) x = v.getTime();
    if (typeof x === 'string' && /^-?[0-9]{1,19}$/.test(x)) x = BigInt(x); // exact decimal text
    const what = f.type === 'i64' ? 'an i64' : 'a timestamp in ms';
    if (typeof x === 'number') {
      if (!Number.isSafeInteger(x)) {
        const why = Number.isInteger(x) ? ' beyond ±2^53, where a JavaScript number (and JSON.parse) may already have rounded it; give it as a bigint or a decimal string' : '';
        throw new BadValueError(where, position, f.name, `expected ${what} (an integer), got ${describe(v)}${why}`);
      }
      return BigInt(x);
    }
    if (typeof x === 'bigint') {
      if (x < I64_MIN || x > I64_MAX) throw new BadValueError(where, position, f.name, `${describe(v)} does not fit in 64 bits`);
      return x;
    }
    throw new BadValueError(where, position, f.name, `expected ${what}, got ${describe(v)}`);
  }

  protected grow(cap: number): void {
    this.values = grown(this.values, cap);
    this.words = new Int32Array(this.values.buffer);
  }
  protected copySource(n: number): void {
    this.values.set((this.source!.column as I64Column).values.subarray(0, n));
  }
  protected build(n: number, validity: Uint8Array | null): Column {
    return { type: this.field.type as I64Column['type'], values: this.values.slice(0, n), validity };
  }
}

class BoolBuilder extends ColumnBuilder {
  private bits = new Uint8Array(0);

  constructor(field: Field, capacity: number, source: ColumnSource | null) {
    super(field, capacity, source);
    if (!this.pass) this.grow(this.cap);
  }

  append(v: unknown, where: string, position: number, row = -1): void {
    if (this.pass) {
      if (row === this.n && (v === null || v === undefined ? this.sourceNullAt(row) : this.sourceValidAt(row) && v === bitGet((this.source!.column as BoolColumn).values, row))) {
        this.n++;
        return;
      }
      this.materialize();
    }
    if (v === null || v === undefined) return this.appendNull(v, where, position);
    if (typeof v !== 'boolean') {
      throw new BadValueError(where, position, this.field.name, `expected a boolean, got ${describe(v)}`);
    }
    if (this.n === this.cap) this.enlarge();
    const i = this.n;
    if (v) this.bits[i >>> 3]! |= 1 << (i & 7);
    this.setValid(this.n++);
  }

  protected grow(cap: number): void {
    this.bits = grown(this.bits, bitmapBytes(cap));
  }
  protected copySource(n: number): void {
    copyBits((this.source!.column as BoolColumn).values, this.bits, n);
  }
  protected override clearAt(i: number): void {
    this.bits[i >>> 3]! &= ~(1 << (i & 7));
  }
  protected build(n: number, validity: Uint8Array | null): Column {
    return { type: 'bool', values: this.bits.slice(0, bitmapBytes(n)), validity };
  }
}

class Utf8Builder extends ColumnBuilder {
  private offsets = new Int32Array(1);
  private data: Uint8Array;
  private dataLen = 0;
  private readonly strings: Utf8Reader | null;

  constructor(field: Field, capacity: number, source: ColumnSource | null) {
    super(field, capacity, source);
    this.strings = source?.strings ?? null;
    this.data = new Uint8Array(this.pass ? 0 : this.cap * 16);
    if (!this.pass) this.grow(this.cap);
  }

  /** Whether `v` is the string the input's reader returned for `row` (so its bytes are the input's). */
  private fromSource(v: unknown, row: number): boolean {
    const s = this.strings;
    return s !== null && row >= 0 && s.lastRow === row && v === s.last;
  }

  append(v: unknown, where: string, position: number, row = -1): void {
    if (this.pass) {
      if (row === this.n && (v === null || v === undefined ? this.sourceNullAt(row) : this.fromSource(v, row))) {
        this.n++;
        return;
      }
      this.materialize();
    }
    if (v === null || v === undefined) return this.appendNull(v, where, position);
    if (typeof v !== 'string') {
      throw new BadValueError(where, position, this.field.name, `expected a string, got ${describe(v)}`);
    }
    if (this.n === this.cap) this.enlarge();
    if (this.fromSource(v, row)) this.copyString(this.source!.column as Utf8Column, row);
    else this.appendString(v);
    this.setValid(this.n++);
  }

  private reserve(bytes: number): Uint8Array {
    const need = this.dataLen + bytes;
    if (need > this.data.length) {
      const d = new Uint8Array(Math.max(need, this.data.length * 2));
      d.set(this.data.subarray(0, this.dataLen));
      this.data = d;
    }
    return this.data;
  }

  private appendString(s: string): void {
    // Worst case 3 bytes per UTF-16 unit.
    const d = this.reserve(s.length * 3);
    let p = this.dataLen;
    let ascii = true;
    for (let k = 0; k < s.length; k++) {
      const c = s.charCodeAt(k);
      if (c >= 0x80) {
        ascii = false;
        break;
      }
      d[p++] = c;
    }
    if (!ascii) p = this.dataLen + Buffer.from(d.buffer, d.byteOffset, d.byteLength).write(s, this.dataLen, 'utf8');
    this.dataLen = p;
    this.offsets[this.n + 1] = p;
  }

  /** Appends row `row` of `col` as bytes (a string that came unchanged from the input). */
  private copyString(col: Utf8Column, row: number): void {
    const s = col.offsets[row]!;
    const e = col.offsets[row + 1]!;
    const d = this.reserve(e - s);
    const src = col.data;
    let p = this.dataLen;
    if (e - s < 32) for (let k = s; k < e; k++) d[p++] = src[k]!;
    else {
      d.set(src.subarray(s, e), p);
      p += e - s;
    }
    this.dataLen = p;
    this.offsets[this.n + 1] = p;
  }

  protected override nullAt(i: number): void {
    this.offsets[i + 1] = this.dataLen;
  }
  protected override clearAt(i: number): void {
    this.dataLen = this.offsets[i]!;
  }
  protected grow(cap: number): void {
    this.offsets = grown(this.offsets, cap + 1);
  }
  protected copySource(n: number): void {
    const col = this.source!.column as Utf8Column;
    const base = col.offsets[0]!;
    const bytes = col.offsets[n]! - base;
    this.reserve(bytes).set(col.data.subarray(base, base + bytes));
    for (let r = 1; r <= n; r++) this.offsets[r] = col.offsets[r]! - base;
    this.dataLen = bytes;
  }
  protected build(n: number, validity: Uint8Array | null): Column {
    return { type: 'utf8', offsets: this.offsets.slice(0, n + 1), data: this.data.slice(0, this.dataLen), validity };
  }
}

/** The builder for a field's type; `source` (same type) enables pass-through. */
export function columnBuilder(field: Field, capacity = 1024, source: ColumnSource | null = null): ColumnBuilder {
  const s = source !== null && source.column.type === field.type ? source : null;
  switch (field.type) {
    case 'i32':
    case 'f64':
      return new NumberBuilder(field, capacity, s);
    case 'i64':
    case 'timestamp':
      return new I64Builder(field, capacity, s);
    case 'bool':
      return new BoolBuilder(field, capacity, s);
    case 'utf8':
      return new Utf8Builder(field, capacity, s);
  }
}

/** Copies bits 0..n-1 of `from` into `to` (whose other bits are clear). */
function copyBits(from: Uint8Array, to: Uint8Array, n: number): void {
  const whole = n >>> 3;
  to.set(from.subarray(0, whole));
  for (let i = whole * 8; i < n; i++) if (bitGet(from, i)) to[i >>> 3]! |= 1 << (i & 7);
}

/** A copy of `a` with room for `cap` elements. */
function grown<T extends Int32Array | BigInt64Array | Float64Array | Uint8Array>(a: T, cap: number): T {
  if (a.length >= cap) return a;
  const b = new (a.constructor as new (n: number) => T)(cap);
  (b as unknown as { set(x: T): void }).set(a);
  return b;
}
