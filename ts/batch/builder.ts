/**
 * Builds columns from JS values with exact type checks: a value that does not fit its field
 * is an error naming where it came from, the record position and the field.
 */

import { Buffer } from 'node:buffer';
import { bitmapBytes, type Column } from './column.js';
import { I64_MAX, I64_MIN, setI64 } from './i64.js';
import type { Field } from './schema.js';
import { Schema } from './schema.js';
import { RecordBatch } from './record-batch.js';

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

function describe(v: unknown): string {
  if (typeof v === 'string') return `string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + '…' : v)}`;
  if (typeof v === 'bigint') return `bigint ${v}`;
  if (v === null || v === undefined) return String(v);
  if (typeof v === 'object') return Array.isArray(v) ? 'an array' : 'an object';
  return `${typeof v} ${String(v)}`;
}

/** Appends values of one field; grows geometrically. */
export class ColumnBuilder {
  private n = 0;
  private cap: number;
  private i32: Int32Array | null = null;
  private i64: BigInt64Array | null = null;
  private i64v: Int32Array | null = null;
  private f64: Float64Array | null = null;
  private bits: Uint8Array | null = null;
  private offsets: Int32Array | null = null;
  private data: Uint8Array | null = null;
  private dataLen = 0;
  private validity: Uint8Array | null = null;
  private nulls = 0;

  constructor(
    readonly field: Field,
    capacity = 1024,
  ) {
    this.cap = Math.max(8, capacity);
    this.alloc(this.cap);
  }

  private alloc(cap: number): void {
    const t = this.field.type;
    if (t === 'i32') this.i32 = grow(this.i32, new Int32Array(cap));
    else if (t === 'i64' || t === 'timestamp') {
      this.i64 = grow(this.i64, new BigInt64Array(cap));
      this.i64v = new Int32Array(this.i64.buffer);
    } else if (t === 'f64') this.f64 = grow(this.f64, new Float64Array(cap));
    else if (t === 'bool') this.bits = grow(this.bits, new Uint8Array(bitmapBytes(cap)));
    else {
      this.offsets = grow(this.offsets, new Int32Array(cap + 1));
      if (this.data === null) this.data = new Uint8Array(cap * 16);
    }
    if (this.validity !== null) this.validity = grow(this.validity, new Uint8Array(bitmapBytes(cap)));
  }

  get length(): number {
    return this.n;
  }

  /** Appends `v`; `where`/`position` only feed the error message. */
  append(v: unknown, where: string, position: number): void {
    if (this.n === this.cap) {
      this.cap *= 2;
      this.alloc(this.cap);
    }
    const i = this.n;
    const f = this.field;
    if (v === null || v === undefined) {
      if (!f.nullable) {
        throw new BadValueError(where, position, f.name, `is ${v === null ? 'null' : 'missing'} but the field is not nullable; declare it as '${f.type}?' to allow nulls`);
      }
      if (this.validity === null) {
        this.validity = new Uint8Array(bitmapBytes(this.cap));
        for (let k = 0; k < i; k++) this.validity[k >>> 3]! |= 1 << (k & 7);
      }
      this.nulls++;
      if (f.type === 'utf8') this.offsets![i + 1] = this.dataLen;
      this.n++;
      return;
    }
    switch (f.type) {
      case 'i32':
        if (typeof v !== 'number' || !Number.isInteger(v) || v < -2147483648 || v > 2147483647) {
          throw new BadValueError(where, position, f.name, `expected an i32 (integer in ±2^31), got ${describe(v)}`);
        }
        this.i32![i] = v;
        break;
      case 'i64':
      case 'timestamp': {
        let x: unknown = v;
        if (f.type === 'timestamp' && v instanceof Date) x = v.getTime();
        if (typeof x === 'string' && /^-?[0-9]{1,19}$/.test(x)) x = BigInt(x); // exact decimal text
        if (typeof x === 'number') {
          if (!Number.isSafeInteger(x)) {
            const why = Number.isInteger(x)
              ? ' beyond ±2^53, where a JavaScript number (and JSON.parse) may already have rounded it; give it as a bigint or a decimal string'
              : '';
            throw new BadValueError(where, position, f.name, `expected ${f.type === 'i64' ? 'an i64' : 'a timestamp in ms'} (an integer), got ${describe(v)}${why}`);
          }
          setI64(this.i64v!, i, x);
        } else if (typeof x === 'bigint') {
          if (x < I64_MIN || x > I64_MAX) {
            throw new BadValueError(where, position, f.name, `${describe(v)} does not fit in 64 bits`);
          }
          this.i64![i] = x;
        } else {
          throw new BadValueError(where, position, f.name, `expected ${f.type === 'i64' ? 'an i64' : 'a timestamp in ms'}, got ${describe(v)}`);
        }
        break;
      }
      case 'f64':
        if (typeof v !== 'number') {
          throw new BadValueError(where, position, f.name, `expected an f64 number, got ${describe(v)}`);
        }
        this.f64![i] = v;
        break;
      case 'bool':
        if (typeof v !== 'boolean') {
          throw new BadValueError(where, position, f.name, `expected a boolean, got ${describe(v)}`);
        }
        if (v) this.bits![i >>> 3]! |= 1 << (i & 7);
        break;
      case 'utf8':
        if (typeof v !== 'string') {
          throw new BadValueError(where, position, f.name, `expected a string, got ${describe(v)}`);
        }
        this.appendString(v);
        break;
    }
    if (this.validity !== null) this.validity[i >>> 3]! |= 1 << (i & 7);
    this.n++;
  }

  /** Removes the last appended value (so a record that fails half-way leaves no trace). */
  rollbackLast(): void {
    if (this.n === 0) return;
    const i = --this.n;
    const mask = ~(1 << (i & 7));
    if (this.validity !== null) {
      if ((this.validity[i >>> 3]! & (1 << (i & 7))) === 0) this.nulls--;
      this.validity[i >>> 3]! &= mask;
    }
    if (this.bits !== null) this.bits[i >>> 3]! &= mask;
    if (this.offsets !== null) this.dataLen = this.offsets[i]!;
  }

  private appendString(s: string): void {
    // Worst case 3 bytes per UTF-16 unit.
    const need = this.dataLen + s.length * 3;
    if (need > this.data!.length) {
      const d = new Uint8Array(Math.max(need, this.data!.length * 2));
      d.set(this.data!.subarray(0, this.dataLen));
      this.data = d;
    }
    const d = this.data!;
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
    if (!ascii) {
      p = this.dataLen + Buffer.from(d.buffer, d.byteOffset, d.byteLength).write(s, this.dataLen, 'utf8');
    }
    this.dataLen = p;
    this.offsets![this.n + 1] = p;
  }

  finish(): Column {
    const n = this.n;
    const validity = this.nulls > 0 ? this.validity!.slice(0, bitmapBytes(n)) : null;
    switch (this.field.type) {
      case 'i32':
        return { type: 'i32', values: this.i32!.slice(0, n), validity };
      case 'i64':
      case 'timestamp':
        return { type: this.field.type, values: this.i64!.slice(0, n), validity };
      case 'f64':
        return { type: 'f64', values: this.f64!.slice(0, n), validity };
      case 'bool':
        return { type: 'bool', values: this.bits!.slice(0, bitmapBytes(n)), validity };
      case 'utf8':
        return { type: 'utf8', offsets: this.offsets!.slice(0, n + 1), data: this.data!.slice(0, this.dataLen), validity };
    }
  }
}

function grow<T extends Int32Array | BigInt64Array | Float64Array | Uint8Array>(old: T | null, fresh: T): T {
  if (old !== null) (fresh as unknown as { set(a: T): void }).set(old);
  return fresh;
}

/** Builds batches from plain records of a schema. */
export class BatchBuilder {
  private readonly cols: ColumnBuilder[];
  private readonly names: string[];
  private times: number[] | null = null;

  constructor(
    readonly schema: Schema,
    capacity = 1024,
  ) {
    this.cols = schema.fields.map((f) => new ColumnBuilder(f, capacity));
    this.names = schema.names();
  }

  get length(): number {
    return this.cols.length === 0 ? 0 : this.cols[0]!.length;
  }

  append(record: unknown, where: string, position: number, eventTime?: number): void {
    if (record === null || typeof record !== 'object') {
      throw new BadValueError(where, position, this.names[0] ?? '', `expected a record object, got ${describe(record)}`);
    }
    const r = record as Record<string, unknown>;
    for (let k = 0; k < this.cols.length; k++) {
      try {
        this.cols[k]!.append(r[this.names[k]!], where, position);
      } catch (e) {
        for (let j = 0; j < k; j++) this.cols[j]!.rollbackLast();
        throw e;
      }
    }
    if (eventTime !== undefined) (this.times ??= []).push(eventTime);
  }

  finish(): RecordBatch {
    const n = this.length;
    let et: BigInt64Array | null = null;
    if (this.times !== null) {
      et = new BigInt64Array(n);
      const v = new Int32Array(et.buffer);
      for (let i = 0; i < n; i++) setI64(v, i, this.times[i]!);
    }
    return new RecordBatch(this.schema, this.cols.map((c) => c.finish()), n, et);
  }
}

/** One batch from records (tests, `fromRecords`). */
export function batchFromRecords(records: readonly unknown[], schema: Schema, where = 'records', firstPosition = 0): RecordBatch {
  const b = new BatchBuilder(schema, records.length);
  for (let i = 0; i < records.length; i++) b.append(records[i], where, firstPosition + i);
  return b.finish();
}
