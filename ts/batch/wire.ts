/**
 * A batch as it moves between worker threads: a small FlatBuffers `BatchHeader`
 * (schema/sluice.fbs: the fields, the row count and which transferred buffer holds each
 * column's validity, values, offsets and data) and the column buffers themselves, which are
 * transferred (moved), not copied into the message. The receiver checks the header's schema
 * against the one the plan expects before it trusts the buffers.
 */

import * as flatbuffers from 'flatbuffers';
import type { Column } from './column.js';
import { RecordBatch } from './record-batch.js';
import { Schema, type Field } from './schema.js';
import { TYPE_BY_CODE, TYPE_CODE } from './type-codes.js';
import { BatchHeader, ColumnBuffers, Field as FbField } from './fb/sluice/fb.js';

/** Encodes the header; `slot` places a buffer among those sent and returns its index. */
export function encodeBatchHeader(batch: RecordBatch, slot: (view: ArrayBufferView) => number): Uint8Array {
  const b = new flatbuffers.Builder(256);
  const at = (v: ArrayBufferView | null): number => (v === null ? -1 : slot(v));
  const columns = batch.columns.map((c) => {
    const validity = at(c.validity);
    const [values, offsets, data] = c.type === 'utf8' ? [-1, at(c.offsets), at(c.data)] : [at(c.values), -1, -1];
    return ColumnBuffers.createColumnBuffers(b, validity, values, offsets, data);
  });
  const fields = batch.schema.fields.map((f) => {
    const name = b.createString(f.name);
    FbField.startField(b);
    FbField.addName(b, name);
    FbField.addType(b, TYPE_CODE[f.type]);
    FbField.addNullable(b, f.nullable);
    return FbField.endField(b);
  });
  const fv = BatchHeader.createFieldsVector(b, fields);
  const cv = BatchHeader.createColumnsVector(b, columns);
  b.finish(BatchHeader.createBatchHeader(b, fv, cv, batch.length, at(batch.eventTime)));
  return b.asUint8Array();
}

/** The batch a header and its buffers describe; fails when its schema is not `expected`. */
export function decodeBatchHeader(header: Uint8Array, buffers: readonly ArrayBuffer[], expected: Schema, where: string): RecordBatch {
  const h = BatchHeader.getRootAsBatchHeader(new flatbuffers.ByteBuffer(header));
  const fields: Field[] = [];
  for (let i = 0; i < h.fieldsLength(); i++) {
    const f = h.fields(i)!;
    fields.push({ name: f.name()!, type: TYPE_BY_CODE[f.type()]!, nullable: f.nullable() });
  }
  const schema = new Schema(fields);
  if (!schema.equals(expected)) throw new Error(`${where}: a batch arrived with the schema ${schema}, but the plan expects ${expected}`);
  const buf = (i: number): ArrayBuffer => {
    const b = buffers[i];
    if (b === undefined) throw new Error(`${where}: the batch header names buffer ${i}, but ${buffers.length} arrived`);
    return b;
  };
  const columns: Column[] = fields.map((f, k) => {
    const c = h.columns(k)!;
    const validity = c.validity() < 0 ? null : new Uint8Array(buf(c.validity()));
    switch (f.type) {
      case 'i32':
        return { type: 'i32', values: new Int32Array(buf(c.values())), validity };
      case 'i64':
      case 'timestamp':
        return { type: f.type, values: new BigInt64Array(buf(c.values())), validity };
      case 'f64':
        return { type: 'f64', values: new Float64Array(buf(c.values())), validity };
      case 'bool':
        return { type: 'bool', values: new Uint8Array(buf(c.values())), validity };
      case 'utf8':
        return { type: 'utf8', offsets: new Int32Array(buf(c.offsets())), data: new Uint8Array(buf(c.data())), validity };
    }
  });
  return new RecordBatch(expected, columns, h.length(), h.eventTime() < 0 ? null : new BigInt64Array(buf(h.eventTime())));
}
