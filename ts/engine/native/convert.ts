/** RecordBatch <-> native buffers: the columns' typed arrays in (no copy), owned typed arrays out. */

import type { Column } from '../../batch/column.js';
import { noteExactMax } from '../../batch/i64.js';
import { RecordBatch } from '../../batch/record-batch.js';
import { Schema } from '../../batch/schema.js';
import type { Lease } from '../../batch/lease.js';
import { dataType, fieldType, type BatchLayoutN, type BatchOutN, type FieldSpecN } from './binding.js';

const EMPTY = new Uint8Array(0);

/** A column buffer as the addon reads it: any of the columns' typed arrays, read as its bytes (no view made per call). */
export type TypedBuffer = Uint8Array | Int32Array | BigInt64Array | Float64Array;

/** Every buffer of every column, in schema order (validity, then values or offsets and data). */
export function batchBuffers(batch: RecordBatch): TypedBuffer[] {
  const out: TypedBuffer[] = [];
  for (const c of batch.columns) pushBuffers(out, c);
  return out;
}

/** As batchBuffers, of the columns `which` (indices into `columns`) only. */
export function columnBuffers(columns: readonly Column[], which: readonly number[]): TypedBuffer[] {
  const out: TypedBuffer[] = [];
  for (const k of which) pushBuffers(out, columns[k]!);
  return out;
}

function pushBuffers(out: TypedBuffer[], c: Column): void {
  out.push(c.validity ?? EMPTY);
  if (c.type === 'utf8') {
    out.push(c.offsets, c.data);
  } else out.push(c.values);
}

export function fieldSpecs(schema: Schema): FieldSpecN[] {
  return schema.fields.map((f) => ({ name: f.name, type: fieldType(f.type), nullable: f.nullable }));
}

export function schemaFromSpecs(fields: readonly FieldSpecN[]): Schema {
  return new Schema(fields.map((f) => ({ name: f.name, type: dataType(f.type), nullable: f.nullable ?? true })));
}

/** Rebuilds a RecordBatch from a native BatchOut, in schema order. */
export function fromBatchOut(schema: Schema, out: BatchOutN): RecordBatch {
  let u = 0;
  let i32 = 0;
  let i64 = 0;
  let f64 = 0;
  const columns: Column[] = schema.fields.map((f) => {
    const v = out.u8[u++]!;
    const validity = v.length === 0 ? null : v;
    switch (f.type) {
      case 'i32':
        return { type: 'i32', values: out.i32[i32++]!, validity };
      case 'i64':
      case 'timestamp':
        return { type: f.type, values: out.i64[i64++]!, validity };
      case 'f64':
        return { type: 'f64', values: out.f64[f64++]!, validity };
      case 'bool':
        return { type: 'bool', values: out.u8[u++]!, validity };
      case 'utf8':
        return { type: 'utf8', offsets: out.i32[i32++]!, data: out.u8[u++]!, validity };
    }
  });
  const k = out.eventTimeColumn;
  // A column equal to the event time was sent once: the batch's event time is that array.
  const eventTime = k != null ? (columns[k] as { values: BigInt64Array }).values : (out.eventTime ?? null);
  if (eventTime !== null && out.eventTimeMax != null) noteExactMax(eventTime, out.length, out.eventTimeMax);
  return new RecordBatch(schema, columns, out.length, eventTime);
}

/**
 * A batch kept natively (`layout`), copied by `write` into buffers taken from `lease`: the
 * columns are views of them, valid until the lease is released.
 */
export function intoLeased(schema: Schema, layout: BatchLayoutN, lease: Lease, write: (buffers: Uint8Array[]) => void): RecordBatch {
  const buffers = layout.bytes.map((n) => (n === 0 ? EMPTY : lease.bytes(n)));
  write(buffers);
  let b = 0;
  const next = (): Uint8Array => buffers[b++]!;
  const n = layout.length;
  const columns: Column[] = schema.fields.map((f) => {
    const v = next();
    const validity = v.length === 0 ? null : v;
    switch (f.type) {
      case 'i32': {
        const x = next();
        return { type: 'i32', values: new Int32Array(x.buffer, x.byteOffset, n), validity };
      }
      case 'i64':
      case 'timestamp': {
        const x = next();
        return { type: f.type, values: new BigInt64Array(x.buffer, x.byteOffset, n), validity };
      }
      case 'f64': {
        const x = next();
        return { type: 'f64', values: new Float64Array(x.buffer, x.byteOffset, n), validity };
      }
      case 'bool':
        return { type: 'bool', values: next(), validity };
      case 'utf8': {
        const o = next();
        return { type: 'utf8', offsets: new Int32Array(o.buffer, o.byteOffset, n + 1), data: next(), validity };
      }
    }
  });
  const k = layout.eventTimeColumn;
  let eventTime: BigInt64Array | null = null;
  if (k != null) eventTime = (columns[k] as { values: BigInt64Array }).values;
  else if (b < buffers.length) {
    const t = next();
    eventTime = new BigInt64Array(t.buffer, t.byteOffset, n);
  }
  if (eventTime !== null && layout.eventTimeMax != null) noteExactMax(eventTime, n, layout.eventTimeMax);
  return new RecordBatch(schema, columns, n, eventTime);
}
