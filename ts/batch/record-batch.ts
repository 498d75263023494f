/**
 * RecordBatch: a schema, one typed-array column per field, a row count and, once timestamps
 * are assigned, an event-time column (ms, i64). The unit that crosses every boundary: between
 * operators, into native code (as slices, without copying) and on the wire (FlatBuffers).
 */

import { Buffer } from 'node:buffer';
import { bitGet, columnBuffers, concatColumns, emptyColumn, takeColumn, type Column } from './column.js';
import { getI64, i32View, i64IsExact, inexactI64Error } from './i64.js';
import { RowReader, type Row } from './row-reader.js';
import { Schema, type SchemaSpec } from './schema.js';

export type { Row } from './row-reader.js';

export class RecordBatch {
  constructor(
    readonly schema: Schema,
    readonly columns: readonly Column[],
    readonly length: number,
    /** Event time of each row in ms, or null before timestamps are assigned. */
    readonly eventTime: BigInt64Array | null = null,
  ) {
    if (columns.length !== schema.length) {
      throw new Error(`a batch needs ${schema.length} columns for schema ${schema}, got ${columns.length}`);
    }
  }

  static empty(schema: Schema | SchemaSpec): RecordBatch {
    const s = Schema.from(schema);
    return new RecordBatch(s, s.fields.map((f) => emptyColumn(f.type)), 0, null);
  }

  /** The rows of `parts` (all of `schema`), in order; event time when every part has it. */
  static concat(schema: Schema, parts: readonly RecordBatch[]): RecordBatch {
    if (parts.length === 1) return parts[0]!;
    const lens = parts.map((p) => p.length);
    const columns = schema.fields.map((f, c) => concatColumns(f.type, parts.map((p) => p.columns[c]!), lens));
    const n = lens.reduce((a, b) => a + b, 0);
    let eventTime: BigInt64Array | null = null;
    if (parts.every((p) => p.eventTime !== null)) {
      eventTime = new BigInt64Array(n);
      let at = 0;
      for (const p of parts) {
        eventTime.set(p.eventTime!.subarray(0, p.length), at);
        at += p.length;
      }
    }
    return new RecordBatch(schema, columns, n, eventTime);
  }

  /** Rows `start..end` (copied). */
  slice(start: number, end: number): RecordBatch {
    const idx = new Int32Array(end - start);
    for (let i = 0; i < idx.length; i++) idx[i] = start + i;
    return this.take(idx, idx.length);
  }

  column(name: string): Column {
    return this.columns[this.schema.indexOf(name)]!;
  }

  withEventTime(eventTime: BigInt64Array | null): RecordBatch {
    return new RecordBatch(this.schema, this.columns, this.length, eventTime);
  }

  /** Rows `idx[0..n)`, in that order, event time included. */
  take(idx: Uint32Array | Int32Array, n: number): RecordBatch {
    let eventTime: BigInt64Array | null = null;
    if (this.eventTime !== null) {
      eventTime = (takeColumn({ type: 'timestamp', values: this.eventTime, validity: null }, idx, n) as {
        values: BigInt64Array;
      }).values;
    }
    return new RecordBatch(this.schema, this.columns.map((c) => takeColumn(c, idx, n)), n, eventTime);
  }

  /** Every buffer of every column, in schema order: what the native layer reads as slices. */
  buffers(): ArrayBufferView[] {
    const out: ArrayBufferView[] = [];
    for (const c of this.columns) for (const b of columnBuffers(c)) out.push(b);
    return out;
  }

  /** Materialises the rows as plain objects (for user functions and sinks). */
  toRecords(): Row[] {
    const read = rowReader(this);
    const out = new Array<Row>(this.length);
    for (let i = 0; i < this.length; i++) out[i] = read(i);
    return out;
  }
}

/** A column reader that returns JS values; i64 values beyond ±2^53 throw rather than round. */
export function valueReader(col: Column, fieldName: string): (i: number) => unknown {
  const validity = col.validity;
  let get: (i: number) => unknown;
  switch (col.type) {
    case 'i32':
    case 'f64': {
      const v = col.values;
      get = (i) => v[i];
      break;
    }
    case 'i64':
    case 'timestamp': {
      const v32 = i32View(col.values);
      const values = col.values;
      get = (i) => {
        if (!i64IsExact(v32, i)) throw inexactI64Error(`field '${fieldName}', row ${i}`, values[i]!);
        return getI64(v32, i);
      };
      break;
    }
    case 'bool': {
      const v = col.values;
      get = (i) => bitGet(v, i);
      break;
    }
    case 'utf8': {
      const o = col.offsets;
      const d = col.data;
      const buf = Buffer.from(d.buffer, d.byteOffset, d.byteLength);
      get = (i) => {
        const s = o[i]!;
        const e = o[i + 1]!;
        if (e - s <= 24) {
          let ascii = true;
          for (let k = s; k < e; k++) if (d[k]! >= 0x80) ascii = false;
          if (ascii) return String.fromCharCode.apply(null, d.subarray(s, e) as unknown as number[]);
        }
        return buf.toString('utf8', s, e);
      };
      break;
    }
  }
  if (validity === null) return get;
  return (i) => (bitGet(validity, i) ? get(i) : null);
}

/** Row i of `batch` as a fresh plain object (see row-reader.ts). */
export function rowReader(batch: RecordBatch): (i: number) => Row {
  const reader = new RowReader(batch.schema).reset(batch);
  return (i) => reader.record(i);
}
