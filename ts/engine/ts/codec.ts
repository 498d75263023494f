/**
 * The wire format in TypeScript: RecordBatch <-> FlatBuffers `sluice.fb.RecordBatch`
 * (schema/sluice.fbs, file identifier `SLB1`).
 *
 * Encoding builds the same objects in the same order as the Rust encoder
 * (crates/sluice-core/src/codec/mod.rs, "Layout"), so both produce identical bytes for the same
 * batch; keep the two in step. Column buffers are copied into the builder in bulk (no per-element
 * calls, no BigInt), and only as much of each buffer as `length` rows need.
 *
 * Decoding first checks the whole buffer's structure (bounds of every table, vtable and vector,
 * like the FlatBuffers verifier) and the batch's consistency (the same checks as Rust's
 * `BatchRef::validate`), so malformed input throws an Error saying what is wrong instead of
 * yielding garbage. Columns are views into `bytes` (no copy) where the vector is aligned for its
 * typed array in memory; a vector that is not (e.g. `bytes` sits at an odd byteOffset) is copied.
 * A decoded batch therefore shares memory with `bytes`: do not modify one while using the other.
 */

import * as flatbuffers from 'flatbuffers';
import { bitmapBytes, type Column } from '../../batch/column.js';
import { RecordBatch } from '../../batch/record-batch.js';
import { Schema, type DataType, type Field } from '../../batch/schema.js';
import { Column as FbColumn, Field as FbField, RecordBatch as FbRecordBatch } from '../../batch/fb/sluice/fb.js';
import { TYPE_BY_CODE, TYPE_CODE } from '../../batch/type-codes.js';
import { EngineError } from '../errors.js';

export const FILE_IDENTIFIER = 'SLB1';

/** Largest buffer FlatBuffers can address (2 GiB), as Rust's `MAX_ENCODED_SIZE`. */
export const MAX_ENCODED_SIZE = 2 ** 31;


// ---------------------------------------------------------------------------------------------
// Encoding

function byteView(v: ArrayBufferView, byteLength: number): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, byteLength);
}

/**
 * A vector of `count` elements of `size` bytes, from their little-endian bytes, laid out as the
 * generated `create…Vector` would (and as Rust's `create_vector` does): `startVector` pads so the
 * elements are aligned to `size` and the length prefix to 4; `createByteVector` then copies the
 * bytes in one go without further padding, and the length prefix it wrote (a byte count) is
 * replaced by the element count.
 */
function rawVector(b: flatbuffers.Builder, bytes: Uint8Array, size: 1 | 4 | 8, count: number): flatbuffers.Offset {
  if (size === 1) return b.createByteVector(bytes);
  b.startVector(size, count, size);
  const off = b.createByteVector(bytes);
  const bb = b.dataBuffer();
  bb.writeInt32(bb.capacity() - off, count);
  return off;
}

/** An upper bound of the encoded size (mirrors Rust's `encoded_size_hint`), a multiple of 8. */
function sizeHint(batch: RecordBatch): number {
  const n = batch.length;
  const bits = bitmapBytes(n);
  let size = 128 + 8 * (batch.columns.length + batch.schema.length);
  if (batch.eventTime !== null) size += 16 + 8 * n;
  for (const f of batch.schema.fields) size += 64 + 3 * f.name.length;
  for (const c of batch.columns) {
    size += 160;
    if (c.validity !== null) size += bits;
    switch (c.type) {
      case 'i32':
        size += 4 * n;
        break;
      case 'i64':
      case 'timestamp':
      case 'f64':
        size += 8 * n;
        break;
      case 'bool':
        size += bits;
        break;
      case 'utf8':
        size += 4 * (n + 1) + Math.max(0, c.offsets[n] ?? 0);
        break;
    }
  }
  // A multiple of 8 keeps the builder's capacity one, so the finished bytes (its tail) start at
  // an 8-aligned byteOffset and decode without copies.
  return Math.ceil(size / 8) * 8;
}

/** Encodes a batch as a FlatBuffers `RecordBatch`. The result is a view of a fresh buffer. */
export function encodeBatch(batch: RecordBatch): Uint8Array {
  const n = batch.length;
  checkBatch(batch.schema, batch.columns, n, batch.eventTime, 'cannot encode record batch: ');
  const bits = bitmapBytes(n);
  const hint = sizeHint(batch);
  if (hint > MAX_ENCODED_SIZE) {
    throw new EngineError(
      'config',
      `cannot encode record batch: ${n} rows need up to ${hint} bytes but FlatBuffers allows ${MAX_ENCODED_SIZE}; split it into smaller batches`,
    );
  }
  const b = new flatbuffers.Builder(hint);

  const eventTime = batch.eventTime === null ? 0 : rawVector(b, byteView(batch.eventTime, 8 * n), 8, n);

  const columns: flatbuffers.Offset[] = [];
  for (const c of batch.columns) {
    const validity = c.validity !== null && bits > 0 ? b.createByteVector(c.validity.subarray(0, bits)) : 0;
    let i32 = 0;
    let i64 = 0;
    let f64 = 0;
    let bool = 0;
    let offsets = 0;
    let data = 0;
    switch (c.type) {
      case 'i32':
        i32 = rawVector(b, byteView(c.values, 4 * n), 4, n);
        break;
      case 'i64':
      case 'timestamp':
        i64 = rawVector(b, byteView(c.values, 8 * n), 8, n);
        break;
      case 'f64':
        f64 = rawVector(b, byteView(c.values, 8 * n), 8, n);
        break;
      case 'bool':
        bool = b.createByteVector(c.values.subarray(0, bits));
        break;
      case 'utf8':
        offsets = rawVector(b, byteView(c.offsets, 4 * (n + 1)), 4, n + 1);
        data = b.createByteVector(c.data.subarray(0, c.offsets[n]!));
        break;
    }
    FbColumn.startColumn(b);
    if (validity !== 0) FbColumn.addValidity(b, validity);
    if (i32 !== 0) FbColumn.addI32Values(b, i32);
    if (i64 !== 0) FbColumn.addI64Values(b, i64);
    if (f64 !== 0) FbColumn.addF64Values(b, f64);
    if (bool !== 0) FbColumn.addBoolValues(b, bool);
    if (offsets !== 0) FbColumn.addOffsets(b, offsets);
    if (data !== 0) FbColumn.addData(b, data);
    columns.push(FbColumn.endColumn(b));
  }

  const fields: flatbuffers.Offset[] = [];
  for (const f of batch.schema.fields) {
    const name = b.createString(f.name);
    FbField.startField(b);
    FbField.addName(b, name);
    FbField.addType(b, TYPE_CODE[f.type]);
    FbField.addNullable(b, f.nullable);
    fields.push(FbField.endField(b));
  }

  const fieldsVector = FbRecordBatch.createFieldsVector(b, fields);
  const columnsVector = FbRecordBatch.createColumnsVector(b, columns);
  FbRecordBatch.startRecordBatch(b);
  FbRecordBatch.addFields(b, fieldsVector);
  FbRecordBatch.addColumns(b, columnsVector);
  FbRecordBatch.addLength(b, n);
  if (eventTime !== 0) FbRecordBatch.addEventTime(b, eventTime);
  FbRecordBatch.finishRecordBatchBuffer(b, FbRecordBatch.endRecordBatch(b));
  return b.asUint8Array();
}

// ---------------------------------------------------------------------------------------------
// Decoding

/** Vtable slots (byte offsets into a vtable) of schema/sluice.fbs, as in the generated code. */
const SLOT = {
  batch: { fields: 4, columns: 6, length: 8, eventTime: 10 },
  field: { name: 4, type: 6, nullable: 8 },
  column: { validity: 4, i32Values: 6, i64Values: 8, f64Values: 10, boolValues: 12, offsets: 14, data: 16 },
} as const;

/** The value vectors of a column: name, slot, element size; the order of the Rust decoder. */
const VALUE_VECTORS = [
  ['i32_values', SLOT.column.i32Values, 4],
  ['i64_values', SLOT.column.i64Values, 8],
  ['f64_values', SLOT.column.f64Values, 8],
  ['bool_values', SLOT.column.boolValues, 1],
  ['offsets', SLOT.column.offsets, 4],
  ['data', SLOT.column.data, 1],
] as const;

/** Indexes into VALUE_VECTORS that each type needs. */
const NEEDED: Readonly<Record<DataType, readonly number[]>> = {
  i32: [0],
  i64: [1],
  timestamp: [1],
  f64: [2],
  bool: [3],
  utf8: [4, 5],
};

function malformed(detail: string): EngineError {
  return new EngineError('data', `malformed record batch: ${detail}`);
}

interface VecRef {
  /** Byte position of the first element within the buffer. */
  readonly start: number;
  readonly length: number;
}

/** Bounds-checked access to the tables and vectors of a buffer (what the verifier checks). */
class Reader {
  readonly bb: flatbuffers.ByteBuffer;
  private readonly size: number;

  constructor(readonly bytes: Uint8Array) {
    this.bb = new flatbuffers.ByteBuffer(bytes);
    this.size = bytes.length;
  }

  private inBounds(pos: number, len: number, what: string): void {
    if (!(pos >= 0 && pos + len <= this.size)) {
      throw malformed(`${what}: range [${pos}, ${pos + len}) is out of bounds of ${this.size} bytes`);
    }
  }

  private aligned(pos: number, align: number, what: string): void {
    if (pos % align !== 0) throw malformed(`${what} at position ${pos} is not aligned to ${align} bytes`);
  }

  /** Checks the table at `pos` (its offset to the vtable, the vtable, its inline size). */
  table(pos: number, what: string): void {
    this.inBounds(pos, 4, what);
    this.aligned(pos, 4, what);
    const vt = pos - this.bb.readInt32(pos);
    this.inBounds(vt, 4, `${what} vtable`);
    this.aligned(vt, 2, `${what} vtable`);
    const vtLen = this.bb.readUint16(vt);
    if (vtLen < 4 || vtLen % 2 !== 0) throw malformed(`${what} has a vtable of invalid size ${vtLen}`);
    this.inBounds(vt, vtLen, `${what} vtable`);
    this.inBounds(pos, this.bb.readUint16(vt + 2), what);
  }

  /** Position of a field of `size` bytes in a checked table, or 0 when absent. */
  field(table: number, slot: number, size: number, what: string): number {
    const o = this.bb.__offset(table, slot);
    if (o === 0) return 0;
    this.inBounds(table + o, size, what);
    this.aligned(table + o, size, what);
    return table + o;
  }

  /** The vector a table field points to, checked to lie in the buffer; null when absent. */
  vector(table: number, slot: number, elemSize: number, what: string): VecRef | null {
    const p = this.field(table, slot, 4, what);
    if (p === 0) return null;
    const v = p + this.bb.readUint32(p);
    this.inBounds(v, 4, what);
    this.aligned(v, 4, what);
    const length = this.bb.readUint32(v);
    // Elements aligned to their size, as the FlatBuffers verifier requires (and Rust's checks).
    this.aligned(v + 4, elemSize, `${what} elements`);
    this.inBounds(v + 4, length * elemSize, what);
    return { start: v + 4, length };
  }

  /** A string field: a byte vector followed by its NUL terminator, within the buffer; null when absent. */
  string(table: number, slot: number, what: string): VecRef | null {
    const v = this.vector(table, slot, 1, what);
    if (v === null) return null;
    const end = v.start + v.length;
    if (end >= this.size || this.bytes[end] !== 0) throw malformed(`${what}: string in range [${v.start}, ${end}) is missing its null terminator`);
    return v;
  }

  /** The `i`th table of a vector of tables, checked. */
  tableAt(vec: VecRef, i: number, what: string): number {
    const p = vec.start + 4 * i;
    const t = p + this.bb.readUint32(p);
    this.table(t, what);
    return t;
  }

  u8(vec: VecRef): Uint8Array {
    return this.bytes.subarray(vec.start, vec.start + vec.length);
  }

  /** A typed-array view of a vector, or a copy when the vector is misaligned in memory. */
  typed<T>(vec: VecRef, ctor: { new (buffer: ArrayBufferLike, byteOffset: number, length: number): T; BYTES_PER_ELEMENT: number }): T {
    const abs = this.bytes.byteOffset + vec.start;
    const size = ctor.BYTES_PER_ELEMENT;
    if (abs % size === 0) return new ctor(this.bytes.buffer, abs, vec.length);
    const copy = this.bytes.slice(vec.start, vec.start + vec.length * size);
    return new ctor(copy.buffer, 0, vec.length);
  }
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes a FlatBuffers `RecordBatch`; columns view `bytes` where aligned (see module docs).
 * Throws an Error saying what is wrong with malformed input.
 */
export function decodeBatch(bytes: Uint8Array): RecordBatch {
  if (bytes.length < 8) {
    throw new EngineError(
      'data',
      `not a Sluice record batch: ${bytes.length} bytes is too short (a FlatBuffer with a file identifier has at least 8)`,
    );
  }
  const r = new Reader(bytes);
  if (!FbRecordBatch.bufferHasIdentifier(r.bb)) {
    const got = String.fromCharCode(bytes[4]!, bytes[5]!, bytes[6]!, bytes[7]!);
    throw new EngineError('data', `not a Sluice record batch: file identifier is ${JSON.stringify(got)}, expected "${FILE_IDENTIFIER}"`);
  }
  const root = r.bb.readUint32(0);
  r.table(root, 'record batch');
  const rb = FbRecordBatch.getRootAsRecordBatch(r.bb);

  const fieldsVec = r.vector(root, SLOT.batch.fields, 4, 'fields');
  if (fieldsVec === null) throw malformed('missing required field `fields`');
  const columnsVec = r.vector(root, SLOT.batch.columns, 4, 'columns');
  if (columnsVec === null) throw malformed('missing required field `columns`');
  r.field(root, SLOT.batch.length, 4, 'length');
  const eventTimeVec = r.vector(root, SLOT.batch.eventTime, 8, 'event_time');
  if (fieldsVec.length !== columnsVec.length) {
    throw malformed(`${fieldsVec.length} fields but ${columnsVec.length} columns`);
  }
  const n = rb.length();
  const bits = bitmapBytes(n);

  const fields: Field[] = [];
  const names = new Set<string>();
  const fbField = new FbField();
  for (let i = 0; i < fieldsVec.length; i++) {
    const t = r.tableAt(fieldsVec, i, `field ${i}`);
    const nameVec = r.string(t, SLOT.field.name, `field ${i} name`);
    if (nameVec === null) throw malformed(`field ${i}: missing required field \`name\``);
    r.field(t, SLOT.field.type, 1, `field ${i} type`);
    r.field(t, SLOT.field.nullable, 1, `field ${i} nullable`);
    fbField.__init(t, r.bb);
    let name: string;
    try {
      name = utf8Decoder.decode(r.u8(nameVec));
    } catch {
      throw malformed(`field ${i}: name is not valid UTF-8`);
    }
    const type = TYPE_BY_CODE[fbField.type()];
    if (type === undefined) throw malformed(`field '${name}' has unknown type code ${fbField.type()}`);
    if (names.has(name)) throw malformed(`duplicate field name '${name}'`);
    names.add(name);
    fields.push({ name, type, nullable: fbField.nullable() });
  }
  const schema = new Schema(fields);

  const columns: Column[] = [];
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    const t = r.tableAt(columnsVec, i, `column '${f.name}'`);
    const what = (v: string) => `column '${f.name}' ${v}`;
    const validityVec = r.vector(t, SLOT.column.validity, 1, what('validity'));
    const vecs = VALUE_VECTORS.map(([name, slot, size]) => r.vector(t, slot, size, what(name)));
    const needed = NEEDED[f.type];
    for (const k of needed) {
      if (vecs[k] === null) throw malformed(`column '${f.name}' (${f.type}) has no ${VALUE_VECTORS[k]![0]} vector`);
    }
    for (let k = 0; k < vecs.length; k++) {
      if (vecs[k] !== null && !needed.includes(k)) {
        throw malformed(`column '${f.name}' (${f.type}) has an unexpected ${VALUE_VECTORS[k]![0]} vector`);
      }
    }
    const validity = validityVec === null || validityVec.length === 0 ? null : r.u8(validityVec);
    switch (f.type) {
      case 'i32':
        columns.push({ type: 'i32', values: r.typed(vecs[0]!, Int32Array), validity });
        break;
      case 'i64':
      case 'timestamp':
        columns.push({ type: f.type, values: r.typed(vecs[1]!, BigInt64Array), validity });
        break;
      case 'f64':
        columns.push({ type: 'f64', values: r.typed(vecs[2]!, Float64Array), validity });
        break;
      case 'bool':
        columns.push({ type: 'bool', values: r.u8(vecs[3]!), validity });
        break;
      case 'utf8':
        columns.push({ type: 'utf8', offsets: r.typed(vecs[4]!, Int32Array), data: r.u8(vecs[5]!), validity });
        break;
    }
  }
  const eventTime = eventTimeVec === null ? null : r.typed(eventTimeVec, BigInt64Array);

  checkBatch(schema, columns, n, eventTime, 'malformed record batch: ');
  checkUtf8(schema, columns, n);
  // Cut vectors longer than `n` rows need to size (views, no copies).
  return new RecordBatch(
    schema,
    columns.map((c) => cutColumn(c, n, bits)),
    n,
    eventTime === null ? null : eventTime.subarray(0, n),
  );
}

/**
 * Every utf8 value is valid UTF-8 (never replaced later): the used data is UTF-8 and each value
 * starts on a character boundary (not on a continuation byte). The same check as Rust's.
 */
function checkUtf8(schema: Schema, columns: readonly Column[], n: number): void {
  columns.forEach((c, k) => {
    if (c.type !== 'utf8') return;
    const name = schema.fields[k]!.name;
    const first = c.offsets[0]!;
    const last = c.offsets[n]!;
    const used = c.data.subarray(first, last);
    try {
      utf8Decoder.decode(used);
    } catch {
      throw malformed(`column '${name}': utf8 data is not valid UTF-8`);
    }
    for (let i = 0; i <= n; i++) {
      const o = c.offsets[i]!;
      if (o < last && (c.data[o]! & 0xc0) === 0x80) throw malformed(`column '${name}': value ${i} does not start on a UTF-8 character boundary`);
    }
  });
}

function cutColumn(c: Column, n: number, bits: number): Column {
  const validity = c.validity === null ? null : c.validity.subarray(0, bits);
  switch (c.type) {
    case 'i32':
      return { type: 'i32', values: c.values.subarray(0, n), validity };
    case 'i64':
    case 'timestamp':
      return { type: c.type, values: c.values.subarray(0, n), validity };
    case 'f64':
      return { type: 'f64', values: c.values.subarray(0, n), validity };
    case 'bool':
      return { type: 'bool', values: c.values.subarray(0, bits), validity };
    case 'utf8': {
      const offsets = c.offsets.subarray(0, n + 1);
      return { type: 'utf8', offsets, data: c.data.subarray(0, offsets[n]!), validity };
    }
  }
}

/**
 * The checks of Rust's `BatchRef::validate`: every buffer long enough for `n` rows, utf8 offsets
 * non-negative, non-decreasing and within the data. Messages match Rust's.
 */
function checkBatch(schema: Schema, columns: readonly Column[], n: number, eventTime: BigInt64Array | null, prefix: string): void {
  if (columns.length !== schema.length) {
    throw new EngineError('data', `${prefix}batch has ${columns.length} columns but its schema has ${schema.length} fields`);
  }
  const bits = bitmapBytes(n);
  for (let i = 0; i < columns.length; i++) {
    const c = columns[i]!;
    const f = schema.fields[i]!;
    if (c.type !== f.type) {
      throw new EngineError('data', `${prefix}column '${f.name}' holds ${c.type} values but the schema says ${f.type}`);
    }
    const short = (what: string, have: number, need: number) =>
      new EngineError('data', `${prefix}column '${f.name}': ${what} has ${have} entries, ${need} needed for ${n} rows`);
    if (c.validity !== null && c.validity.length < bits) throw short('validity bitmap', c.validity.length, bits);
    switch (c.type) {
      case 'i32':
      case 'i64':
      case 'timestamp':
      case 'f64':
        if (c.values.length < n) throw short('values', c.values.length, n);
        break;
      case 'bool':
        if (c.values.length < bits) throw short('values bitmap', c.values.length, bits);
        break;
      case 'utf8': {
        const o = c.offsets;
        if (o.length < n + 1) throw short('offsets', o.length, n + 1);
        let prev = o[0]!;
        if (prev < 0) throw new EngineError('data', `${prefix}column '${f.name}': negative utf8 offset`);
        for (let k = 1; k <= n; k++) {
          const x = o[k]!;
          if (x < prev) throw new EngineError('data', `${prefix}column '${f.name}': utf8 offsets decrease`);
          prev = x;
        }
        if (prev > c.data.length) throw short('utf8 data', c.data.length, prev);
        break;
      }
    }
  }
  if (eventTime !== null && eventTime.length < n) {
    throw new EngineError('data', `${prefix}event-time column has ${eventTime.length} entries, ${n} needed`);
  }
}
